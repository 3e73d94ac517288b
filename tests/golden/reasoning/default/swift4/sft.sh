# reasoning: stage sft (swift sft, ms-swift 4.x)
# re-run: swiftpipe run recipes/reasoning.py --stage sft
swift sft \
    --model work/tiny-qwen2-swift3 \
    --tuner_type full \
    --dataset datasets/arithmetic_sft_sample.jsonl \
    --learning_rate 5e-3 \
    --output_dir work/reasoning-swift3/sft \
    --model_type qwen2 \
    --template qwen2_5 \
    --torch_dtype float32 \
    --max_length 128 \
    --per_device_train_batch_size 4 \
    --gradient_accumulation_steps 1 \
    --logging_steps 5 \
    --dataloader_num_workers 0 \
    --report_to none \
    --check_model false \
    --num_train_epochs 10 \
    --save_steps 1000
