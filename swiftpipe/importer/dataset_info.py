"""LLaMA-Factory's dataset registry (`dataset_info.json`): its entries, where a config's `dataset_dir` may hold it,
and its column roles as ms-swift's `--columns`."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swiftpipe.importer.calls import ImportProblem

ABOVE = 3  # folders above the config searched for its dataset_dir (llamafactory-cli runs from the repository's top)


@dataclass(frozen=True)
class Registry:
    """A LLaMA-Factory `dataset_info.json`: registered dataset names and their entries, whose file_names are relative
    to the file's own folder."""

    file: Path
    entries: dict[str, Any]


def registry(path: str | Path) -> Registry:
    """The dataset_info.json at `path`; ImportProblem, naming the file (and line), if it is missing or not one."""
    file = Path(path)
    if not file.is_file():
        raise ImportProblem("no such file" if not file.exists() else "not a file", where=str(path))
    try:
        entries = json.loads(file.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ImportProblem(f"not a text file (byte {exc.start} is not UTF-8)", where=str(path)) from None
    except json.JSONDecodeError as exc:
        raise ImportProblem(f"not valid JSON: {exc.msg}", where=f"{path}:{exc.lineno}") from None
    except OSError as exc:
        raise ImportProblem(f"cannot be read: {exc.strerror}", where=str(path)) from None
    if not isinstance(entries, dict):
        raise ImportProblem("a dataset_info.json is a mapping of dataset names to their entries", where=str(path))
    return Registry(file, entries)


def above(folder: Path) -> list[Path]:
    """The folders above `folder`, nearest first: at most ABOVE, and none above its repository's top."""
    out: list[Path] = []
    for parent in folder.resolve().parents[:ABOVE]:
        if (folder / ".git").exists():
            break
        out.append(parent)
        folder = parent
    return out


def columns_of(spec: dict, purpose: str) -> dict[str, str]:
    """LLaMA-Factory's column roles as ms-swift's --columns (file column -> ms-swift's name), where they differ from
    the names ms-swift reads by itself."""
    columns = spec.get("columns") or {}
    if spec.get("formatting") == "sharegpt":
        wanted = {"messages": "conversations", "system": "system", "tools": "tools"}
    elif purpose == "pt":
        wanted = {"prompt": "text"}
    else:
        wanted = {"prompt": "instruction", "query": "input", "response": "output", "system": "system",
                  "history": "history", "chosen": "chosen", "rejected": "rejected"}
    mapping = {column: wanted[role] for role, column in columns.items() if role in wanted and column != wanted[role]}
    return mapping
