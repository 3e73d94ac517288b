"""Stage names, and the hand-offs between stages: a path that points inside an earlier stage's output_dir (a concrete
`v0-20250610-135359/checkpoint-1048`, a `vx-xxx/checkpoint-xxx` placeholder, an `ls -t ... | head -n 1`, a
`-merged` folder, 2.x's `best_model_checkpoint`) becomes `checkpoint(...)`, `run_dir(...)` or `merged(...)`."""
from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path

from swiftpipe.importer.calls import Call, Code, Flag, Imported, ImportProblem, Item
from swiftpipe.importer.words import Substitution

_TRAINING = ("pt", "sft", "rlhf")
_RUN = re.compile(r"(^|/)v(\d+|x+|\*)(-[^/]*)?(/|$)")
_CHECKPOINT = re.compile(r"(^|/)(checkpoint-(\d+|x+|\*|best|last)|last-checkpoint|best_model_checkpoint)"
                         r"(-merged)?/?$")
_BEST = ("best_model_checkpoint", "checkpoint-best")
_BY_NAME = ("best_model_checkpoint", "last_model_checkpoint")  # 2.x tutorials: the variable, pasted as text


def link(imported: Imported) -> None:
    """Name every call's stage and replace the paths it takes from earlier stages with references."""
    taken: set[str] = set()
    seen: dict[str, Code] = {}  # a path already linked means the same thing wherever it is written again
    for index, call in enumerate(imported.calls):
        earlier = imported.calls[:index]
        for flag in call.flags:
            flag.values = [_reference(value, call, flag, earlier, imported, seen) for value in flag.values]
        name = _base_name(call)
        source = _source_stage(call)
        if name == "merge" and name in taken and source:
            name = f"merge_{source}"
        call.name = _unique(name, taken)
        taken.add(call.name)
        _ckpt_dir(call, earlier, imported)
        _implied(call, earlier, imported)


def _reference(value: Item | Substitution, call: Call, flag: Flag, earlier: list[Call], imported: Imported,
               seen: dict[str, Code]) -> Item:
    if isinstance(value, Substitution):
        text = value.text
    elif isinstance(value, str):
        text = value
    else:
        return value
    where = f"{call.file}:{flag.line}"
    if text in seen and text not in _BY_NAME:
        imported.note(where, "hand-off", f"--{flag.name} {text} -> {seen[text].text} (as before)", call=call)
        return seen[text]
    merge = next((c for c in reversed(earlier) if c.command == "export" and c.text("output_dir") is not None
                  and _normal(str(c.text("output_dir"))) == _normal(text)), None)
    found = None if merge is not None else _producer(text, earlier)  # a merge's own output_dir, else a run's
    if merge is None and found is None:
        if isinstance(value, Substitution):
            raise ImportProblem(f"--{flag.name}: {text!r} is built by another program at run time; swiftpipe cannot "
                                "import it (give the path, or the earlier stage's output_dir)", where=value.where)
        return value
    if found is not None:
        producer, merged_folder = found
        if merged_folder:
            merge = next((c for c in reversed(earlier) if c.command == "export" and _source_stage(c) == producer.name),
                         None)
            if merge is None:
                if isinstance(value, Substitution):  # nothing to keep as written: a recipe runs no `ls`
                    raise ImportProblem(f"--{flag.name}: {text!r} looks for a merged model of stage "
                                        f"{producer.name!r}, but no earlier command merges it (merge it first, or "
                                        "give the path)", where=value.where)
                imported.note(where, "warning", f"--{flag.name} {text}: a merged model of stage {producer.name!r}, "
                              "but no earlier command merges it; kept as written", call=call)
                return value
    if merge is not None:
        code = Code(f'merged("{merge.name}")')
    elif _CHECKPOINT.search(_normal(text)) or text in _BY_NAME or isinstance(value, Substitution) \
            or _normal(text) == _normal(_output_dir(producer)):
        which = ', which="best"' if any(b in text for b in _BEST) else ""
        code = Code(f'checkpoint("{producer.name}"{which})')
    else:
        code = Code(f'run_dir("{producer.name}")')
    imported.note(where, "hand-off", f"--{flag.name} {text} -> {code.text}", call=call)
    seen[text] = code
    return code


def _producer(text: str, earlier: list[Call]) -> tuple[Call, bool] | None:
    """The earlier training stage whose output `text` points into (latest first), and whether it names the merged
    folder of one of its checkpoints."""
    path = _normal(_listed(text) if text.startswith("$(") else text)
    merged_folder = path.endswith("-merged")
    if text in _BY_NAME or text.rstrip("/") in _BY_NAME or path.removesuffix("-merged") in _BY_NAME:
        trained = [c for c in earlier if c.command in _TRAINING]
        return (trained[-1], merged_folder) if trained else None
    for call in reversed(earlier):
        if call.command not in _TRAINING:
            continue
        out = _normal(_output_dir(call))
        if path == out or path.startswith(out + "/"):
            rest = path[len(out):].lstrip("/")
        elif f"/{out}/" in path:  # /your/output/path/..., <path/to/output/sft_lora/...>
            rest = path.split(f"/{out}/", 1)[1]
        else:
            continue
        if not rest or _RUN.search(rest) or _CHECKPOINT.search(rest) or "$(" in text:
            return call, merged_folder  # the output_dir itself: where LLaMA-Factory and xtuner leave the result
    return None


def _output_dir(call: Call) -> str:
    """Where a training stage writes, as the script wrote it (`output/${RUN}` stays unexpanded), else ms-swift's
    default."""
    flag = call.get("output_dir")
    if flag is None:
        return "output"
    if flag.written:
        return flag.written[0]
    return call.text("output_dir") or "output"


def _listed(text: str) -> str:
    """The folder an `$(ls -td DIR/v*/checkpoint-* | head -n 1)` lists."""
    words = [w.strip("'\"") for w in re.split(r"[\s|()]+", text)]
    return next((w for w in words if "/" in w and not w.startswith("-")), text)


def _source_stage(call: Call) -> str | None:
    """The stage a merge takes its checkpoint from."""
    source = call.get("ckpt_dir") or call.get("adapters")
    match = re.search(r'\("([^"]+)"', source.values[0].text) if source and source.values and isinstance(
        source.values[0], Code) else None
    return match.group(1) if match else None


def _normal(text: str) -> str:
    text = text.strip().removeprefix("<").removesuffix(">")  # a tutorial's <path/to/output/...>
    text = re.sub(r"\$(\w+)", r"${\1}", text)
    return posixpath.normpath(text).removeprefix("./") if text else ""


def _base_name(call: Call) -> str:
    if call.command == "pt":
        return "pretrain"
    if call.command == "rlhf":
        return str(call.text("rlhf_type") or "rlhf")
    if call.command == "export" and str(call.text("merge_lora")).lower() == "true":
        return "merge"
    return call.command.replace("-", "_")


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name}_{n}" in taken:
        n += 1
    return f"{name}_{n}"


def _implied(call: Call, earlier: list[Call], imported: Imported) -> None:
    """A flag inferred from a literal value (`--use_hf true` for an org/name model id) goes when that value is a
    hand-off or lies in a folder an earlier stage writes to (`pretrain/merged_model`), and is reported when it stays."""
    folders = {_normal(_output_dir(c)).split("/")[0] for c in earlier if c.get("output_dir") is not None}
    for flag in list(call.flags):
        source = call.get(flag.implied_by) if flag.implied_by else None
        if source is None:
            continue
        if any(isinstance(v, Code) for v in source.values) or _normal(str(source.values[0])).split("/")[0] in folders:
            call.flags.remove(flag)
        else:
            imported.note(f"{call.file}:{flag.line}", "translated", f"{source.values[0]} is a Hugging Face id, read "
                          "from that hub as the original did: --use_hf true", call=call)


def _ckpt_dir(call: Call, earlier: list[Call], imported: Imported) -> None:
    """`--ckpt_dir` is gone in ms-swift 4: with a reference `render` spells it for each major; a literal path becomes
    `--adapters` (a LoRA checkpoint) or `--model` (a full model) by what the folder holds."""
    flag = call.get("ckpt_dir")
    if flag is None or any(isinstance(v, Code) for v in flag.values):
        return
    where = f"{call.file}:{flag.line}"
    path = str(flag.values[0]) if flag.values else ""
    holds = _holds(path)
    merging = str(call.text("merge_lora")).lower() == "true"
    if holds == "adapter" or (holds is None and (merging or not path.endswith("-merged"))):
        flag.name = "adapters"
        guess = "" if holds else " (assumed a LoRA checkpoint: the folder is not here to look in)"
    else:
        flag.name = "model"
        guess = "" if holds else " (a -merged folder holds a full model)"
        replaced = call.get("model")
        if replaced is not None and replaced is not flag:
            call.flags.remove(replaced)
            imported.note(where, "dropped", f"--model {replaced.values[0]} (the checkpoint is the model)", call=call)
    imported.note(where, "translated", f"--ckpt_dir {path} -> --{flag.name}{guess}; ms-swift 4 has no --ckpt_dir",
                  call=call)


def _holds(path: str) -> str | None:
    folder = Path(path)
    if (folder / "adapter_config.json").is_file():
        return "adapter"
    if (folder / "config.json").is_file():
        return "model"
    args = folder / "args.json"
    if args.is_file():
        try:
            return "model" if json.loads(args.read_text()).get("train_type") == "full" else "adapter"
        except (OSError, ValueError):
            return None
    return None
