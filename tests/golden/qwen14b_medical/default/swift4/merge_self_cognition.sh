# qwen14b_medical: stage merge_self_cognition (swift export, ms-swift 4.x)
# re-run: swiftpipe run recipes/qwen14b_medical.py --stage merge_self_cognition
swift export \
    --adapters '<self_cognition.best_checkpoint>' \
    --merge_lora true
