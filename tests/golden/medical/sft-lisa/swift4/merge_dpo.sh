# medical: stage merge_dpo (swift export, ms-swift 4.x)
# re-run: swiftpipe run recipes/medical.py -p sft=lisa --stage merge_dpo
CUDA_VISIBLE_DEVICES=0 \
swift export \
    --adapters '<dpo.last_checkpoint>' \
    --merge_lora true
