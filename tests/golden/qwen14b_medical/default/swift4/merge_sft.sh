# qwen14b_medical: stage merge_sft (swift export, ms-swift 4.x)
# re-run: swiftpipe run recipes/qwen14b_medical.py --stage merge_sft
swift export \
    --model '<merge_pretrain.merged>' \
    --adapters '<sft.best_checkpoint>' \
    --merge_lora true
