# medical: stage eval_cmb_base (swift eval, ms-swift 3.x)
# re-run: swiftpipe run recipes/medical.py -p sft=full --stage eval_cmb_base
CUDA_VISIBLE_DEVICES=0 \
swift eval \
    --model Qwen/Qwen2.5-1.5B \
    --eval_backend OpenCompass \
    --infer_backend pt \
    --temperature 0 \
    --eval_dataset cmb
