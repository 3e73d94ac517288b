"""Flags that earlier ms-swift releases (or the transformers under them) took and 3.12 and 4.x do not, with what took
their place. 2.x's own spellings are v2.py's; these are what users' 3.x-era scripts hit.

Each entry is checked against the installed 3.12 and 4.x argument parsers in tests/test_import_flags.py. Sources, in
modelscope/ms-swift's history: the vLLM settings' `vllm_` prefix ("Refactor vllm args", 3.7, old names kept until
3.10), GRPO's rollout rework ("[grpo] code refactor", 3.5, and "deprecated params for 3.6"), `load_from_cache_file`
defaulting to false (3.9), 3.x's CompatArguments (`--lora_modules` appended to `--adapters`, gone in 4.0), and
transformers 4.46 dropping `evaluation_strategy`. importer/translate.py rewrites imported calls with them.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Union

Value = Union[str, bool]  # what a switch's successor is set to

SERVING = frozenset({"infer", "eval", "deploy", "app", "rollout"})  # the subcommands with --infer_backend
VLLM = SERVING | {"rlhf"}  # the subcommands with the vllm_* settings


@dataclass(frozen=True)
class Successor:
    """What took a retired flag's place in `commands` (None: every subcommand): `new` with the flag's own value, or,
    where `on` is given, `new` set to `on` when the old switch was on (off is the default and is dropped); `new`
    None drops the flag. `why` is shown in the finding."""

    new: str | None
    why: str
    on: Value | None = None
    commands: frozenset[str] | None = None


_VLLM_PREFIX = "3.7 moved the vLLM settings under a vllm_ prefix"

# flag -> its successors, the first whose `commands` has the call's subcommand applies.
RETIRED: Mapping[str, tuple[Successor, ...]] = {
    "evaluation_strategy": (Successor("eval_strategy", "transformers 4.46 removed the old name"),),
    "save_result_path": (Successor("result_path", "2.x printed the results file as save_result_path; 3.0 takes it "
                                   "as --result_path", commands=SERVING),),
    "no_load_from_cache_file": (Successor("load_from_cache_file", "argparse's negation of a true default; 3.9 made "
                                          "false the default, so the negation went", on=False),),
    "adapter": (Successor("adapters", "argparse read --adapter as an abbreviation of it"),),
    "lora_modules": (Successor("adapters", "3.x appended --lora_modules to --adapters; 4.0 removed it"),),
    "use_vllm": (Successor("infer_backend", "inference picks its engine with --infer_backend", on="vllm",
                           commands=SERVING),
                 Successor("sampler_engine", "sampling picks its engine with --sampler_engine", on="vllm",
                           commands=frozenset({"sample"}))),
    "use_lmdeploy": (Successor("infer_backend", "inference picks its engine with --infer_backend", on="lmdeploy",
                               commands=SERVING),
                     Successor("sampler_engine", "sampling picks its engine with --sampler_engine", on="lmdeploy",
                               commands=frozenset({"sample"})),
                     Successor("use_vllm", "3.5 removed GRPO's LMDeploy rollout; vLLM is the fast engine it kept",
                               on=True, commands=frozenset({"rlhf"}))),
    "vllm_device": (Successor(None, "3.5 dropped it: a colocated vLLM shares the training GPUs, a `swift rollout` "
                              "server has its own", commands=frozenset({"rlhf"})),),
    **{old: (Successor(f"vllm_{old}", _VLLM_PREFIX, commands=VLLM),) for old in (
        "gpu_memory_utilization", "tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size",
        "max_num_seqs", "enforce_eager", "disable_custom_all_reduce", "limit_mm_per_prompt", "enable_prefix_caching",
        "use_async_engine")},
}

# GRPO's vLLM placement. 3.2-3.4: `--num_infer_workers N` ran vLLM on the N training GPUs when N was the number of
# processes, else on N GPUs of its own; 3.5-3.11 chose `--vllm_mode` themselves (server where a server is given, else
# colocate); 3.12 and 4.x require it ("vllm_mode is required when use_vllm is true").
PLACEMENT = "num_infer_workers"
SERVER_GIVEN = ("vllm_server_host", "vllm_server_base_url")


def successor(flag: str, command: str) -> Successor | None:
    """What replaced `--flag` in `swift <command>`, or None where it is not retired there."""
    return next((s for s in RETIRED.get(flag, ()) if s.commands is None or command in s.commands), None)
