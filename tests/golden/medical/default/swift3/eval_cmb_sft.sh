# medical: stage eval_cmb_sft (swift eval, ms-swift 3.x)
# re-run: swiftpipe run recipes/medical.py --stage eval_cmb_sft
CUDA_VISIBLE_DEVICES=0 \
swift eval \
    --model '<merge.merged>' \
    --eval_backend OpenCompass \
    --infer_backend pt \
    --temperature 0 \
    --eval_dataset cmb
