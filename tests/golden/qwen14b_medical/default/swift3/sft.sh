# qwen14b_medical: stage sft (swift sft, ms-swift 3.x)
# re-run: swiftpipe run recipes/qwen14b_medical.py --stage sft
CUDA_VISIBLE_DEVICES=1,2 \
swift sft \
    --model '<merge_pretrain.merged>' \
    --dataset /your/data/path/sft_data/chosen_swift_sft_train_dataset.jsonl /your/data/path/sft_data/sft_data_zh_train_for_swift.jsonl /your/data/path/sft_data/sft_data_en_train_for_swift.jsonl /your/data/path/sft_data/DISC-Med-SFT_released_swift_train.jsonl \
    --val_dataset /your/data/path/sft_data/chosen_swift_sft_test_dataset.jsonl /your/data/path/sft_data/sft_data_zh_eval_for_swift.jsonl /your/data/path/sft_data/sft_data_en_eval_for_swift.jsonl /your/data/path/sft_data/DISC-Med-SFT_released_swift_eval.jsonl \
    --eval_steps 50 \
    --per_device_train_batch_size 8 \
    --logging_steps 20 \
    --num_train_epochs 5 \
    --learning_rate 1e-4 \
    --save_total_limit 3 \
    --output_dir output
