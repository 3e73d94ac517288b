# reasoning: stage merge_rm (swift export, ms-swift 4.x)
# re-run: swiftpipe run recipes/reasoning.py --stage merge_rm
swift export \
    --adapters '<rm.last_checkpoint>' \
    --merge_lora true
