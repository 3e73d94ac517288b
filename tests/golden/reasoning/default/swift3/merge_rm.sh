# reasoning: stage merge_rm (swift export, ms-swift 3.x)
# re-run: swiftpipe run recipes/reasoning.py --stage merge_rm
swift export \
    --ckpt_dir '<rm.last_checkpoint>' \
    --merge_lora true
