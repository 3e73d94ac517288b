# demo: stage merge_dpo (swift export, ms-swift 4.x)
# re-run: swiftpipe run recipes/demo.py --stage merge_dpo
swift export \
    --adapters '<dpo.last_checkpoint>' \
    --merge_lora true
