# make demo                                   # builds the tiny model, then runs this chain on the CPU
# swiftpipe run recipes/demo.py               # the same chain, once make demo has built work/tiny-qwen2-swift3
# swiftpipe run recipes/demo.py --resume      # finish an interrupted or failed run
"""The medical chain's shape on a tiny local model and the sample data in datasets/, on the CPU in minutes.

Full continued pretraining -> LoRA SFT -> merge -> LoRA DPO -> merge, then the same sample questions to every
model of the chain, side by side and scored against their reference answers (ROUGE). The model is a tiny random
Qwen2 built locally (python -m swiftpipe.demo.tiny_model); nothing is downloaded, and --check_model false spares
ms-swift its hub check on a local model. Pretraining and SFT run long enough for the answers to approach the
references.
"""
from __future__ import annotations

from swiftpipe import checkpoint, compare, dpo, make_recipe, merge, merged, pretrain, sft

# Settings every training stage shares: a tiny model, short sequences, CPU-friendly loaders, no hub check.
TINY = {
    "model_type": "qwen2",
    "template": "qwen2_5",
    "torch_dtype": "float32",
    "max_length": 128,
    "per_device_train_batch_size": 4,
    "gradient_accumulation_steps": 1,
    "num_train_epochs": 8,
    "logging_steps": 2,
    "save_steps": 40,
    "dataloader_num_workers": 0,
    "report_to": "none",
    "check_model": False,
}


# What `make demo` builds and writes for ms-swift 3 (`make demo SWIFT=4`: -p model=work/tiny-qwen2-swift4
# -p output=work/demo-swift4), so that the commands the README shows after it find the same chain.
def recipe(model: str = "work/tiny-qwen2-swift3", data: str = "datasets", output: str = "work/demo-swift3"):
    return make_recipe("demo", [
        pretrain("pretrain", {"model": model, "train_type": "full", "dataset": f"{data}/medical_pretrain_sample.jsonl",
                              "learning_rate": 5e-3, "output_dir": f"{output}/pretrain", **TINY,
                              "num_train_epochs": 30}),
        sft("sft", {"model": checkpoint("pretrain"), "train_type": "lora",
                    "dataset": f"{data}/medical_sft_sample.jsonl", "learning_rate": 5e-3, "lora_rank": 8,
                    "lora_alpha": 32, "output_dir": f"{output}/sft", **TINY, "num_train_epochs": 40}),
        merge("merge", {"ckpt_dir": checkpoint("sft")}),
        dpo("dpo", {"model": merged("merge"), "train_type": "lora", "dataset": f"{data}/medical_dpo_sample.jsonl",
                    "learning_rate": 1e-3, "output_dir": f"{output}/dpo", **TINY}),
        merge("merge_dpo", {"ckpt_dir": checkpoint("dpo")}),
        compare("compare", f"{data}/medical_questions_sample.jsonl",
                {"base": model, "pretrain": checkpoint("pretrain"), "sft": merged("merge"), "dpo": merged("merge_dpo")},
                {"model_type": "qwen2", "template": "qwen2_5", "max_new_tokens": 24}),
    ], description=__doc__.splitlines()[0])
