# qwen14b_medical: stage app (swift app, ms-swift 3.x)
# re-run: swiftpipe run recipes/qwen14b_medical.py --stage app
CUDA_VISIBLE_DEVICES=2 \
swift app \
    --ckpt_dir '<merge_self_cognition.merged>' \
    --server_name 0.0.0.0 \
    --server_port 9101
