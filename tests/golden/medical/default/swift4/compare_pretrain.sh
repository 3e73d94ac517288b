# medical: stage compare_pretrain (swift infer, ms-swift 4.x)
# re-run: swiftpipe run recipes/medical.py --stage compare_pretrain
CUDA_VISIBLE_DEVICES=0 \
swift infer \
    --model '<pretrain.last_checkpoint>' \
    --infer_backend transformers \
    --use_chat_template true \
    --stream false \
    --temperature 0 \
    --max_new_tokens 64 \
    --max_batch_size 4 \
    --val_dataset datasets/medical_questions_sample.jsonl \
    --metric rouge
