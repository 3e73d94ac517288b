# demo: stage compare_base (swift infer, ms-swift 3.x)
# re-run: swiftpipe run recipes/demo.py --stage compare_base
swift infer \
    --model work/tiny-qwen2-swift3 \
    --infer_backend pt \
    --use_chat_template true \
    --stream false \
    --temperature 0 \
    --max_new_tokens 24 \
    --max_batch_size 4 \
    --val_dataset datasets/medical_questions_sample.jsonl \
    --model_type qwen2 \
    --template qwen2_5 \
    --metric rouge
