# demo: stage merge (swift export, ms-swift 4.x)
# re-run: swiftpipe run recipes/demo.py --stage merge
swift export \
    --adapters '<sft.last_checkpoint>' \
    --merge_lora true
