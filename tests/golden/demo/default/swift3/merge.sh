# demo: stage merge (swift export, ms-swift 3.x)
# re-run: swiftpipe run recipes/demo.py --stage merge
swift export \
    --ckpt_dir '<sft.last_checkpoint>' \
    --merge_lora true
