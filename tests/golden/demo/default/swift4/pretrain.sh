# demo: stage pretrain (swift pt, ms-swift 4.x)
# re-run: swiftpipe run recipes/demo.py --stage pretrain
swift pt \
    --model work/tiny-qwen2-swift3 \
    --tuner_type full \
    --dataset datasets/medical_pretrain_sample.jsonl \
    --learning_rate 5e-3 \
    --output_dir work/demo-swift3/pretrain \
    --model_type qwen2 \
    --template qwen2_5 \
    --torch_dtype float32 \
    --max_length 128 \
    --per_device_train_batch_size 4 \
    --gradient_accumulation_steps 1 \
    --num_train_epochs 30 \
    --logging_steps 2 \
    --save_steps 40 \
    --dataloader_num_workers 0 \
    --report_to none \
    --check_model false
