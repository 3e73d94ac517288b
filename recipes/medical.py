# swiftpipe render recipes/medical.py                 # the whole chain, as the tutorials write it
# swiftpipe render recipes/medical.py -p sft=lisa --stage sft
# swiftpipe run recipes/medical.py                    # pretrain -> sft -> merge -> dpo -> merge_dpo -> ... -> infer
# swiftpipe run recipes/medical.py --stage eval -p eval_swift=.venv-eval/bin/swift   # EvalScope from `make eval-venv`
"""The medical domain-adaptation chain of the seed tutorials, for Qwen2.5-1.5B.

Each stage is the tutorial's own command, flag for flag (seed 000's `pretrain.sh`; seed 004's `sft_full.sh`,
`sft_lora.sh`, `sft_lisa.sh`, its `swift export ... --merge_lora true` and `swift infer --stream true`),
except that where the tutorial leaves a placeholder (`<model_id_or_path>`, dataset paths, `<output_dir>`,
checkpoint paths) the recipe fills it in, and a stage's input is what the previous stage produced.
The DPO stage follows seed 000's preference data (section 1.1.3) with ms-swift's documented
`swift rlhf --rlhf_type dpo` LoRA example (examples/train/rlhf/dpo/lora.sh).
"""
from __future__ import annotations

from typing import Literal

from swiftpipe import (
    Launch,
    checkpoint,
    compare,
    dpo,
    evaluate,
    infer,
    make_recipe,
    merge,
    merged,
    per_process,
    pretrain,
    sft,
)


def recipe(
    sft: Literal["full", "lora", "lisa"] = "lora",
    dpo: Literal["lora", "full"] = "lora",
    base_model: str = "Qwen/Qwen2.5-1.5B",
    pretrain_data: str = "data/pre/medical_book_zh.json",
    sft_data: str = "data/qizen-gpt-sample-sft-20k/qizhen-gpt-sft-20k.json",
    dpo_data: str = "data/reward/train.json",
    output: str = "output",
    questions: str = "datasets/medical_questions_sample.jsonl",
    eval_swift: str = "swift",
):
    stages = [
        # Seed 000's pretrain.sh. Its `NPROC_PER_NODE=1` line lacks the trailing backslash, so in the tutorial
        # the variable never reached `swift` (it only fed `$(expr 8 / $NPROC_PER_NODE)`); the intended command
        # passes it. The expr is per_process(8): 8 divided by the process count, rendered as the number.
        pretrain("pretrain", {
            "model": base_model,
            "num_train_epochs": 1,
            "train_type": "full",
            "tuner_backend": "peft",
            "output_dir": f"{output}/pretrain",
            "dataset": pretrain_data,
            "max_length": 4096,
            "gradient_checkpointing": True,
            "per_device_train_batch_size": 1,
            "per_device_eval_batch_size": 1,
            "weight_decay": 0.01,
            "learning_rate": 1e-5,
            "gradient_accumulation_steps": per_process(8),
            "max_grad_norm": 0.5,
            "warmup_ratio": 0.03,
            "eval_steps": 500,
            "save_steps": 100,
            "save_total_limit": 3,
            "logging_steps": 10,
            "save_only_model": True,
            "lazy_tokenize": True,
        }, launch=Launch(nproc_per_node=1, master_port=29500, cuda_visible_devices="0")),
        _sft_stage(sft, sft_data, output),
    ]
    sft_model = checkpoint("sft")
    if sft == "lora":
        # Seed 004: "the LoRA version must merge its weights first".
        stages.append(merge("merge", {"ckpt_dir": checkpoint("sft")}, launch=Launch(cuda_visible_devices="0")))
        sft_model = merged("merge")
    stages.append(_dpo_stage(dpo, sft_model, dpo_data, output))
    final_model = checkpoint("dpo")
    if dpo == "lora":
        stages.append(merge("merge_dpo", {"ckpt_dir": checkpoint("dpo")}, launch=Launch(cuda_visible_devices="0")))
        final_model = merged("merge_dpo")
    # Seed 000 ends by asking the pretrained and the untouched base model the same medical question; here every
    # model of the chain answers the same questions, scored against their reference answers (ROUGE).
    stages.append(compare("compare", questions, {"base": base_model, "pretrain": checkpoint("pretrain"),
                                                 "sft": sft_model, "dpo": final_model},
                          launch=Launch(cuda_visible_devices="0")))
    # The benchmarks for Chinese medicine, per model: C-Eval and CMMLU on EvalScope's own backend (with the
    # questions above as a local set), CMB on its OpenCompass backend. `eval_swift`: ms-swift where EvalScope is.
    models = {"base": base_model, "sft": sft_model, "dpo": final_model}
    stages.append(evaluate("eval", models, ["ceval", "cmmlu", questions], swift=eval_swift,
                           launch=Launch(cuda_visible_devices="0")))
    stages.append(evaluate("eval_cmb", models, ["cmb"], {"eval_backend": "OpenCompass"}, swift=eval_swift,
                           launch=Launch(cuda_visible_devices="0")))
    stages.append(infer("infer", {"stream": True, "model": final_model}, launch=Launch(cuda_visible_devices="0")))
    return make_recipe("medical", stages, description=__doc__.splitlines()[0])


def _sft_stage(kind: str, data: str, output: str):
    if kind == "lora":  # seed 004, sft_lora.sh
        return sft("sft", {
            "model": checkpoint("pretrain"),
            "train_type": "lora",
            "dataset": data,
            "torch_dtype": "bfloat16",
            "num_train_epochs": 1,
            "per_device_train_batch_size": 1,
            "per_device_eval_batch_size": 1,
            "learning_rate": 1e-4,
            "lora_rank": 8,
            "lora_alpha": 32,
            "target_modules": "all-linear",
            "gradient_accumulation_steps": 16,
            "eval_steps": 100,
            "save_steps": 100,
            "save_total_limit": 2,
            "logging_steps": 5,
            "max_length": 4096,
            "output_dir": f"{output}/sft_lora",
            "warmup_ratio": 0.05,
            "dataloader_num_workers": 4,
        }, launch=Launch(cuda_visible_devices="0"))
    # seed 004, sft_full.sh (its last line ends in a dangling backslash; the intended command ends there).
    # sft_lisa.sh is the same command with two LISA flags after --train_type.
    lisa = {"lisa_activated_layers": 2, "lisa_step_interval": 20} if kind == "lisa" else {}
    return sft("sft", {
        "model": checkpoint("pretrain"),
        "train_type": "full",
        **lisa,
        "dataset": data,
        "torch_dtype": "bfloat16",
        "num_train_epochs": 2,
        "per_device_train_batch_size": 2,
        "per_device_eval_batch_size": 2,
        "learning_rate": 1e-5,
        "target_modules": "all-linear",
        "gradient_accumulation_steps": 16,
        "eval_steps": 100,
        "save_steps": 100,
        "weight_decay": 0.01,
        "save_total_limit": 2,
        "logging_steps": 5,
        "max_length": 4096,
        "output_dir": f"{output}/sft_{kind}",
        "max_grad_norm": 0.5,
        "warmup_ratio": 0.03,
        "dataloader_num_workers": 4,
    }, launch=Launch(cuda_visible_devices="0,1"))


def _dpo_stage(kind: str, model, data: str, output: str):
    # Seed 000's reward set has {"question", "response_chosen", "response_rejected"}; ms-swift 3 and 4 read
    # `question` as the query but silently drop the other two, so --columns maps them to its DPO columns.
    lora = {"lora_rank": 8, "lora_alpha": 32, "target_modules": "all-linear"} if kind == "lora" else {}
    return dpo("dpo", {
        "model": model,
        "train_type": kind,
        "dataset": data,
        "columns": '{"response_chosen": "response", "response_rejected": "rejected_response"}',
        "split_dataset_ratio": 0.01,
        "torch_dtype": "bfloat16",
        "num_train_epochs": 1,
        "per_device_train_batch_size": 1,
        "per_device_eval_batch_size": 1,
        "learning_rate": 1e-4 if kind == "lora" else 1e-5,
        **lora,
        "gradient_accumulation_steps": 16,
        "eval_steps": 100,
        "save_steps": 100,
        "save_total_limit": 2,
        "logging_steps": 5,
        "max_length": 2048,
        "output_dir": f"{output}/dpo_{kind}",
        "warmup_ratio": 0.05,
        "dataloader_num_workers": 4,
        "dataset_num_proc": 4,
    }, launch=Launch(cuda_visible_devices="0"))
