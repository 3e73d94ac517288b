# wukong_qlora: stage pretrain (swift pt, ms-swift 3.x)
# re-run: swiftpipe run recipes/wukong_qlora.py --stage pretrain
swift pt \
    --model /root/models/internlm2_5-1_8b-chat \
    --train_type lora \
    --torch_dtype float16 \
    --quant_method bnb \
    --quant_bits 4 \
    --bnb_4bit_quant_type nf4 \
    --bnb_4bit_use_double_quant true \
    --bnb_4bit_compute_dtype float16 \
    --lora_rank 64 \
    --lora_alpha 128 \
    --lora_dropout 0.1 \
    --max_length 2048 \
    --per_device_train_batch_size 1 \
    --gradient_accumulation_steps 1 \
    --dataloader_num_workers 0 \
    --num_train_epochs 3 \
    --learning_rate 2e-5 \
    --weight_decay 0 \
    --max_grad_norm 1 \
    --warmup_ratio 0.03 \
    --save_steps 500 \
    --save_total_limit 2 \
    --dataset /root/wulewule/data/heishenghua_pretraining.jsonl \
    --output_dir ./pretrain \
    --deepspeed zero1
