"""The recipe model: a chain of stages, each one ms-swift subcommand with its flags passed through.

A recipe file builds these with the helpers below::

    pretrain("pretrain", {"model": "Qwen/Qwen2.5-1.5B", "train_type": "full", ...})
    sft("sft", {"model": checkpoint("pretrain"), ...})

Flags are an ordered mapping rendered as ``--name value`` in the order written; swiftpipe models none of
ms-swift's flags, so a flag added in a new ms-swift release works without a swiftpipe release.
"""
from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

from swiftpipe.errors import UserError
from swiftpipe.msswift.layout import Output
from swiftpipe.recipe.launch import Launch
from swiftpipe.recipe.origin import Origin, caller_origin

# The subcommands that train and write `<output_dir>/vN-<ts>/checkpoint-<step>` folders.
TRAINING_COMMANDS = frozenset({"pt", "sft", "rlhf"})
# The subcommands that serve until stopped (a web UI, an API server): like a chat, never part of a batch chain.
SERVING_COMMANDS = frozenset({"app", "deploy", "web-ui"})
OBSERVING_COMMANDS = frozenset({"infer", "eval"})  # read a model; write answers or scores


@dataclass(frozen=True)
class Ref:
    """What an earlier stage produced, resolved at run time; rendered as a readable placeholder until then."""

    stage: str
    output: Output  # one of PRODUCED_BY
    origin: Origin | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.output, Output):  # a Ref written by hand, with the output's name: Ref("sft", "merged")
            try:
                object.__setattr__(self, "output", Output(self.output))
            except ValueError:
                raise ValueError(f"Ref(output=...) is one of {', '.join(Output)}, not {self.output!r}") from None

    def placeholder(self) -> str:
        return f"<{self.stage}.{self.output}>"


# The outputs a recipe can refer to -> the subcommands whose stages produce them
PRODUCED_BY: Mapping[Output, frozenset[str]] = {
    Output.LAST_CHECKPOINT: TRAINING_COMMANDS,
    Output.BEST_CHECKPOINT: TRAINING_COMMANDS,
    Output.RUN_DIR: TRAINING_COMMANDS,
    Output.MERGED: frozenset({"export"}),
}


def checkpoint(stage: str, which: str = "last") -> Ref:
    """The last (or ``which="best"``) checkpoint a training stage saved, as ms-swift reports it."""
    if which not in ("last", "best"):
        raise ValueError(f"checkpoint(which=...) is 'last' or 'best', not {which!r}")
    return Ref(stage, Output.LAST_CHECKPOINT if which == "last" else Output.BEST_CHECKPOINT, caller_origin())


def run_dir(stage: str) -> Ref:
    """The versioned folder (`<output_dir>/vN-<timestamp>`) that a training stage's run created."""
    return Ref(stage, Output.RUN_DIR, caller_origin())


def merged(stage: str) -> Ref:
    """The folder a merge stage (`swift export --merge_lora true`) wrote the merged model to."""
    return Ref(stage, Output.MERGED, caller_origin())


@dataclass(frozen=True)
class PerProcess:
    """A total divided by the number of training processes, e.g. a global batch turned into accumulation steps.

    The tutorials write ``--gradient_accumulation_steps $(expr 8 / $NPROC_PER_NODE)``; ``per_process(8)``
    says the same and renders the number, so the command stays one argv that `run` can execute as is.
    """

    total: int

    def over(self, processes: int) -> int:
        if processes < 1 or self.total % processes:
            raise ValueError(f"{self.total} does not divide evenly across {processes} processes")
        return self.total // processes


def per_process(total: int) -> PerProcess:
    return PerProcess(int(total))


SEPARATOR = "@"  # in a sweep (recipe/sweep.py), between a stage's name and its variant's folder name: sft@lr-5e-5
Scalar = Union[str, int, float, bool, Path]
FlagValue = Union[Scalar, Ref, PerProcess, None, "list[Scalar | Ref]", "tuple[Scalar | Ref, ...]"]


@dataclass(frozen=True)
class Group:
    """Stages that ask several models the same questions (`compare`): its name, and the model this one asks."""

    name: str
    label: str


@dataclass(frozen=True)
class Stage:
    """One ms-swift invocation: `swift <command> --flag value ...` with its launch settings."""

    name: str
    command: str
    flags: Mapping[str, FlagValue]
    launch: Launch = field(default_factory=Launch)
    origin: Origin | None = field(default=None, compare=False)
    group: Group | None = None  # the compare() or evaluate() this stage is one model of
    program: str = "swift"  # the ms-swift executable: another environment's where EvalScope lives apart
    # Files the stage reads that no flag gives as a value of its own: (flag, path), e.g. evaluate()'s questions file,
    # named inside --eval_dataset_args' JSON. What it reads decides whether it runs again (run/reads.py).
    also_reads: tuple[tuple[str, str], ...] = ()
    # In a sweep (recipe/sweep.py), the variants this stage serves when not every one: a stage of one variant, or
    # shared by some. What gates it (run/plan.py) follows from it.
    variants: tuple[str, ...] = ()

    @property
    def trains(self) -> bool:
        return self.command in TRAINING_COMMANDS

    @property
    def interactive(self) -> bool:
        """A stage that needs a person: an inference that chats in a terminal (rather than answering a --val_dataset
        in batch), or a server (`swift app`, `swift deploy`) that runs until stopped."""
        if self.command in SERVING_COMMANDS:
            return True
        return self.command == "infer" and not (self.flags.get("val_dataset") is not None
                                                or is_true(self.flags.get("load_data_args")))

    @property
    def observes(self) -> bool:
        """A stage that asks a model questions (infer, eval): its answers and scores are no stage's input (see
        PRODUCED_BY), so its failure need stop no other; the chain goes on past it and still ends failed, so that one
        benchmark out of reach does not cost the other models' scores."""
        return self.command in OBSERVING_COMMANDS

    def refs(self) -> list[tuple[str, Ref]]:
        """(flag, reference) for every reference among this stage's flag values, in flag order."""
        found = []
        for flag, value in self.flags.items():
            for item in items_of(value):
                if isinstance(item, Ref):
                    found.append((flag, item))
        return found

    def with_flag(self, flag: str, value: FlagValue) -> Stage:
        """A copy with `flag` set: replaced in place if present, appended otherwise."""
        return dataclasses.replace(self, flags={**self.flags, flag: value})

    @property
    def merges(self) -> bool:
        """`swift export --merge_lora true`."""
        return self.command == "export" and is_true(self.flags.get("merge_lora"))

    @property
    def merge_source(self) -> FlagValue:
        """What a merge stage merges: its --ckpt_dir or --adapters (the first one, which ms-swift names the
        `-merged` folder after)."""
        source = self.flags.get("ckpt_dir", self.flags.get("adapters"))
        return (items_of(source) or [None])[0]

    def tuner(self) -> str:
        """The tuner a training stage uses; ms-swift 3 and 4 default to LoRA, for `swift pt` too."""
        return str(self.flags.get("tuner_type", self.flags.get("train_type", "lora")))


@dataclass(frozen=True)
class Recipe:
    """An ordered chain of stages, with launch settings that every stage inherits unless it sets its own."""

    name: str
    stages: tuple[Stage, ...]
    launch: Launch = field(default_factory=Launch)
    description: str = ""
    origin: Origin | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(self.stages))

    @property
    def stage_names(self) -> list[str]:
        return [s.name for s in self.stages]

    @property
    def groups(self) -> dict[str, list[Stage]]:
        """Each compare() group's stages, by the group's name."""
        found: dict[str, list[Stage]] = {}
        for s in self.stages:
            if s.group is not None:
                found.setdefault(s.group.name, []).append(s)
        return found

    def named(self, name: str) -> list[Stage]:
        """The stage called `name`, or every stage of the group called `name`, or in a sweep every variant's stage
        `name` (sft: sft@lr-1e-4, sft@lr-5e-5), or a variant's stage by the variant's name as the comparison shows
        it (sft@lr=1e-4); [] if none."""
        base, separator, variant = name.partition(SEPARATOR)
        return ([s for s in self.stages if s.name == name] or self.groups.get(name, [])
                or [s for s in self.stages if s.name.partition(SEPARATOR)[0] == name and SEPARATOR in s.name]
                or [s for s in self.stages if separator and s.name.partition(SEPARATOR)[0] == base
                    and SEPARATOR in s.name and variant in s.variants])

    def stage(self, name: str) -> Stage:
        return self._by_name[name]

    @functools.cached_property
    def _by_name(self) -> dict[str, Stage]:  # a sweep of 100 variants has 600 stages, each looked up often
        return {s.name: s for s in self.stages}

    def launch_for(self, stage: Stage) -> Launch:
        return self.launch.overridden_by(stage.launch)


def items_of(value: FlagValue) -> list[Scalar | Ref | PerProcess | None]:
    """A flag's values as a list: a list or tuple as it is, anything else as its only item."""
    return list(value) if isinstance(value, (list, tuple)) else [value]


def is_true(value: object) -> bool:
    """A flag value that ms-swift reads as true: True or "true" in any case."""
    return value is True or str(value).lower() == "true"


def _normalize_flags(flags: Mapping[str, FlagValue] | None) -> dict[str, FlagValue]:
    return {name.lstrip("-"): value for name, value in (flags or {}).items()}


def stage(name: str, command: str, flags: Mapping[str, FlagValue] | None = None, *,
          launch: Launch | None = None) -> Stage:
    """Any ms-swift subcommand (`eval`, `deploy`, `app`, ...) as a stage."""
    return Stage(name, command, _normalize_flags(flags), launch or Launch(), caller_origin())


def pretrain(name: str = "pretrain", flags: Mapping[str, FlagValue] | None = None, *,
             launch: Launch | None = None) -> Stage:
    """Continued pretraining: `swift pt`."""
    return Stage(name, "pt", _normalize_flags(flags), launch or Launch(), caller_origin())


def sft(name: str = "sft", flags: Mapping[str, FlagValue] | None = None, *,
        launch: Launch | None = None) -> Stage:
    """Supervised fine-tuning: `swift sft`."""
    return Stage(name, "sft", _normalize_flags(flags), launch or Launch(), caller_origin())


def rlhf(name: str, rlhf_type: str, flags: Mapping[str, FlagValue] | None = None, *,
         launch: Launch | None = None) -> Stage:
    """Preference training: `swift rlhf --rlhf_type <type>` (dpo, kto, orpo, simpo, cpo, grpo, ...)."""
    return Stage(name, "rlhf", {"rlhf_type": rlhf_type, **_normalize_flags(flags)}, launch or Launch(),
                 caller_origin())


def dpo(name: str = "dpo", flags: Mapping[str, FlagValue] | None = None, *,
        launch: Launch | None = None) -> Stage:
    """Direct preference optimisation: `swift rlhf --rlhf_type dpo`."""
    return Stage(name, "rlhf", {"rlhf_type": "dpo", **_normalize_flags(flags)}, launch or Launch(),
                 caller_origin())


def merge(name: str = "merge", flags: Mapping[str, FlagValue] | None = None, *,
          launch: Launch | None = None) -> Stage:
    """Merge a LoRA checkpoint into its base model: `swift export ... --merge_lora true`."""
    return Stage(name, "export", {**_normalize_flags(flags), "merge_lora": True}, launch or Launch(),
                 caller_origin())


def infer(name: str = "infer", flags: Mapping[str, FlagValue] | None = None, *,
          launch: Launch | None = None) -> Stage:
    """Inference: `swift infer`, an interactive chat unless a dataset is given."""
    return Stage(name, "infer", _normalize_flags(flags), launch or Launch(), caller_origin())


# Every model answers in the chat format, whatever it was trained with: a `swift pt` checkpoint's saved arguments
# would otherwise give it the plain-text template (which ms-swift 4 cannot encode a question with).
COMPARE_SETTINGS: dict[str, FlagValue] = {
    "infer_backend": "pt", "use_chat_template": True, "stream": False, "temperature": 0, "max_new_tokens": 64,
    "max_batch_size": 4}


def compare(name: str, questions: str | Path, models: Mapping[str, FlagValue], flags: Mapping[str, FlagValue] | None
            = None, *, metric: str | None = "rouge", launch: Launch | None = None) -> list[Stage]:
    """The same questions to several models, side by side: one batch `swift infer` per model, each with the same
    generation settings (greedy unless `flags` say otherwise), named `<name>_<label>`. With reference answers in
    the questions file, `metric` ("rouge" or "acc") scores each model against them; None when there are none.

        compare("compare", "data/questions.jsonl", {"base": "Qwen/Qwen2.5-1.5B", "sft": merged("merge")})
    """
    shared = {**COMPARE_SETTINGS, "val_dataset": questions, **_normalize_flags(flags)}
    if metric is not None:
        shared["metric"] = metric
    origin = caller_origin()
    return [Stage(f"{name}_{label}", "infer", {"model": model, **shared}, launch or Launch(), origin,
                  Group(name, label)) for label, model in models.items()]


# `swift eval` on EvalScope's own (Native) backend, with ms-swift's PyTorch inference (vLLM needs a GPU), greedy.
EVAL_SETTINGS: dict[str, FlagValue] = {"eval_backend": "Native", "infer_backend": "pt", "temperature": 0}
LOCAL_QA = "general_qa"  # EvalScope's benchmark for a user's own questions with reference answers
QUESTION_FILE = (".jsonl",)


def evaluate(name: str, models: Mapping[str, FlagValue], datasets: list[str | Path] | tuple[str | Path, ...],
             flags: Mapping[str, FlagValue] | None = None, *, swift: str = "swift",
             launch: Launch | None = None) -> list[Stage]:
    """EvalScope's benchmarks through `swift eval`, for several models of the chain: one stage per model, named
    `<name>_<label>`, all with the same settings. `datasets`: benchmark names (`ceval`, `cmmlu`, ...; EvalScope
    downloads them) and at most one local questions file (`.jsonl` of query/response, as `compare` takes), which
    EvalScope scores as its `general_qa` set: ROUGE against the reference answers, the question asked as written.
    `swift`: the ms-swift to run where EvalScope is installed apart from the training environment (its numpy<2
    pin; `make eval-venv`).

        evaluate("eval", {"base": "Qwen/Qwen2.5-1.5B", "dpo": merged("merge_dpo")}, ["ceval", "data/qa.jsonl"])
    """
    names: list[Scalar] = []
    local: list[Path] = []
    for dataset in datasets:
        if str(dataset).endswith(QUESTION_FILE):
            local.append(Path(dataset))
        else:
            names.append(str(dataset))
    if len(local) > 1:
        raise UserError(f"evaluate({name!r}): one local questions file at most, not {len(local)}")
    shared: dict[str, FlagValue] = {**EVAL_SETTINGS, "eval_dataset": [*names, *([LOCAL_QA] if local else [])]}
    if local:
        # BLEU, EvalScope's other default for this set, needs NLTK data it downloads on first use: ROUGE alone
        # runs offline. The question goes to the model as written, as compare() asks it.
        shared["eval_dataset_args"] = json.dumps({LOCAL_QA: {
            "local_path": str(local[0].parent), "subset_list": [local[0].stem], "metric_list": ["Rouge"],
            "prompt_template": "{question}"}}, ensure_ascii=False)
    shared.update(_normalize_flags(flags))
    origin = caller_origin()
    also_reads = (("eval_dataset_args", str(local[0])),) if local else ()
    return [Stage(f"{name}_{label}", "eval", {"model": model, **shared}, launch or Launch(), origin,
                  Group(name, label), program=swift, also_reads=also_reads) for label, model in models.items()]


def make_recipe(name: str, stages: list[Stage | list[Stage]], *, launch: Launch | None = None,
                description: str = "") -> Recipe:
    """A recipe from its stages (a compare() counts as its stages); the same as ``Recipe(...)`` but records where
    it was written."""
    flat = [item for entry in stages for item in (entry if isinstance(entry, list) else [entry])]
    return Recipe(name, tuple(flat), launch or Launch(), description, caller_origin())
