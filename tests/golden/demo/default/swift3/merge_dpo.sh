# demo: stage merge_dpo (swift export, ms-swift 3.x)
# re-run: swiftpipe run recipes/demo.py --stage merge_dpo
swift export \
    --ckpt_dir '<dpo.last_checkpoint>' \
    --merge_lora true
