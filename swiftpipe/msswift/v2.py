"""ms-swift 2.x's spellings and what ms-swift 3 and 4 call them: subcommands, flags, their values, dataset names.

Each entry is checked against the real 3.12 and 4.x argument parsers in the tests. Sources: ms-swift's 2.6.1
`swift/llm/utils/argument.py` compatibility shims and the 3.0 release notes, as collected in
shared/notes/swift-dialects.md. importer/translate.py rewrites imported calls with them.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Union

Implied = Union[str, int, float, bool]  # a flag value a 2.x subcommand implies

# 2.x subcommand -> (3/4 subcommand, flags it implies)
SUBCOMMANDS: Mapping[str, tuple[str, dict[str, Implied]]] = {
    "merge-lora": ("export", {"merge_lora": True}),
    "app-ui": ("app", {}),
    "dpo": ("rlhf", {"rlhf_type": "dpo"}),
    "orpo": ("rlhf", {"rlhf_type": "orpo"}),
    "simpo": ("rlhf", {"rlhf_type": "simpo"}),
    "kto": ("rlhf", {"rlhf_type": "kto"}),
    "cpo": ("rlhf", {"rlhf_type": "cpo"}),
}


@dataclass(frozen=True)
class Rename:
    """A 2.x flag whose 3/4 name is `new`; `values` maps renamed choices (None drops the flag: the default)."""

    new: str
    values: Mapping[str, Implied | None] = field(default_factory=dict)


RENAMES: Mapping[str, Rename] = {
    "sft_type": Rename("train_type"),
    "model_id_or_path": Rename("model"),
    "model_cache_dir": Rename("model"),
    "template_type": Rename("template", {"AUTO": None}),
    "lora_target_modules": Rename("target_modules", {"ALL": "all-linear", "DEFAULT": None, "AUTO": None}),
    "lora_dropout_p": Rename("lora_dropout"),
    "custom_train_dataset_path": Rename("dataset"),
    "custom_val_dataset_path": Rename("val_dataset"),
    "dataset_test_ratio": Rename("split_dataset_ratio"),
    "batch_size": Rename("per_device_train_batch_size"),
    "eval_batch_size": Rename("per_device_eval_batch_size"),
    "dtype": Rename("torch_dtype", {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32", "AUTO": None}),
    "add_output_dir_suffix": Rename("add_version"),
    "check_model_is_latest": Rename("check_model"),
    "preprocess_num_proc": Rename("dataset_num_proc"),
    "only_save_model": Rename("save_only_model"),
    "deepspeed_config_path": Rename("deepspeed"),
    "merge_lora_and_save": Rename("merge_lora"),
    "ref_model_id_or_path": Rename("ref_model"),
    "result_dir": Rename("result_path"),
    "load_dataset_config": Rename("load_data_args"),
    "use_liger": Rename("use_liger_kernel"),
    # 2.x's check of each row: `error` raised, the others skipped bad rows or none; 3/4 skip them unless --strict
    "check_dataset_strategy": Rename("strict", {"error": True, "discard": None, "warning": None, "none": None}),
    "deepspeed": Rename("deepspeed", {"default-zero2": "zero2", "default-zero3": "zero3",
                                      "zero2-offload": "zero2_offload", "zero3-offload": "zero3_offload"}),
    "target_modules": Rename("target_modules", {"ALL": "all-linear", "DEFAULT": None, "AUTO": None}),
}

# 2.x flags with no 3/4 counterpart, and why they can go.
DROPPED: Mapping[str, str] = {
    "eval_human": "2.x's web UI switch; `swift app` always chats",
    "ignore_args_error": "2.x only",
}

# 2.x registered dataset names -> their hub ids in 3/4.
DATASETS: Mapping[str, str] = {
    "alpaca-zh": "AI-ModelScope/alpaca-gpt4-data-zh",
    "alpaca-en": "AI-ModelScope/alpaca-gpt4-data-en",
    "self-cognition": "swift/self-cognition",
    "ms-bench": "iic/ms_bench",
    "codefuse-evol-instruction-zh": "codefuse-ai/Evol-instruction-66k",
    "sharegpt-gpt4": "AI-ModelScope/sharegpt_gpt4",
}

# Flags only 2.x has: a call with any of them is 2.x, and its 2.x defaults (a `swift pt` trains every parameter)
# are written out.
TWO_X_ONLY = frozenset(RENAMES) - {"deepspeed", "target_modules"} | {"train_dataset_sample", "val_dataset_sample",
                                                                  "self_cognition_sample", "quantization_bit",
                                                                  "use_flash_attn", "model_type"}
MODEL_ID_2X = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9.]+)*-\d+(?:_\d+)?[bm]\b|-(chat|instruct|base)$", re.I)
