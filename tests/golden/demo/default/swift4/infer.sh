# demo: stage infer (swift infer, ms-swift 4.x)
# re-run: swiftpipe run recipes/demo.py --stage infer
swift infer \
    --model '<merge_dpo.merged>' \
    --val_dataset datasets/medical_questions_sample.jsonl \
    --max_new_tokens 24 \
    --infer_backend transformers \
    --stream false
