# medical: stage sft (swift sft, ms-swift 3.x)
# re-run: swiftpipe run recipes/medical.py -p sft=lisa --stage sft
CUDA_VISIBLE_DEVICES=0,1 \
swift sft \
    --model '<pretrain.last_checkpoint>' \
    --train_type full \
    --lisa_activated_layers 2 \
    --lisa_step_interval 20 \
    --dataset data/qizen-gpt-sample-sft-20k/qizhen-gpt-sft-20k.json \
    --torch_dtype bfloat16 \
    --num_train_epochs 2 \
    --per_device_train_batch_size 2 \
    --per_device_eval_batch_size 2 \
    --learning_rate 1e-5 \
    --target_modules all-linear \
    --gradient_accumulation_steps 16 \
    --eval_steps 100 \
    --save_steps 100 \
    --weight_decay 0.01 \
    --save_total_limit 2 \
    --logging_steps 5 \
    --max_length 4096 \
    --output_dir output/sft_lisa \
    --max_grad_norm 0.5 \
    --warmup_ratio 0.03 \
    --dataloader_num_workers 4
