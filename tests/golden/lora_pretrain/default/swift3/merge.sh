# lora_pretrain: stage merge (swift export, ms-swift 3.x)
# re-run: swiftpipe run recipes/lora_pretrain.py --stage merge
swift export \
    --adapters '<pretrain.last_checkpoint>' \
    --merge_lora true
