# medical: stage eval_base (swift eval, ms-swift 3.x)
# re-run: swiftpipe run recipes/medical.py --stage eval_base
CUDA_VISIBLE_DEVICES=0 \
swift eval \
    --model Qwen/Qwen2.5-1.5B \
    --eval_backend Native \
    --infer_backend pt \
    --temperature 0 \
    --eval_dataset ceval cmmlu general_qa \
    --eval_dataset_args '{"general_qa": {"local_path": "datasets", "subset_list": ["medical_questions_sample"], "metric_list": ["Rouge"], "prompt_template": "{question}"}}'
