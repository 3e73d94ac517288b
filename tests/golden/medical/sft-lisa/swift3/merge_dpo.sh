# medical: stage merge_dpo (swift export, ms-swift 3.x)
# re-run: swiftpipe run recipes/medical.py -p sft=lisa --stage merge_dpo
CUDA_VISIBLE_DEVICES=0 \
swift export \
    --ckpt_dir '<dpo.last_checkpoint>' \
    --merge_lora true
