# lora_pretrain: stage pretrain (swift pt, ms-swift 4.x)
# re-run: swiftpipe run recipes/lora_pretrain.py --stage pretrain
swift pt \
    --model Qwen/Qwen3-0.6B \
    --use_hf true \
    --tuner_type lora \
    --lora_rank 8 \
    --target_modules all-linear \
    --dataset 'data/data1.jsonl#1000' \
    --max_length 1024 \
    --dataset_num_proc 16 \
    --dataloader_num_workers 4 \
    --output_dir saves/Qwen/lora/pretrain \
    --logging_steps 10 \
    --save_steps 500 \
    --save_only_model false \
    --report_to none \
    --per_device_train_batch_size 1 \
    --gradient_accumulation_steps 8 \
    --learning_rate 1e-4 \
    --num_train_epochs 3.0 \
    --lr_scheduler_type cosine \
    --warmup_ratio 0.1 \
    --torch_dtype bfloat16 \
    --ddp_timeout 180000000
