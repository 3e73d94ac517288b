# swiftpipe render recipes/qwen14b_medical.py                # the commands, for the installed ms-swift
# swiftpipe render recipes/qwen14b_medical.py --swift-version 4
# swiftpipe run recipes/qwen14b_medical.py -p name_zh=小医 -p name_en=XiaoYi -p author_zh=某团队 -p author_en=ATeam
#     pretrain -> merge_pretrain -> sft -> merge_sft -> self_cognition -> merge_self_cognition -> app
"""Qwen-14B-Chat medical adaptation from the ms-swift 2.x Python-API tutorial (seed 003), on ms-swift 3 and 4.

Made with `swiftpipe import` from the tutorial's four Python scripts and three `swift merge-lora` lines, then
tidied: stage names, the data folders as parameters, and the self-cognition names as parameters. What the import
translated from 2.x (each checked against ms-swift's own parsers in the tests):
- `sft_main(SftArguments(...))` -> `swift sft`; `swift merge-lora` -> `swift export --merge_lora true`;
  `app_ui_main(AppUIArguments(...))` -> `swift app`, a server that no batch run waits on.
- model_cache_dir -> model; custom_train/val_dataset_path -> dataset/val_dataset; batch_size ->
  per_device_train_batch_size; dataset_test_ratio -> split_dataset_ratio; lora_target_modules ALL -> all-linear;
  train_dataset_sample 1000 -> `#1000` on each dataset (2.x sampled 1000 from them all);
  self_cognition_sample 1000 -> the swift/self-cognition#1000 dataset; 2.x dataset names alpaca-zh/en -> hub ids.
- Dropped: model_type qwen-14b-chat (a 2.x model id; 3/4 read the type from the model), train/val_dataset_sample
  -1 and max_length -1 (3/4's defaults), eval_human (2.x's web UI switch).
- Hand-offs: the pasted `v27-20240204-073736/checkpoint-1550` paths, `best_model_checkpoint` and its `-merged`
  folder become references to the stage that produced them.
The tutorial's first script is its continued pretraining, run as `sft_main` on plain-text files; it stays `swift sft`
(as the tutorial ran it), named pretrain here.
"""
from __future__ import annotations

from swiftpipe import Launch, checkpoint, make_recipe, merge, merged, sft, stage

TRAIN = Launch(cuda_visible_devices="1,2")  # os.environ['CUDA_VISIBLE_DEVICES'] = '1,2'


def recipe(
    model: str = "/your/model/path/Qwen/Qwen-14B-Chat",
    pt_data: str = "/your/data/path/pt_data",
    sft_data: str = "/your/data/path/sft_data",
    name_zh: str = "<中文名称>",
    name_en: str = "<英文名称>",
    author_zh: str = "<中文名称>",
    author_en: str = "<英文名称>",
):
    pt_files = ["pubmed_swift.jsonl", "clinical_trial_swift.jsonl", "chosenmed_swift_pt.jsonl", "zysj_swift_pt.jsonl"]
    sft_sets = ["chosen_swift_sft_{}_dataset.jsonl", "sft_data_zh_{}_for_swift.jsonl", "sft_data_en_{}_for_swift.jsonl",
                "DISC-Med-SFT_released_swift_{}.jsonl"]
    stages = [
        sft("pretrain", {
            "model": model,
            "dataset": [f"{pt_data}/{name}" for name in pt_files],
            "eval_steps": 50,
            "per_device_train_batch_size": 8,
            "logging_steps": 20,
            "num_train_epochs": 5,
            "split_dataset_ratio": 0.05,
            "max_length": 5000,
            "learning_rate": 1e-4,
            "output_dir": "output",
            "target_modules": "all-linear",
        }, launch=TRAIN),
        merge("merge_pretrain", {"model": model, "ckpt_dir": checkpoint("pretrain")}),
        sft("sft", {
            "model": merged("merge_pretrain"),
            "dataset": [f"{sft_data}/{name.format('train')}" for name in sft_sets],
            # the tutorial's test and eval files
            "val_dataset": [f"{sft_data}/{name.format('test' if i == 0 else 'eval')}"
                            for i, name in enumerate(sft_sets)],
            "eval_steps": 50,
            "per_device_train_batch_size": 8,
            "logging_steps": 20,
            "num_train_epochs": 5,
            "learning_rate": 1e-4,
            "save_total_limit": 3,
            "output_dir": "output",
        }, launch=TRAIN),
        merge("merge_sft", {"model": merged("merge_pretrain"), "ckpt_dir": checkpoint("sft", which="best")}),
        sft("self_cognition", {
            "model": merged("merge_sft"),
            "dataset": ["AI-ModelScope/alpaca-gpt4-data-zh#1000", "AI-ModelScope/alpaca-gpt4-data-en#1000",
                        "swift/self-cognition#1000"],
            "eval_steps": 50,
            "logging_steps": 5,
            "num_train_epochs": 5,
            "max_length": 5000,
            "learning_rate": 1e-4,
            "save_total_limit": 3,
            "output_dir": "output",
            "target_modules": "all-linear",
            "model_name": [name_zh, name_en],
            "model_author": [author_zh, author_en],
        }, launch=TRAIN),
        merge("merge_self_cognition", {"ckpt_dir": checkpoint("self_cognition", which="best")}),
        stage("app", "app", {
            "ckpt_dir": merged("merge_self_cognition"),
            "server_name": "0.0.0.0",
            "server_port": 9101,
        }, launch=Launch(cuda_visible_devices="2")),
    ]
    return make_recipe("qwen14b_medical", stages, description=__doc__.splitlines()[0])
