# wukong_qlora: stage merge (swift export, ms-swift 3.x)
# re-run: swiftpipe run recipes/wukong_qlora.py --stage merge
MKL_SERVICE_FORCE_INTEL=1 \
MKL_THREADING_LAYER=GNU \
swift export \
    --adapters '<sft.last_checkpoint>' \
    --output_dir /root/wulewule/models/wulewule_v1_1_8b \
    --max_shard_size 2GB \
    --merge_lora true
