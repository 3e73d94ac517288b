# swiftpipe render recipes/lora_pretrain.py                  # the commands, for the installed ms-swift
# swiftpipe render recipes/lora_pretrain.py --swift-version 4
# swiftpipe run recipes/lora_pretrain.py -p dataset=data/data1.jsonl    # pretrain -> merge
"""LoRA continued pretraining of Qwen3-0.6B, from the LLaMA-Factory tutorial (seed 001), on ms-swift.

Made with `swiftpipe import llama3_lora_pretrain.yaml` (the tutorial's config; its dataset_info.json names data1 as
`data/data1.jsonl` with a `text` column, which ms-swift reads as it is), then tidied: the data file is a parameter,
and a merge stage folds the LoRA weights back into the model, which the tutorial leaves to a later chapter.
Keys the import dropped, each with its reason: trust_remote_code, do_train, overwrite_cache, plot_loss,
overwrite_output_dir (ms-swift versions its output folders), resume_from_checkpoint (`swiftpipe run --resume`).
"""
from __future__ import annotations

from swiftpipe import checkpoint, make_recipe, merge, pretrain


def recipe(
    model: str = "Qwen/Qwen3-0.6B",
    dataset: str = "data/data1.jsonl",
    max_samples: int = 1000,
    output: str = "saves/Qwen/lora/pretrain",
):
    stages = [
        pretrain("pretrain", {
            "model": model,
            "use_hf": True,  # LLaMA-Factory downloads from the Hugging Face Hub
            "train_type": "lora",
            "lora_rank": 8,
            "target_modules": "all-linear",  # lora_target: all
            "dataset": f"{dataset}#{max_samples}",  # max_samples: 1000
            "max_length": 1024,  # cutoff_len
            "dataset_num_proc": 16,  # preprocessing_num_workers
            "dataloader_num_workers": 4,
            "output_dir": output,
            "logging_steps": 10,
            "save_steps": 500,
            "save_only_model": False,
            "report_to": "none",
            "per_device_train_batch_size": 1,
            "gradient_accumulation_steps": 8,
            "learning_rate": 1e-4,
            "num_train_epochs": 3.0,
            "lr_scheduler_type": "cosine",
            "warmup_ratio": 0.1,
            "torch_dtype": "bfloat16",  # bf16: true
            "ddp_timeout": 180000000,
        }),
        merge("merge", {"adapters": checkpoint("pretrain")}),
    ]
    return make_recipe("lora_pretrain", stages, description=__doc__.splitlines()[0])
