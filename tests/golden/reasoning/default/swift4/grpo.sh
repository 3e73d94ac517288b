# reasoning: stage grpo (swift rlhf, ms-swift 4.x)
# re-run: swiftpipe run recipes/reasoning.py --stage grpo
swift rlhf \
    --rlhf_type grpo \
    --model '<sft.last_checkpoint>' \
    --tuner_type lora \
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
    --dataset datasets/arithmetic_prompts_sample.jsonl \
    --reward_funcs closeness exact \
    --external_plugins recipes/plugins/arithmetic_rewards.py \
    --num_generations 4 \
    --max_completion_length 4 \
    --temperature 1.0 \
    --use_vllm false \
    --max_steps 8 \
    --output_dir work/reasoning-swift3/grpo
