"""swiftpipe: recipes for ms-swift's pretrain -> SFT -> merge -> DPO -> infer chain.

Kept light on purpose: `swiftpipe --help`, `info` and `render` never import torch, transformers,
modelscope or ms-swift.
"""
from swiftpipe.recipe.launch import Launch
from swiftpipe.recipe.methods import cpo, gkd, grpo, kto, orpo, ppo, reward_model, simpo
from swiftpipe.recipe.model import (
    PerProcess,
    Recipe,
    Ref,
    Stage,
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
    rlhf,
    run_dir,
    sft,
    stage,
)
from swiftpipe.versions import SWIFTPIPE_VERSION as __version__

__all__ = [
    "Launch", "PerProcess", "Recipe", "Ref", "Stage", "checkpoint", "compare", "cpo", "dpo", "evaluate", "gkd",
    "grpo", "infer", "kto", "make_recipe", "merge", "merged", "orpo", "per_process", "ppo", "pretrain",
    "reward_model", "rlhf", "run_dir", "sft", "simpo", "stage", "__version__",
]
