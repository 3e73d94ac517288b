# medical: stage merge (swift export, ms-swift 3.x)
# re-run: swiftpipe run recipes/medical.py --set pretrain.gradient_accumulation_steps=1 --gpus 0,1,2,3,4,5,6,7 --nodes 2 --node-rank 1 --master-addr 10.0.0.5 --stage merge
CUDA_VISIBLE_DEVICES=0,1,2,3,4,5,6,7 \
swift export \
    --ckpt_dir '<sft.last_checkpoint>' \
    --merge_lora true
