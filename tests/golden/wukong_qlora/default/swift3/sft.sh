# wukong_qlora: stage sft (swift sft, ms-swift 3.x)
# re-run: swiftpipe run recipes/wukong_qlora.py --stage sft
swift sft \
    --model '<merge_pretrain.merged>' \
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
    --dataset /root/wulewule/data/self_cognition_100.jsonl /root/wulewule/data/huixiangdou_conversations.jsonl \
    --template internlm2 \
    --system '你是悟了悟了，由xzyun2011开发的AI助手，专注于回答和《黑神话：悟空》这款游戏相关的问题，你想帮助玩家了解更多这款游戏背后的故事和文化知识。
' \
    --output_dir ./finetune \
    --deepspeed zero1
