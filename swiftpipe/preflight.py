"""Pre-flight: what can be checked in seconds before anything is launched. Every problem is collected and
reported as one line naming the stage and flag (and file:line for data)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterable

from swiftpipe.errors import UserError
from swiftpipe.launch import Launch
from swiftpipe.recipe import Recipe, Ref, Stage

DATA_FLAGS = ("dataset", "val_dataset")
MODEL_FLAGS = ("model", "ref_model")
ADAPTER_FLAGS = ("adapters", "ckpt_dir", "resume_from_checkpoint")
MAX_DATA_PROBLEMS = 5


class PreflightError(UserError):
    pass


def check(recipe: Recipe, stages: Iterable[str], *, where: str, gpus: int | None = None) -> None:
    problems: list[str] = []
    gpus = visible_gpus() if gpus is None else gpus
    for name in stages:
        stage = recipe.stage(name)
        at = f"{where}: stage {name!r}"
        for flag, value in stage.flags.items():
            for item in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(item, Ref) or item is None:
                    continue
                text = str(item)
                data_path = text.split("#")[0]  # ms-swift's `path#N` samples N records
                if flag in DATA_FLAGS and _is_local(data_path):
                    problems += [f"{at}, --{flag}: {p}" for p in check_data_file(Path(data_path))]
                elif flag in MODEL_FLAGS and _is_local(text):
                    problems += [f"{at}, --{flag}: {p}" for p in _check_model_dir(Path(text), "config.json")]
                elif flag in ADAPTER_FLAGS and _is_local(text):
                    problems += [f"{at}, --{flag}: {p}" for p in _check_model_dir(Path(text), None)]
        if stage.flags.get("output_dir") is not None and not _writable(Path(str(stage.flags["output_dir"]))):
            problems.append(f"{at}, --output_dir: {stage.flags['output_dir']} is not writable")
        problems += [f"{at}: {p}" for p in _check_devices(recipe.launch_for(stage), gpus)]
    if problems:
        raise PreflightError("\n".join(problems))


def swift_executable() -> str:
    """ms-swift's `swift` command: on PATH, else beside this Python (a venv that is not activated)."""
    found = shutil.which("swift") or shutil.which("swift", path=os.path.dirname(sys.executable))
    if found is None:
        raise PreflightError("ms-swift's `swift` command is not on PATH (make install, or pip install ms-swift)")
    return found


def check_data_file(path: Path) -> list[str]:
    """Exists and parses as JSON Lines or one JSON array; problems as `path:line: what`, a few at most."""
    if not path.is_file():
        return [f"{path}: no such file"]
    with open(path, "rb") as f:
        head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"["):
        try:
            with open(path, encoding="utf-8-sig") as f:
                json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return [f"{path}:{getattr(exc, 'lineno', 1)}: not valid JSON: {getattr(exc, 'msg', exc)}"]
        return []
    if path.suffix.lower() not in (".jsonl", ".json"):
        return []  # csv and other formats: ms-swift reads them; the data issue validates their content
    problems = []
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                json.loads(raw.decode("utf-8-sig" if number == 1 else "utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                problems.append(f"{path}:{number}: not valid JSON: {getattr(exc, 'msg', exc)}")
                if len(problems) >= MAX_DATA_PROBLEMS:
                    break
    return problems


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
    count = len(str(devices).split(",")) if devices not in (None, "") else gpus
    if launch.nproc_per_node > count:
        return [f"NPROC_PER_NODE={launch.nproc_per_node} but only {count} GPU(s) visible "
                f"(CUDA_VISIBLE_DEVICES={devices if devices is not None else 'unset'})"]
    return []


def _is_local(text: str) -> bool:
    """A path rather than a hub id: it exists, or it is written like a path."""
    return text.startswith(("/", "./", "../", "~")) or Path(text).exists() or text.endswith((".json", ".jsonl"))


def _check_model_dir(path: Path, required: str | None) -> list[str]:
    path = path.expanduser()
    if not path.is_dir():
        return [f"{path}: no such folder"]
    if required and not (path / required).is_file():
        return [f"{path}: holds no {required}; is it a model folder?"]
    return []


def _writable(path: Path) -> bool:
    probe = path.expanduser().absolute()
    while not probe.exists():
        probe = probe.parent
    return os.access(probe, os.W_OK)
