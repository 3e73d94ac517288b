# wukong_qlora: stage chat (swift infer, ms-swift 4.x)
# re-run: swiftpipe run recipes/wukong_qlora.py --stage chat
MKL_SERVICE_FORCE_INTEL=1 \
MKL_THREADING_LAYER=GNU \
swift infer \
    --model '<merge.merged>' \
    --template internlm2 \
    --system 'your system'
