"""ms-swift's command-line dialects: the flag spellings of majors 3 and 4, and detecting the installed one.

A recipe is written once, in either spelling; rendering translates it for the target major. Each fact is
checked against the installed 3.12.6 and 4.6.0 by `swiftpipe lint` in the tests:

- `--train_type` (3.x) is `--tuner_type` in 4.x; 4.0.x still took the old name with a warning, 4.1+ fails.
- `swift export/infer --ckpt_dir` (a 3.x shim) is gone in 4.x: `--adapters` for a LoRA checkpoint,
  `--model` for a full one.
- `--infer_backend pt` (3.x) is `transformers` in 4.x, and 3.x rejects `transformers`.
- The 2.x names below fail with `remaining_argv` (or as ambiguous options) on 3 and 4.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeVar

from swiftpipe.errors import DialectError
from swiftpipe.versions import swift_version

V = TypeVar("V")  # a flag's value, passed through (a string may be renamed)

SUPPORTED_MAJORS = (3, 4)
DEFAULT_MAJOR = 3  # the tutorials' major

# Flags renamed between 3 and 4: name -> spelling per major.
RENAMED: dict[str, dict[int, str]] = {
    "train_type": {3: "train_type", 4: "tuner_type"},
    "tuner_type": {3: "train_type", 4: "tuner_type"},
}

# (flag, value) -> value per major.
_VALUE_RENAMED: dict[tuple[str, str], dict[int, str]] = {
    ("infer_backend", "pt"): {4: "transformers"},
    ("infer_backend", "transformers"): {3: "pt"},
}

# Flags that neither 3 nor 4 accepts -> what to write instead. Mostly 2.x spellings seen in older tutorials.
REMOVED_IN_3_AND_4: dict[str, str] = {
    "sft_type": "--train_type (3.x) / --tuner_type (4.x)",
    "model_id_or_path": "--model",
    "model_cache_dir": "--model",
    "template_type": "--template",
    "lora_target_modules": "--target_modules (ALL is now all-linear)",
    "lora_dropout_p": "--lora_dropout",
    "custom_train_dataset_path": "--dataset",
    "custom_val_dataset_path": "--val_dataset",
    "train_dataset_sample": "--dataset PATH#N",
    "val_dataset_sample": "--val_dataset PATH#N",
    "dataset_test_ratio": "--split_dataset_ratio",
    "batch_size": "--per_device_train_batch_size",
    "eval_batch_size": "--per_device_eval_batch_size",
    "dtype": "--torch_dtype (bfloat16, float16, float32)",
    "quantization_bit": "--quant_method bnb --quant_bits N",
    "add_output_dir_suffix": "--add_version",
    "check_model_is_latest": "--check_model",
    "preprocess_num_proc": "--dataset_num_proc",
    "use_flash_attn": "--attn_impl flash_attn",
    "self_cognition_sample": "--dataset swift/self-cognition#N",
    "load_dataset_config": "--load_data_args",
    "result_dir": "--result_path",
    "only_save_model": "--save_only_model",
    "deepspeed_config_path": "--deepspeed",
    "merge_lora_and_save": "--merge_lora",
    "ref_model_id_or_path": "--ref_model",
}


@dataclass(frozen=True)
class Dialect:
    """The ms-swift major a command is rendered for, and the full version when it was detected."""

    major: int
    version: str | None = None

    def __str__(self) -> str:
        return self.version or f"{self.major}.x"


def target(spec: str | int | None = None) -> Dialect:
    """The dialect for `--swift-version` (3, 4 or a full version), else the installed ms-swift, else 3."""
    if spec is None:
        installed = swift_version()
        return _dialect_of(installed) if installed else Dialect(DEFAULT_MAJOR)
    return _dialect_of(str(spec))


def _dialect_of(version: str) -> Dialect:
    match = re.match(r"^\s*(\d+)(?:\.\d+)*", version)
    if not match:
        raise DialectError(f"--swift-version: {version!r} is not a version (use 3, 4 or e.g. 3.12.6)")
    major = int(match.group(1))
    if major not in SUPPORTED_MAJORS:
        raise DialectError(f"--swift-version: ms-swift {version} is not supported; swiftpipe renders for "
                           f"ms-swift {' and '.join(map(str, SUPPORTED_MAJORS))}")
    full = version.strip() if "." in version else None
    return Dialect(major, full)


def translate(flag: str, value: V, *, command: str, dialect: Dialect, where: str,
              tuner_of_reference: str | None, merging: bool) -> tuple[str, V | str]:
    """The (flag, value) spelled for `dialect`, or a DialectError naming the flag, stage and version.

    `tuner_of_reference` is the tuner of the stage a reference value points to (None for literal values);
    `merging` says whether the stage is `swift export --merge_lora true`.
    """
    if flag in REMOVED_IN_3_AND_4:
        raise DialectError(f"{where}: --{flag} does not exist in ms-swift {dialect.major}; "
                           f"use {REMOVED_IN_3_AND_4[flag]}")
    if flag in RENAMED:
        flag = RENAMED[flag][dialect.major]
    if flag == "ckpt_dir" and dialect.major >= 4:
        flag = _ckpt_dir_replacement(where, dialect, tuner_of_reference, merging)
    if isinstance(value, str) and (flag, value) in _VALUE_RENAMED:
        return flag, _VALUE_RENAMED[(flag, value)].get(dialect.major, value)
    return flag, value


def _ckpt_dir_replacement(where: str, dialect: Dialect, tuner: str | None, merging: bool) -> str:
    if merging or (tuner is not None and tuner != "full"):
        return "adapters"
    if tuner == "full":
        return "model"
    raise DialectError(f"{where}: --ckpt_dir does not exist in ms-swift {dialect.major}; use --adapters "
                       "for a LoRA checkpoint or --model for a full one")
