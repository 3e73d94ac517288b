# medical: stage dpo (swift rlhf, ms-swift 3.x)
# re-run: swiftpipe run recipes/medical.py --set pretrain.gradient_accumulation_steps=1 --gpus 0,1,2,3,4,5,6,7 --nodes 2 --node-rank 1 --master-addr 10.0.0.5 --stage dpo
NPROC_PER_NODE=8 \
NNODES=2 \
NODE_RANK=1 \
MASTER_ADDR=10.0.0.5 \
CUDA_VISIBLE_DEVICES=0,1,2,3,4,5,6,7 \
swift rlhf \
    --rlhf_type dpo \
    --model '<merge.merged>' \
    --train_type lora \
    --dataset data/reward/train.json \
    --columns '{"response_chosen": "response", "response_rejected": "rejected_response"}' \
    --split_dataset_ratio 0.01 \
    --torch_dtype bfloat16 \
    --num_train_epochs 1 \
    --per_device_train_batch_size 1 \
    --per_device_eval_batch_size 1 \
    --learning_rate 1e-4 \
    --lora_rank 8 \
    --lora_alpha 32 \
    --target_modules all-linear \
    --gradient_accumulation_steps 16 \
    --eval_steps 100 \
    --save_steps 100 \
    --save_total_limit 2 \
    --logging_steps 5 \
    --max_length 2048 \
    --output_dir output/dpo_lora \
    --warmup_ratio 0.05 \
    --dataloader_num_workers 4 \
    --dataset_num_proc 4
