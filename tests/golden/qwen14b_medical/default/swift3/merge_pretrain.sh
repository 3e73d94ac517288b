# qwen14b_medical: stage merge_pretrain (swift export, ms-swift 3.x)
# re-run: swiftpipe run recipes/qwen14b_medical.py --stage merge_pretrain
swift export \
    --model /your/model/path/Qwen/Qwen-14B-Chat \
    --ckpt_dir '<pretrain.last_checkpoint>' \
    --merge_lora true
