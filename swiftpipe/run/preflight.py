"""Pre-flight: what can be checked in seconds before anything is launched. Every problem is collected and
reported as one line naming the stage and flag (and file:line for data)."""
from __future__ import annotations

import contextlib
import difflib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from swiftpipe.errors import UserError
from swiftpipe.msswift.arguments import known_flags
from swiftpipe.msswift.dialects import Dialect, translate
from swiftpipe.msswift.layout import CREATED_FILES, CREATED_FOLDERS
from swiftpipe.recipe import variants
from swiftpipe.recipe.launch import Launch
from swiftpipe.recipe.loading import LoadedRecipe
from swiftpipe.recipe.model import LOCAL_QA, Recipe, Ref, Stage, is_true, items_of
from swiftpipe.run import methods
from swiftpipe.versions import swift_version

if TYPE_CHECKING:
    from swiftpipe.data.cache import CheckCache

DATA_FLAGS = ("dataset", "val_dataset")
MODEL_FLAGS = ("model", "ref_model")
ADAPTER_FLAGS = ("adapters", "ckpt_dir", "resume_from_checkpoint")
MAX_DATA_PROBLEMS = 5


class PreflightError(UserError):
    pass


def check(recipe: Recipe, stages: Iterable[str], *, where: str, gpus: int | None = None,
          allocation: bool = False, checked: CheckCache | None = None, progress: bool = True) -> list[str]:
    """Raise a PreflightError listing every problem; return the warnings (launch settings that will run, but
    probably not as meant). With `allocation` (Slurm), the devices and the nodes are Slurm's to give and are
    not checked here. `checked` remembers the data files checked clean (None: read every file); `progress` shows
    a bar while a large one is read, on a terminal."""
    problems: list[str] = []
    warnings: list[str] = []
    asked: dict[tuple[str, str], str | None] = {}  # each hub asked once: why it cannot be reached, or None
    gpus = visible_gpus() if gpus is None else gpus
    for name in stages:
        stage = recipe.stage(name)
        at = f"{where}: stage {name!r}"
        launch = recipe.launch_for(stage)
        columns = _columns(stage, at, problems)
        for flag, value in stage.flags.items():
            for item in items_of(value):
                if isinstance(item, Ref) or item is None:
                    continue
                text = str(item)
                data_path = text.split("#")[0]  # ms-swift's `path#N` samples N records
                if flag in DATA_FLAGS and _is_local(data_path):
                    purpose = data_purpose(stage) if flag == "dataset" else None
                    found = check_data_file(Path(data_path), purpose, columns, checked=checked, progress=progress)
                    if not found and flag == "val_dataset" and stage.flags.get("metric") is not None:
                        found = _check_references(Path(data_path), str(stage.flags["metric"]))
                    problems += [f"{at}, --{flag}: {p}" for p in found]
                elif flag in MODEL_FLAGS and _looks_like_path(text):
                    problems += [f"{at}, --{flag}: {p}" for p in _check_model_dir(Path(text), "config.json")]
                elif flag in ADAPTER_FLAGS and _looks_like_path(text):
                    problems += [f"{at}, --{flag}: {p}" for p in _check_model_dir(Path(text), None)]
                elif flag in MODEL_FLAGS and not allocation:  # a Slurm job asks the hub from its own node
                    problems += [f"{at}, --{flag}: {p}" for p in _check_hub_model(text, flag, stage, launch, asked)]
        problems += [f"{at}, --eval_dataset_args: {p}" for p in _check_eval_set(stage, checked, progress)]
        problems += [f"{at}, {p}" for p in methods.check(stage)]
        problems += [f"{at}, --{flag}: {p}" for flag, p in _check_created(stage)]
        if not allocation:
            problems += [f"{at}: {p}" for p in _check_devices(launch, gpus)]
        stage_problems, stage_warnings = _check_launch(stage, launch, gpus, allocation)
        problems += [f"{at}: {p}" for p in stage_problems]
        warnings += [f"{at}: {w}" for w in stage_warnings]
    if problems:
        raise PreflightError("\n".join(problems))
    return warnings


def check_overrides(loaded: LoadedRecipe, dialect: Dialect) -> None:
    """A PreflightError for a flag named by `--set` or `--vary` that the installed ms-swift's `swift <subcommand>`
    does not take: a typo on the command line, said before the chain's first stage runs for hours (`lint` checks
    the recipe's own flags, and their values)."""
    given = [s.partition("=")[0].strip() for s in loaded.source.sets]
    given += [d.target for group in variants.parse(loaded.source.varies) for d in group if d.stage is not None]
    problems = []
    for target in dict.fromkeys(given):
        name, _, flag = target.partition(".")
        stages = loaded.recipe.named(name)
        known = known_flags(stages[0].command) if stages and flag != "ckpt_dir" else None
        if known is None:
            continue
        try:
            spelled, _ = translate(flag, None, command=stages[0].command, dialect=dialect, where=target,
                                   tuner_of_reference=None, merging=stages[0].merges)
        except UserError:
            continue  # a flag of ms-swift 2: rendering says what replaces it
        if flag not in known and spelled not in known:
            close = difflib.get_close_matches(flag, sorted(known), n=1)
            problems.append(f"{target}: ms-swift {swift_version()} `swift {stages[0].command}` has no flag --{flag}"
                            + (f" (did you mean {name}.{close[0]}?)" if close else ""))
    if problems:
        raise PreflightError("\n".join(problems), where="--set/--vary")


LOOPBACK = ("127.", "localhost", "::1")


def _check_launch(stage: Stage, launch: Launch, gpus: int, allocation: bool) -> tuple[list[str], list[str]]:
    """Multi-GPU and multi-node settings that fail, or run in a way nobody meant."""
    problems: list[str] = []
    warnings: list[str] = []
    if not stage.trains:
        return problems, warnings
    visible = _visible(launch, gpus)
    if launch.nproc_per_node is None and (launch.nnodes or 1) == 1 and visible > 1:
        warnings.append(f"{visible} GPUs visible but NPROC_PER_NODE is not set: ms-swift then runs one process "
                        f"and splits the model across them (device_map), not data-parallel training; choose with "
                        f"--gpus (one process per GPU) or Launch(nproc_per_node=...)")
    if (launch.nnodes or 1) > 1 and not allocation:  # in a Slurm job, the script takes it from the node list
        addr = launch.master_addr
        if addr is None:
            problems.append(f"NNODES={launch.nnodes} needs MASTER_ADDR, the address of the rank-0 node (--master-addr)")
        elif str(addr).startswith(LOOPBACK):
            warnings.append(f"NNODES={launch.nnodes} with MASTER_ADDR={addr}: other machines cannot reach a loopback "
                            "address; this only works as a rehearsal with every rank on this machine")
    if stage.flags.get("deepspeed") is not None and is_true(stage.flags.get("save_only_model")):
        warnings.append("DeepSpeed with --save_only_model true: its checkpoints hold no optimizer state, so --resume "
                        "can only restart from the weights (--resume_only_model true), not continue the run")
    return problems, warnings


MIN_FREE_BYTES = 16 << 20  # a run record and its first logs


def _check_eval_set(stage: Stage, checked: CheckCache | None, progress: bool) -> list[str]:
    """An evaluate() stage's own questions, EvalScope's `general_qa` set (`<local_path>/<subset>.jsonl`): there,
    and each with its reference answer to score against (an SFT record)."""
    text = stage.flags.get("eval_dataset_args")
    if stage.command != "eval" or not isinstance(text, str):
        return []
    try:
        local = json.loads(text).get(LOCAL_QA)
    except (json.JSONDecodeError, AttributeError):
        return [f"not a JSON object: {text}"]
    if not isinstance(local, dict) or "local_path" not in local:
        return []
    problems = []
    for subset in local.get("subset_list") or []:
        path = Path(str(local["local_path"])) / f"{subset}.jsonl"
        if not path.is_file():
            problems.append(f"{path}: no such file (EvalScope reads {LOCAL_QA}'s <local_path>/<subset>.jsonl)")
            continue
        problems += check_data_file(path, "sft", checked=checked, progress=progress)  # a reference answer each
    return problems


def check_work_dir(work_dir: Path) -> None:
    """A PreflightError unless run records and logs can be written under `work_dir`."""
    try:
        (work_dir / "runs").mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=work_dir / "runs", prefix=".probe-"):
            pass
        free = shutil.disk_usage(work_dir).free
    except OSError as exc:
        raise PreflightError(f"--work-dir {work_dir}: cannot write run records there ({exc.strerror or exc})") from None
    if free < MIN_FREE_BYTES:
        raise PreflightError(f"--work-dir {work_dir}: {free >> 20} MiB free; run records and logs need more room")


def _check_references(path: Path, metric: str) -> list[str]:
    """`swift infer --metric` scores each answer against the record's reference answer; without one, ms-swift
    fails after answering every question."""
    from swiftpipe.data import stream

    if path.is_dir() or path.suffix.lower() not in (".json", ".jsonl"):
        return []
    for where, record in stream.records(path):
        if not isinstance(record, dict):
            continue
        turns = record.get("messages") or record.get("conversations") or []
        has_answer = any(isinstance(t, dict) and t.get("role", t.get("from")) in ("assistant", "gpt")
                         for t in turns)
        if record.get("response") or record.get("output") or has_answer:
            return []
        return [f"{path}:{where}: --metric {metric} scores answers against reference answers, and this record has "
                "none (no response); add them, or drop the metric (compare(..., metric=None))"]
    return []


def swift_executable() -> str:
    """ms-swift's `swift` command: on PATH, else beside this Python (a venv that is not activated)."""
    found = shutil.which("swift") or shutil.which("swift", path=os.path.dirname(sys.executable))
    if found is None:
        raise PreflightError("ms-swift's `swift` command is not on PATH (make install, or pip install ms-swift)")
    return found


def check_data_file(path: Path, purpose: str | None, columns: Mapping[str, str] | None = None, *,
                    checked: CheckCache | None = None, progress: bool = False) -> list[str]:
    """Every record read and checked for `purpose` (syntax only when None), on every core, after ms-swift's
    `--columns` renaming; problems as `path:line: field: what`, a few at most, then how many there are in all.
    A file `checked` remembers as clean, unchanged since, is not read again."""
    from swiftpipe.data.cache import validate_once
    from swiftpipe.data.progress import reading
    from swiftpipe.data.validate import DataError

    if path.is_dir():  # a dataset folder (`swiftpipe download dataset --to DIR`): ms-swift loads it as one
        return [] if any(p.is_file() for p in path.rglob("*") if ".git" not in p.parts) else [
            f"{path}: an empty folder"]
    if path.suffix.lower() not in (".json", ".jsonl"):
        return [] if path.is_file() else [f"{path}: no such file"]  # csv and the like: ms-swift reads them as they are
    try:
        with reading(path, "checking") if progress else contextlib.nullcontext() as bar:
            report, _ = validate_once(path, purpose, cache=checked, limit=MAX_DATA_PROBLEMS, columns=columns,
                                      progress=bar)
    except DataError as exc:
        return [str(exc)]
    more = report.problem_count - len(report.problems)
    return report.problems + ([f"{path}: {report.problem_count} problems in all (swiftpipe data validate {path})"]
                              if more else [])


def _columns(stage: Stage, at: str, problems: list[str]) -> Mapping[str, str] | None:
    """The stage's `--columns` renaming, applied before its data is checked, as ms-swift applies it."""
    from swiftpipe.data.formats import parse_columns

    try:
        return parse_columns(stage.flags.get("columns"))
    except UserError as exc:
        problems.append(f"{at}, {exc}")
        return None


def data_purpose(stage: Stage) -> str | None:
    """What a stage's datasets must hold: pretraining text, SFT pairs, or what its rlhf method reads (preference
    pairs, KTO's labelled answers, GRPO's and PPO's prompts: formats.METHOD_PURPOSE); None where swiftpipe checks
    only that they parse (inference inputs, a method it does not know)."""
    from swiftpipe.data.formats import METHOD_PURPOSE

    if stage.command in ("pt", "sft"):
        return stage.command
    if stage.command == "rlhf":
        return METHOD_PURPOSE.get(str(stage.flags.get("rlhf_type", "dpo")))
    return None


def visible_gpus() -> int:
    """How many GPUs nvidia-smi lists here; 0 without one (or without nvidia-smi)."""
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(1 for line in listing.stdout.splitlines() if line.startswith("GPU "))


def _check_devices(launch: Launch, gpus: int) -> list[str]:
    if gpus == 0 or launch.nproc_per_node is None:
        return []
    devices = launch.cuda_visible_devices
    count = _visible(launch, gpus)
    if launch.nproc_per_node > count:
        return [f"NPROC_PER_NODE={launch.nproc_per_node} but only {count} GPU(s) visible "
                f"(CUDA_VISIBLE_DEVICES={devices if devices is not None else 'unset'})"]
    return []


def _visible(launch: Launch, gpus: int) -> int:
    """The GPUs a stage can see: those CUDA_VISIBLE_DEVICES names, else all that nvidia-smi lists."""
    devices = launch.cuda_visible_devices
    return len(str(devices).split(",")) if devices not in (None, "") else gpus


def _is_local(text: str) -> bool:
    """A path rather than a hub id: it exists, or it is written like a path."""
    return text.startswith(("/", "./", "../", "~")) or Path(text).exists() or text.endswith((".json", ".jsonl"))


def _looks_like_path(text: str) -> bool:
    """A model or adapter written as a folder, so a missing one is a missing folder, never a hub id to ask for:
    it exists, starts like a path, has more than one `/` (a hub id has one), or its first part is a folder here
    (`work/tiny-qwen2` where `work/` exists)."""
    name = text.split(":", 1)[0]  # ms-swift's `model_id:subfolder`
    first = name.split("/", 1)[0]
    return (text.startswith((".", "/", "~")) or name.count("/") > 1 or Path(text).exists()
            or ("/" in name and Path(first).is_dir()))


def _check_hub_model(text: str, flag: str, stage: Stage, launch: Launch,
                     asked: dict[tuple[str, str], str | None]) -> list[str]:
    from swiftpipe.hub import offline

    given = stage.flags.get("use_hf")
    problem = offline.unavailable(text, flag=flag, env={**os.environ, **dict(launch.environment())},
                                  use_hf=None if given is None else is_true(given), asked=asked)
    return [problem] if problem else []


def _check_model_dir(path: Path, required: str | None) -> list[str]:
    path = path.expanduser()
    if not path.is_dir():
        return [f"{path}: no such folder"]
    if required and not (path / required).is_file():
        return [f"{path}: holds no {required}; is it a model folder?"]
    return []


def _check_created(stage: Stage) -> list[tuple[str, str]]:
    """(flag, problem) for each folder the stage will create (or write a file in) that cannot be: a file stands
    there or above it, or the nearest folder that exists is not writable. ms-swift would fail only after loading
    the model, with a NotADirectoryError or a PermissionError."""
    found = []
    for flag in CREATED_FOLDERS + CREATED_FILES:
        value = stage.flags.get(flag)
        if value is None or isinstance(value, Ref) or str(value) == "":
            continue
        path = Path(str(value)).expanduser()
        if flag in CREATED_FILES and path.is_dir():
            found.append((flag, f"{value} is a folder, not a file"))
            continue
        blocked = folder_blocked(path.parent if flag in CREATED_FILES else path)
        if blocked is not None:
            where, why = blocked
            found.append((flag, f"{value} {why}" if where == path else f"{value}: {where} {why}"))
    return found


def folder_blocked(path: Path) -> tuple[Path, str] | None:
    """What stops a folder from being created (or written in) at `path`: (the path that exists nearest to it, it
    included, and why): a file, or a folder that cannot be written. None when nothing does."""
    probe = path
    while not probe.exists() and probe != probe.parent:  # as written: a relative path's parents stay relative
        probe = probe.parent
    if not probe.exists():
        return None
    if not probe.is_dir():
        return probe, "is a file, not a folder"
    if not os.access(probe, os.W_OK | os.X_OK):
        return probe, "is not writable"
    return None
