# medical: stage merge (swift export, ms-swift 3.x)
# re-run: swiftpipe run recipes/medical.py --stage merge
CUDA_VISIBLE_DEVICES=0 \
swift export \
    --ckpt_dir '<sft.last_checkpoint>' \
    --merge_lora true
