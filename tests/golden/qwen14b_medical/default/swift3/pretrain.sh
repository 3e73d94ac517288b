# qwen14b_medical: stage pretrain (swift sft, ms-swift 3.x)
# re-run: swiftpipe run recipes/qwen14b_medical.py --stage pretrain
CUDA_VISIBLE_DEVICES=1,2 \
swift sft \
    --model /your/model/path/Qwen/Qwen-14B-Chat \
    --dataset /your/data/path/pt_data/pubmed_swift.jsonl /your/data/path/pt_data/clinical_trial_swift.jsonl /your/data/path/pt_data/chosenmed_swift_pt.jsonl /your/data/path/pt_data/zysj_swift_pt.jsonl \
    --eval_steps 50 \
    --per_device_train_batch_size 8 \
    --logging_steps 20 \
    --num_train_epochs 5 \
    --split_dataset_ratio 0.05 \
    --max_length 5000 \
    --learning_rate 1e-4 \
    --output_dir output \
    --target_modules all-linear
