# medical: stage infer (swift infer, ms-swift 4.x)
# re-run: swiftpipe run recipes/medical.py --stage infer
CUDA_VISIBLE_DEVICES=0 \
swift infer \
    --stream true \
    --model '<merge_dpo.merged>'
