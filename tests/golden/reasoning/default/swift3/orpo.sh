# reasoning: stage orpo (swift rlhf, ms-swift 3.x)
# re-run: swiftpipe run recipes/reasoning.py --stage orpo
swift rlhf \
    --rlhf_type orpo \
    --model '<sft.last_checkpoint>' \
    --train_type lora \
    --learning_rate 1e-3 \
    --model_type qwen2 \
    --template qwen2_5 \
    --torch_dtype float32 \
    --max_length 128 \
    --per_device_train_batch_size 4 \
    --gradient_accumulation_steps 1 \
    --logging_steps 1 \
    --dataloader_num_workers 0 \
    --report_to none \
    --check_model false \
    --dataset datasets/arithmetic_pairs_sample.jsonl \
    --max_steps 8 \
    --output_dir work/reasoning-swift3/orpo
