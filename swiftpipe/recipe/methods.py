"""A builder per `swift rlhf` method, each `rlhf(name, <rlhf_type>, flags)` under the method's own name, so that a
recipe reads as the chain it is: `sft -> reward_model -> merge -> ppo`, `sft -> grpo`.

What a method takes from earlier stages is a flag like any other: `--reward_model merged("merge_rm")` (PPO),
`--teacher_model merged("merge")` (GKD), `--ref_model checkpoint("sft")` (GRPO, DPO). recipe/checks.py refuses a
LoRA checkpoint where a whole model is loaded, and run/methods.py checks reward functions and the packages a method
imports before anything launches.
"""
from __future__ import annotations

from collections.abc import Mapping

from swiftpipe.recipe.launch import Launch
from swiftpipe.recipe.model import FlagValue, Stage, rlhf

Flags = Mapping[str, FlagValue] | None


def grpo(name: str = "grpo", flags: Flags = None, *, launch: Launch | None = None) -> Stage:
    """Group relative policy optimisation: sampled answers scored by `--reward_funcs` (ms-swift's, or a plugin's)."""
    return rlhf(name, "grpo", flags, launch=launch)


def reward_model(name: str = "rm", flags: Flags = None, *, launch: Launch | None = None) -> Stage:
    """A reward model trained on preference pairs (`--rlhf_type rm`), for PPO's `--reward_model`."""
    return rlhf(name, "rm", flags, launch=launch)


def ppo(name: str = "ppo", flags: Flags = None, *, launch: Launch | None = None) -> Stage:
    """Proximal policy optimisation against a full reward model (`--reward_model`)."""
    return rlhf(name, "ppo", flags, launch=launch)


def kto(name: str = "kto", flags: Flags = None, *, launch: Launch | None = None) -> Stage:
    """Kahneman-Tversky optimisation: single answers labelled good or bad (a `label` column)."""
    return rlhf(name, "kto", flags, launch=launch)


def orpo(name: str = "orpo", flags: Flags = None, *, launch: Launch | None = None) -> Stage:
    """Odds-ratio preference optimisation, on preference pairs, without a reference model."""
    return rlhf(name, "orpo", flags, launch=launch)


def simpo(name: str = "simpo", flags: Flags = None, *, launch: Launch | None = None) -> Stage:
    """Simple preference optimisation, on preference pairs, without a reference model."""
    return rlhf(name, "simpo", flags, launch=launch)


def cpo(name: str = "cpo", flags: Flags = None, *, launch: Launch | None = None) -> Stage:
    """Contrastive preference optimisation, on preference pairs."""
    return rlhf(name, "cpo", flags, launch=launch)


def gkd(name: str = "gkd", flags: Flags = None, *, launch: Launch | None = None) -> Stage:
    """Generalised knowledge distillation from a full teacher model (`--teacher_model`)."""
    return rlhf(name, "gkd", flags, launch=launch)
