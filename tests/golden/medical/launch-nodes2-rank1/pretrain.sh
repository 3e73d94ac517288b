# medical: stage pretrain (swift pt, ms-swift 3.x)
# re-run: swiftpipe run recipes/medical.py --set pretrain.gradient_accumulation_steps=1 --gpus 0,1,2,3,4,5,6,7 --nodes 2 --node-rank 1 --master-addr 10.0.0.5 --stage pretrain
NPROC_PER_NODE=8 \
NNODES=2 \
NODE_RANK=1 \
MASTER_ADDR=10.0.0.5 \
MASTER_PORT=29500 \
CUDA_VISIBLE_DEVICES=0,1,2,3,4,5,6,7 \
swift pt \
    --model Qwen/Qwen2.5-1.5B \
    --num_train_epochs 1 \
    --train_type full \
    --tuner_backend peft \
    --output_dir output/pretrain \
    --dataset data/pre/medical_book_zh.json \
    --max_length 4096 \
    --gradient_checkpointing true \
    --per_device_train_batch_size 1 \
    --per_device_eval_batch_size 1 \
    --weight_decay 0.01 \
    --learning_rate 1e-5 \
    --gradient_accumulation_steps 1 \
    --max_grad_norm 0.5 \
    --warmup_ratio 0.03 \
    --eval_steps 500 \
    --save_steps 100 \
    --save_total_limit 3 \
    --logging_steps 10 \
    --save_only_model true \
    --lazy_tokenize true
