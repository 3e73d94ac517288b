# wukong_qlora: stage merge_pretrain (swift export, ms-swift 4.x)
# re-run: swiftpipe run recipes/wukong_qlora.py --stage merge_pretrain
MKL_SERVICE_FORCE_INTEL=1 \
MKL_THREADING_LAYER=GNU \
swift export \
    --adapters '<pretrain.last_checkpoint>' \
    --output_dir pretrain/merged_internlm2_5-1_8b-chat_pretrain \
    --merge_lora true
