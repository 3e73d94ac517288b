"""ms-swift 2.x spellings -> the flags a recipe renders for both 3 and 4 (3.x names: `render` spells them for 4).

Each entry is checked against the real 3.12 and 4.x argument parsers in the tests. Sources: ms-swift's 2.6.1
`swift/llm/utils/argument.py` compatibility shims and the 3.0 release notes, as collected in
shared/notes/swift-dialects.md.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from swiftpipe.importer.calls import Call, Flag, Imported, Item

# 2.x subcommand -> (3/4 subcommand, flags it implies)
SUBCOMMANDS: Mapping[str, tuple[str, dict[str, Item]]] = {
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
    values: Mapping[str, str | None] = field(default_factory=dict)


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
_TWO_X = frozenset(RENAMES) - {"deepspeed", "target_modules"} | {"train_dataset_sample", "val_dataset_sample",
                                                                  "self_cognition_sample", "quantization_bit",
                                                                  "use_flash_attn", "model_type"}
_MODEL_ID_2X = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9.]+)*-\d+(?:_\d+)?[bm]\b|-(chat|instruct|base)$", re.I)


def translate(call: Call, imported: Imported) -> None:
    """Rewrite `call` in place into flags that ms-swift 3 and 4 both accept (3.x spelling), noting each change."""
    old = call.command
    if old in SUBCOMMANDS:
        call.command, implied = SUBCOMMANDS[old]
        imported.note(call.where, "translated", f"swift {old} -> swift {call.command}"
                      + "".join(f" --{k} {str(v).lower()}" for k, v in implied.items()), call=call)
        for name, value in reversed(list(implied.items())):
            if call.get(name) is None:
                call.flags.insert(0 if name == "rlhf_type" else len(call.flags), Flag(name, [value], call.line))
    two_x = old in SUBCOMMANDS or any(f.name in _TWO_X and (f.name != "model_type" or _is_2x_model(f))
                                      for f in call.flags)
    for flag in list(call.flags):
        where = f"{call.file}:{flag.line}"
        if flag.name in RENAMES:
            _rename(call, flag, RENAMES[flag.name], where, imported)
        elif flag.name in DROPPED:
            call.flags.remove(flag)
            imported.note(where, "dropped", f"--{flag.name} ({DROPPED[flag.name] or 'no ms-swift 3/4 counterpart'})",
                          call=call)
    _samples(call, imported)
    _special(call, imported, two_x)


def _rename(call: Call, flag: Flag, rule: Rename, where: str, imported: Imported) -> None:
    old, original = flag.name, list(flag.values)
    before = f"--{flag.name} {' '.join(str(v) for v in flag.values)}".strip()
    values = []
    for value in flag.values:
        mapped = rule.values.get(value, value) if isinstance(value, str) else value
        if mapped is not None:
            values.append(mapped)
    if not values:
        call.flags.remove(flag)
        imported.note(where, "dropped", f"{before} (ms-swift 3/4's default)", call=call)
        return
    existing = call.get(rule.new)
    if existing is not None and existing is not flag:
        existing.values += [v for v in values if v not in existing.values]
        existing.many = len(existing.values) > 1
        call.flags.remove(flag)
    else:
        flag.name, flag.values = rule.new, values
    if values == original and old == rule.new:
        return
    if values == original:
        imported.note(where, "translated", f"--{old} -> --{rule.new}", call=call)
    else:
        after = f"--{rule.new} {' '.join(str(v) for v in values)}"
        imported.note(where, "translated", f"{before} -> {after}", call=call)


def _samples(call: Call, imported: Imported) -> None:
    """2.x's `train_dataset_sample N` / `val_dataset_sample N` -> `#N` on each dataset (-1, all, is the default);
    `self_cognition_sample N` -> the `swift/self-cognition#N` dataset."""
    for old, target in (("train_dataset_sample", "dataset"), ("val_dataset_sample", "val_dataset")):
        flag = call.remove(old)
        if flag is None:
            continue
        where = f"{call.file}:{flag.line}"
        count = flag.values[0] if flag.values else -1
        datasets = call.get(target)
        if count in (-1, "-1") or datasets is None:
            imported.note(where, "dropped", f"--{old} {count} (every record is used by default)", call=call)
            continue
        datasets.values = [f"{v}#{count}" if isinstance(v, str) else v for v in datasets.values]
        imported.note(where, "translated", f"--{old} {count} -> `#{count}` on each --{target} (2.x sampled {count} "
                      "from them all)", call=call)
    flag = call.remove("self_cognition_sample")
    if flag is not None and flag.values and flag.values[0] not in (0, "0"):
        datasets = call.get("dataset") or Flag("dataset", [], flag.line)
        if datasets not in call.flags:
            call.flags.append(datasets)
        datasets.values.append(f"swift/self-cognition#{flag.values[0]}")
        datasets.many = True
        imported.note(f"{call.file}:{flag.line}", "translated", f"--self_cognition_sample {flag.values[0]} -> "
                      f"--dataset ... swift/self-cognition#{flag.values[0]}", call=call)


def _special(call: Call, imported: Imported, two_x: bool) -> None:
    flag = call.get("quantization_bit")
    if flag is not None:
        at = call.flags.index(flag)
        bits = flag.values[0]
        call.flags[at:at + 1] = [Flag("quant_method", ["bnb"], flag.line), Flag("quant_bits", [bits], flag.line)]
        imported.note(f"{call.file}:{flag.line}", "translated", f"--quantization_bit {bits} -> --quant_method bnb "
                      f"--quant_bits {bits}", call=call)
    flag = call.get("use_flash_attn")
    if flag is not None:
        on = flag.values and flag.values[0] in (True, "True", "true")
        where = f"{call.file}:{flag.line}"
        if on:
            flag.name, flag.values = "attn_impl", ["flash_attn"]
            imported.note(where, "translated", "--use_flash_attn true -> --attn_impl flash_attn", call=call)
        else:
            call.flags.remove(flag)
            imported.note(where, "dropped", "--use_flash_attn false (the default)", call=call)
    flag = call.get("model_type")
    if flag is not None and _is_2x_model(flag):
        where = f"{call.file}:{flag.line}"
        call.flags.remove(flag)
        if call.get("model") is None and call.get("ckpt_dir") is None and call.get("adapters") is None:
            call.flags.insert(0, Flag("model", [imported.param("model", f"<MODEL for 2.x model_type "
                                                               f"{flag.values[0]}>", where=where,
                                                               origin="--model_type")], flag.line))
            imported.note(where, "warning", f"--model_type {flag.values[0]} named a model in 2.x; ms-swift 3/4 need "
                          "its id or path: set the recipe's `model` parameter", call=call)
        else:
            imported.note(where, "dropped", f"--model_type {flag.values[0]} (a 2.x model id; 3/4 read the type from "
                          "the model)", call=call)
    flag = call.get("max_length")
    if flag is not None and flag.values in ([-1], ["-1"]):
        call.flags.remove(flag)
        imported.note(f"{call.file}:{flag.line}", "dropped", "--max_length -1 (no limit: 3/4 use the model's own)",
                      call=call)
    if two_x:
        _two_x_datasets(call, imported)
        if call.command == "pt" and call.get("train_type") is None:
            call.flags.insert(1 if call.get("model") else 0, Flag("train_type", ["full"], call.line))
            imported.note(call.where, "translated", "2.x `swift pt` trained every parameter; 3/4 default to LoRA: "
                          "--train_type full added", call=call)


def _two_x_datasets(call: Call, imported: Imported) -> None:
    for flag in (call.get("dataset"), call.get("val_dataset")):
        if flag is None:
            continue
        for i, value in enumerate(flag.values):
            if not isinstance(value, str):
                continue
            name, sep, count = value.partition("#")
            if name in DATASETS:
                flag.values[i] = DATASETS[name] + sep + count
                imported.note(f"{call.file}:{flag.line}", "translated", f"2.x dataset {name} -> {DATASETS[name]}",
                              call=call)
            elif "/" not in name and "." not in name:
                imported.note(f"{call.file}:{flag.line}", "warning", f"{name} is a 2.x registered dataset name; "
                              "ms-swift 3/4 need its hub id", call=call)


def _is_2x_model(flag: Flag) -> bool:
    """A 2.x `--model_type`: a model id such as qwen-14b-chat, not a 3/4 family such as qwen2."""
    return bool(flag.values) and isinstance(flag.values[0], str) and bool(_MODEL_ID_2X.search(flag.values[0]))

