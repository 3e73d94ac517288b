"""LLaMA-Factory's `dataset_info.json`: an entry names a file and says which of its columns play which part."""
from __future__ import annotations

import json
from pathlib import Path

from swiftpipe.data import formats
from swiftpipe.data.validate import DataError

HUB_KEYS = {"hf_hub_url": "hf", "ms_hub_url": "modelscope", "om_hub_url": None, "script_url": None}
SHAREGPT_ROLES = {"user_tag": ("human", "user"), "assistant_tag": ("gpt", "assistant"),
                  "system_tag": ("system", "system"), "observation_tag": ("observation", "tool_response"),
                  "function_tag": ("function_call", "tool_call")}


def is_registry(path: Path) -> bool:
    return Path(path).name == "dataset_info.json"


def entry(info_path: Path, name: str | None, purpose: str) -> tuple[Path, formats.Shape]:
    """The data file an entry names (relative to the registry's folder) and the shape its columns describe."""
    info_path = Path(info_path)
    try:
        info = json.loads(info_path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{info_path}: cannot read the registry: {exc}") from None
    if not isinstance(info, dict):
        raise DataError(f"{info_path}: a registry is an object of named entries")
    if name is None or name not in info:
        known = ", ".join(sorted(info)) or "none"
        what = "pass --entry NAME" if name is None else f"no entry {name!r}"
        raise DataError(f"{info_path}: {what} (entries: {known})")
    spec = info[name]
    where = f"{info_path}: entry {name!r}"
    if not isinstance(spec, dict):
        raise DataError(f"{where}: is {formats.type_name(spec)}, not an object")
    if "file_name" not in spec:
        hub = next((key for key in HUB_KEYS if key in spec), None)
        if hub and HUB_KEYS[hub]:
            raise DataError(f"{where}: lives on the hub ({hub}={spec[hub]}); fetch it first: "
                            f"swiftpipe download dataset {spec[hub]} --hub {HUB_KEYS[hub]}")
        raise DataError(f"{where}: has no file_name")
    columns = spec.get("columns") or {}
    formatting = spec.get("formatting", "alpaca")
    ranking = bool(spec.get("ranking"))
    if formatting == "alpaca":
        shape = _alpaca(name, columns, purpose, ranking)
    elif formatting == "sharegpt":
        if ranking:
            raise DataError(f"{where}: ranked sharegpt entries (chosen/rejected turns) are not supported; "
                            "use formatting alpaca with chosen/rejected columns")
        shape = _sharegpt(name, columns, spec.get("tags") or {})
    else:
        raise DataError(f"{where}: formatting {formatting!r}; expected alpaca or sharegpt")
    return info_path.parent / spec["file_name"], shape


def _alpaca(name: str, columns: dict, purpose: str, ranking: bool) -> formats.Shape:
    if purpose == "pt":
        return formats.Plain(f"{name} (alpaca)", ("pt",), text=columns.get("prompt", "text"))
    return formats.Pairs(f"{name} (alpaca)", ("pt", "sft", "dpo"), prompt=columns.get("prompt", "instruction"),
                         extra_input=columns.get("query", "input"),
                         response=columns.get("chosen", "chosen") if ranking else columns.get("response", "output"),
                         system=columns.get("system", "system"), history=columns.get("history", "history"),
                         rejected=columns.get("rejected", "rejected"))


def _sharegpt(name: str, columns: dict, tags: dict) -> formats.Shape:
    roles = {tags.get(tag, default): role for tag, (default, role) in SHAREGPT_ROLES.items()}
    return formats.Messages(f"{name} (sharegpt)", ("sft", "dpo"), messages=columns.get("messages", "conversations"),
                            role=tags.get("role_tag", "from"), content=tags.get("content_tag", "value"),
                            system=columns.get("system"), roles=tuple(roles.items()))
