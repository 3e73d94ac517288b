"""ms-swift's own config files as command lines: a YAML or JSON mapping of flag name -> value, imported on its own
(`swiftpipe import train.yaml`: one stage, its subcommand read from the keys) or where a command names it
(`swift sft --config train.yaml`: the file's keys become the command's flags).

ms-swift's launcher turns the keys into flags the same way in 3 and 4 (`swift/cli/main.py`: `prepare_config_args`
in 3.x, `parse_yaml_args` in 4.x): a list is several values, a mapping is JSON text, anything else its `str()`.
Where the keys go differs, and so does which value wins when the command line sets the same flag, since ms-swift
keeps a flag's last value: 3.x (`swift sft --config FILE ...`) appends the keys after the command line, so the file
wins; 4.x (`swift sft FILE ...`, the file first; it has no --config) puts them in the file's place, so the command
line wins. 4.x also reads an `ENV:` mapping, environment variables set where the environment has not set them.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import yaml

from swiftpipe.importer.calls import Call, Code, Flag, Imported, ImportProblem, Item, literal, python_literal

# Flag names that make a mapping an ms-swift config; LLaMA-Factory's configs share some (dataset, template,
# output_dir), and their own keys rule them out.
_SWIFT_KEYS = {"model", "model_type", "train_type", "tuner_type", "dataset", "val_dataset", "rlhf_type", "output_dir",
               "adapters", "ckpt_dir", "template", "torch_dtype", "max_length", "learning_rate", "num_train_epochs",
               "lora_rank", "deepspeed", "merge_lora", "infer_backend", "quant_method", "quant_bits"}
_LLAMAFACTORY = {"stage", "model_name_or_path", "finetuning_type", "export_dir"}
# What the keys say of the subcommand: a training key means a training run; without one, an export or an
# inference. `merge_lora` is an infer flag as well, so it is an export only with no inference key.
_TRAINING = {"train_type", "tuner_type", "learning_rate", "num_train_epochs", "max_steps", "lora_rank",
             "per_device_train_batch_size", "gradient_accumulation_steps", "save_steps", "warmup_ratio",
             "lr_scheduler_type", "deepspeed", "packing", "gradient_checkpointing", "freeze_vit"}
_EXPORT = {"to_ollama", "to_mcore", "to_hf", "to_peft_format", "to_cached_dataset", "quant_n_samples",
           "quant_batch_size", "mcore_model", "mcore_adapters", "mcore_adapter"}
_INFER = {"infer_backend", "val_dataset", "result_path", "max_new_tokens", "stream", "temperature", "max_batch_size"}
_KEY = re.compile(r'^(\w+)[ \t]*:|"(\w+)"\s*:', re.M)  # a YAML key at the top level, or any JSON key

Entry = tuple[str, Any, int]  # key, value, line


def looks_like(text: str, path: str) -> bool:
    """Whether `text` is an ms-swift config: a mapping with ms-swift's flag names as keys and none of LLaMA-Factory's.
    A file named .yaml/.yml/.json with such keys that does not parse is one too, so that `read` says where."""
    if text.startswith("#!") or Path(path).suffix == ".py":
        return False
    if not {a or b for a, b in _KEY.findall(text)} & _SWIFT_KEYS:
        return False  # parsing every input as YAML costs more than this look at its keys
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return Path(path).suffix.lower() in (".yaml", ".yml", ".json")
    keys = set(map(str, data)) if isinstance(data, dict) else set()
    return bool(keys & _SWIFT_KEYS) and not keys & _LLAMAFACTORY


def read(path: str, text: str, imported: Imported) -> None:
    """Add the call one config file describes, its subcommand read from its keys."""
    entries, env = _split_env(path, _entries(path, text, imported))
    names = {key for key, _, _ in entries}
    command, because = _command(names)
    call = Call(command, [], env, path, entries[0][2] if entries else 1)
    for key, value, line in entries:
        flag = _flag(key, value, line, f"{path}:{line}", imported, call)
        if flag is not None:
            call.flags.append(flag)
    _rlhf_type_first(call)
    imported.calls.append(call)
    if because is None:
        imported.note(call.where, "warning", "imported as `swift sft`: no key says sft or pt (rlhf_type, merge_lora "
                      "and infer_backend say rlhf, export and infer); for a pretraining (`swift pt`), change the "
                      "stage's helper from sft to pretrain in the recipe", call=call)
    else:
        imported.note(f"{path}:{_line(entries, because)}", "translated", f"{because}: imported as `swift {command}`",
                      call=call)
    if env:
        imported.note(call.where, "translated", f"ENV: {', '.join(n for n, _ in env)} -> the stage's environment "
                      "(ms-swift 4 sets them where the environment has not; ms-swift 3 reads no ENV key)", call=call)


def expand(call: Call, imported: Imported, base_dir: str | Path, *, command_line_wins: bool = False) -> None:
    """Replace `call`'s `--config FILE` by the file's keys, as ms-swift 3's launcher does: after the command line's
    flags, so that the file's value wins where both set a flag (`command_line_wins`: ms-swift 4's `swift sft FILE`,
    the file's keys first). FILE is looked for in `base_dir` (the script's folder), then here; an absolute path that
    is not on this machine, by its tail in `base_dir` (`configs/train.yaml`). A file not found, or one named by a
    value known only when the script runs, stays `--config FILE` with a warning."""
    flag = call.get("config")
    if flag is None:
        return
    where = f"{call.file}:{flag.line}"
    file = _config_file(flag, Path(base_dir))
    if file is None:
        why = ("not found (looked beside the script and in the current folder)" if _literal(flag)
               else "a file known only when the script runs")
        imported.note(where, "warning", f"--config {_shown(flag)}: {why}, so its keys are not the stage's flags; the "
                      f"stage keeps --config, which only ms-swift 3 takes (4 reads the file as the first argument: "
                      f"swift {call.command} FILE). Import again with the file at hand", call=call)
        return
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ImportProblem(f"--config {file}: not a text file (byte {exc.start} is not UTF-8)", where=where) from None
    entries, env = _split_env(str(file), _entries(str(file), text, imported))
    from_file: list[Flag] = []
    for key, value, line in entries:
        item = _flag(key, value, flag.line, f"{file}:{line}", imported, call)
        if item is not None:
            from_file.append(item)
    given = [f for f in call.flags if f is not flag]
    for ours in from_file:
        theirs = next((f for f in given if f.name == ours.name), None)
        if theirs is not None and theirs.values != ours.values:
            why = ("as ms-swift 4 does with a config given first: the command line's flags come after its keys"
                   if command_line_wins else "as ms-swift 3 does with --config: its keys come after the command line")
            imported.note(f"{file}:{_line(entries, ours.name)}", "warning", f"--{ours.name} {_shown(ours)} here, "
                          f"{_shown(theirs)} on the command at {where}: the recipe keeps "
                          f"{_shown(theirs if command_line_wins else ours)}, {why}, and a flag's last value wins",
                          call=call)
    if command_line_wins:
        call.flags = [f for f in from_file if all(g.name != f.name for g in given)] + given
    else:
        call.flags = [f for f in given if all(g.name != f.name for g in from_file)] + from_file
    known = {name for name, _ in call.env}
    call.env += [(name, value) for name, value in env if name not in known]  # the script's own settings win
    _rlhf_type_first(call)
    found = "" if str(file) == flag.values[0] else f" (read from {file})"
    moved = f"; ENV: {', '.join(n for n, _ in env)} -> the stage's environment" if env else ""
    written = (f"swift {call.command} {flag.values[0]} (4.x: the command line wins)" if command_line_wins
               else f"--config {flag.values[0]} (3.x: the file wins)")
    imported.note(where, "translated", f"{written} -> its {len(from_file)} keys as flags{found}{moved}", call=call)


def _config_file(flag: Flag, base_dir: Path) -> Path | None:
    if not _literal(flag):
        return None
    written = Path(os.path.expanduser(str(flag.values[0])))
    candidates = [written] if written.is_absolute() else [base_dir / written, written]
    if written.is_absolute():  # another machine's path (/dfs/.../exps/lora1/configs/x.yaml): its tail, if beside
        candidates += [base_dir.joinpath(*written.parts[-n:]) for n in range(len(written.parts) - 1, 1, -1)]
    return next((c for c in candidates if c.is_file()), None)


def _entries(path: str, text: str, imported: Imported) -> list[Entry]:
    """The file's top-level keys with their values and lines, in order; invalid YAML or JSON is one ImportProblem
    naming the line."""
    if Path(path).suffix.lower() == ".json" or text.lstrip().startswith("{"):
        return _json_entries(path, text)  # JSON as ms-swift 4 reads it (json.load), stricter than YAML
    try:
        data = yaml.safe_load(text)  # as ms-swift 4 reads it: anchors and `<<:` merges included
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ImportProblem(f"not valid YAML: {problem}", where=f"{path}:{mark.line + 1 if mark else 1}") from None
    if not isinstance(data, dict) or not isinstance(root, yaml.MappingNode):
        raise ImportProblem("an ms-swift config is a mapping of flag names to values", where=path)
    lines: dict[str, int] = {}
    for key, _ in root.value:
        line = key.start_mark.line + 1
        if str(key.value) in lines:
            imported.note(f"{path}:{lines[str(key.value)]}", "dropped", f"{key.value}: set again at line {line} "
                          "(YAML keeps the last)")
        lines[str(key.value)] = line
    return [(str(key), value, lines.get(str(key), 1)) for key, value in data.items()]


def _json_entries(path: str, text: str) -> list[Entry]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportProblem(f"not valid JSON: {exc.msg}", where=f"{path}:{exc.lineno}") from None
    if not isinstance(data, dict):
        raise ImportProblem("an ms-swift config is a mapping of flag names to values", where=path)
    entries, at = [], 0
    for key, value in data.items():  # each key's line: its first `"key":` after the key before it
        found = re.compile(rf'"{re.escape(key)}"\s*:').search(text, at)
        at = found.end() if found else at
        entries.append((key, value, text.count("\n", 0, at) + 1))
    return entries


def _split_env(path: str, entries: list[Entry]) -> tuple[list[Entry], list[tuple[str, Item]]]:
    """The entries that are flags, and ms-swift 4's `ENV:` mapping as the stage's environment."""
    env: list[tuple[str, Item]] = []
    for key, value, line in entries:
        if key == "ENV":
            if not isinstance(value, dict):
                raise ImportProblem("ENV: a mapping of environment variables to their values", where=f"{path}:{line}")
            env = [(str(name), v if isinstance(v, int) and not isinstance(v, bool) else str(v))
                   for name, v in value.items()]
    return [e for e in entries if e[0] != "ENV"], env


def _flag(key: str, value: Any, line: int, where: str, imported: Imported, call: Call) -> Flag | None:
    """The flag ms-swift's launcher makes of one key, or None where it would pass nothing a person meant."""
    if value is None or value == []:
        imported.note(where, "dropped", f"{key}: {'[]' if value == [] else 'null'} (ms-swift's launcher would pass "
                      f"--{key} {'with no value' if value == [] else 'None'}; the stage keeps ms-swift's default)",
                      call=call)
        return None
    values = value if isinstance(value, list) else [value]
    return Flag(key, [_item(v) for v in values], line, many=isinstance(value, list))


def _item(value: Any) -> Item:
    if isinstance(value, bool):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)  # ms-swift parses a mapping flag's JSON text
    return literal(str(value))


def _command(names: set[str]) -> tuple[str, str | None]:
    """The subcommand the keys describe, and the key that says so (None: sft, assumed)."""
    if "rlhf_type" in names:
        return "rlhf", "rlhf_type"
    if not names & _TRAINING:
        if names & _EXPORT or "merge_lora" in names and not names & _INFER:
            return "export", min(names & (_EXPORT | {"merge_lora"}))
        if names & _INFER:
            return "infer", min(names & _INFER)
    return "sft", None  # the keys of `swift pt` are the same


def _rlhf_type_first(call: Call) -> None:
    """`swift rlhf --rlhf_type dpo ...`, as ms-swift's examples write it and the recipe's dpo()/rlhf() read it."""
    flag = call.get("rlhf_type")
    if call.command == "rlhf" and flag is not None:
        call.flags.remove(flag)
        call.flags.insert(0, flag)


def _line(entries: list[Entry], key: str) -> int:
    return next((line for k, _, line in entries if k == key), 1)


def _literal(flag: Flag) -> bool:
    """One value written out, not a parameter (`$1`) or a value the script computes."""
    return len(flag.values) == 1 and isinstance(flag.values[0], str)


def _shown(flag: Flag) -> str:
    """The flag's values as the command line carries them."""
    return " ".join(str(v).lower() if isinstance(v, bool) else python_literal(v) if isinstance(v, (float, Code))
                    else str(v) for v in flag.values)
