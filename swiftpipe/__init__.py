"""swiftpipe: recipes for ms-swift's pretrain -> SFT -> merge -> DPO -> infer chain.

Kept light on purpose: `swiftpipe --help`, `info` and `render` never import torch, transformers,
modelscope or ms-swift.
"""
from swiftpipe.recipe.launch import Launch
from swiftpipe.recipe.model import (
    PerProcess,
    Recipe,
    Ref,
    Stage,
    checkpoint,
    compare,
    dpo,
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

__version__ = "0.1.0"

__all__ = [
    "Launch", "PerProcess", "Recipe", "Ref", "Stage", "checkpoint", "compare", "dpo", "infer", "make_recipe", "merge",
    "merged", "per_process", "pretrain", "rlhf", "run_dir", "sft", "stage", "__version__",
]
