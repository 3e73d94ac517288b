# demo: stage dpo (swift rlhf, ms-swift 3.x)
# re-run: swiftpipe run recipes/demo.py --stage dpo
swift rlhf \
    --rlhf_type dpo \
    --model '<merge.merged>' \
    --train_type lora \
    --dataset datasets/medical_dpo_sample.jsonl \
    --learning_rate 1e-3 \
    --output_dir work/demo-swift3/dpo \
    --model_type qwen2 \
    --template qwen2_5 \
    --torch_dtype float32 \
    --max_length 128 \
    --per_device_train_batch_size 4 \
    --gradient_accumulation_steps 1 \
    --num_train_epochs 8 \
    --logging_steps 2 \
    --save_steps 40 \
    --dataloader_num_workers 0 \
    --report_to none \
    --check_model false
