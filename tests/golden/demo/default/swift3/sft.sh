# demo: stage sft (swift sft, ms-swift 3.x)
# re-run: swiftpipe run recipes/demo.py --stage sft
swift sft \
    --model '<pretrain.last_checkpoint>' \
    --train_type lora \
    --dataset datasets/medical_sft_sample.jsonl \
    --learning_rate 5e-3 \
    --lora_rank 8 \
    --lora_alpha 32 \
    --output_dir work/demo-swift3/sft \
    --model_type qwen2 \
    --template qwen2_5 \
    --torch_dtype float32 \
    --max_length 128 \
    --per_device_train_batch_size 4 \
    --gradient_accumulation_steps 1 \
    --num_train_epochs 40 \
    --logging_steps 2 \
    --save_steps 40 \
    --dataloader_num_workers 0 \
    --report_to none \
    --check_model false
