# qwen14b_medical: stage app (swift app, ms-swift 4.x)
# re-run: swiftpipe run recipes/qwen14b_medical.py --stage app
CUDA_VISIBLE_DEVICES=2 \
swift app \
    --model '<merge_self_cognition.merged>' \
    --server_name 0.0.0.0 \
    --server_port 9101
