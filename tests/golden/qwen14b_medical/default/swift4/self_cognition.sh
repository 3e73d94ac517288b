# qwen14b_medical: stage self_cognition (swift sft, ms-swift 4.x)
# re-run: swiftpipe run recipes/qwen14b_medical.py --stage self_cognition
CUDA_VISIBLE_DEVICES=1,2 \
swift sft \
    --model '<merge_sft.merged>' \
    --dataset 'AI-ModelScope/alpaca-gpt4-data-zh#1000' 'AI-ModelScope/alpaca-gpt4-data-en#1000' 'swift/self-cognition#1000' \
    --eval_steps 50 \
    --logging_steps 5 \
    --num_train_epochs 5 \
    --max_length 5000 \
    --learning_rate 1e-4 \
    --save_total_limit 3 \
    --output_dir output \
    --target_modules all-linear \
    --model_name '<中文名称>' '<英文名称>' \
    --model_author '<中文名称>' '<英文名称>'
