"""The imported chain as a recipe file: how to run it first, then one stage per command with its flags in the
input's order, and what the import changed as comments beside what it changed."""
from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

from swiftpipe.importer.calls import Call, Code, Flag, Imported, Item, python_literal

_WIDTH = 120
_HELPERS = {"pt": "pretrain", "sft": "sft", "infer": "infer"}
_LAUNCH_FIELDS = {"NPROC_PER_NODE": ("nproc_per_node", int), "NNODES": ("nnodes", int),
                  "NODE_RANK": ("node_rank", int), "MASTER_ADDR": ("master_addr", str),
                  "MASTER_PORT": ("master_port", int), "CUDA_VISIBLE_DEVICES": ("cuda_visible_devices", str)}


def recipe_text(imported: Imported, *, name: str, path: str) -> str:
    """The Python source of the recipe `name`, to be written at `path`."""
    params = imported.params
    body = [_stage(call, params) for call in imported.calls]
    source = "\n".join(body)
    helpers = sorted({m for m in re.findall(r"\b(pretrain|sft|dpo|rlhf|merge|infer|stage|checkpoint|merged|run_dir|"
                                            r"per_process|Launch)\(", source)} | {"make_recipe"})
    chain = " -> ".join(call.name for call in imported.calls)
    inputs = ", ".join(Path(s).name for s in imported.sources)
    header = [f"# swiftpipe render {path}                 # the commands, for the installed ms-swift",
              f"# swiftpipe render {path} --swift-version 4",
              f"# swiftpipe run {path}                    # {chain}"]
    if params:
        header.append(f"# swiftpipe run {path} " + " ".join(f"-p {p}=..." for p in params))
    lines = [*header, f'"""Imported from {inputs} by `swiftpipe import`."""', "from __future__ import annotations", ""]
    if "os." in source or any("os." in p.default for p in imported.params.values()):
        lines += ["import os", ""]
    lines += [f"from swiftpipe import {', '.join(helpers)}", "", ""]
    general = [str(f) for f in imported.findings if not any(str(f) in c.notes for c in imported.calls)]
    lines += [line for text in general for line in _comment(text, indent=0)]
    if imported.sweeps:
        lines += _variants(imported)
    lines.append("def recipe(" + ("" if params else "):"))
    for param, spec in params.items():
        origin = "" if spec.origin == spec.default else f"{spec.origin} "
        lines.append(f"    {param}: str = {python_literal(spec.default)},  # {origin}at {spec.where}")
    if params:
        lines.append("):")
    lines += ["    stages = [", source + "    ]",
              f"    return make_recipe({python_literal(name)}, stages, description=__doc__.splitlines()[0])", ""]
    return _join(lines)


def _stage(call: Call, params: dict) -> str:
    comments = [line for note in [f"{call.where}: swift {call.command}", *call.notes]
                for line in _comment(note, indent=8)]
    flags = list(call.flags)
    name = python_literal(call.name)
    if call.command in _HELPERS:
        opening = f"{_HELPERS[call.command]}({name}, {{"
    elif call.command == "export" and (merge := call.get("merge_lora")) is not None and merge.values == [True]:
        opening = f"merge({name}, {{"
    elif call.command == "rlhf" and flags and flags[0].name == "rlhf_type" and len(flags[0].values) == 1:
        rlhf_type = flags.pop(0).values[0]
        opening = f"dpo({name}, {{" if rlhf_type == "dpo" else f"rlhf({name}, {python_literal(rlhf_type)}, {{"
    else:
        opening = f"stage({name}, {python_literal(call.command)}, {{"
    body = [f"            {python_literal(f.name)}: {_value(f)}," for f in flags]
    fields = _launch(call)
    closing = f"        }}, launch=Launch({', '.join(fields)}))," if fields else "        }),"
    if len(closing) > _WIDTH:  # one field per line: a field's own text is never broken
        closing = "\n".join(["        }, launch=Launch(", *(f"            {f}," for f in fields), "        )),"])
    return "\n".join([*comments, f"        {opening}", *body, closing]) + "\n"


def _variants(imported: Imported) -> list[str]:
    """`variants = [...]`: each loop over values as one `--vary` text, its flags paired (`; `), values as JSON."""
    from swiftpipe.render.commands import format_float

    def text(item: Item) -> str:
        return str(item).lower() if isinstance(item, bool) else format_float(item) if isinstance(item, float) \
            else str(item)

    specs = []
    for call, changed, where in imported.sweeps:
        specs.append((where, "; ".join(f"{call.name}.{flag}={json.dumps([text(v) for v in values])}"
                                       for flag, values in changed)))
    lines = ["variants = ["]
    for where, spec in specs:
        lines += [f"    # the for loop at {where}", f"    {python_literal(spec)},"]
    return [*lines, "]", "", ""]


def _value(flag: Flag) -> str:
    if flag.many or len(flag.values) != 1:
        items = [python_literal(v) for v in flag.values]
        one_line = "[" + ", ".join(items) + "]"
        if len(one_line) + len(flag.name) + 16 <= _WIDTH:
            return one_line
        return "[\n" + "".join(f"                {item},\n" for item in items) + "            ]"
    return python_literal(flag.values[0])


def _comment(text: str, *, indent: int) -> list[str]:
    """`text` as comment lines that fit the width, continued lines indented."""
    pad = " " * indent
    return textwrap.wrap(text, _WIDTH - indent - 2, initial_indent=f"{pad}# ", subsequent_indent=f"{pad}#   ",
                         break_long_words=False, break_on_hyphens=False) or [f"{pad}#"]


def _launch(call: Call) -> list[str]:
    """The stage's Launch(...) arguments."""
    fields, env = [], []
    for variable, value in call.env:
        if variable in _LAUNCH_FIELDS:
            name, as_type = _LAUNCH_FIELDS[variable]
            fields.append(f"{name}={_typed(value, as_type)}")
        else:
            env.append(f"{python_literal(variable)}: {_typed(value, str)}")
    if env:
        fields.append("env={" + ", ".join(env) + "}")
    return fields


def _typed(value: Item, as_type: type) -> str:
    if isinstance(value, Code):
        return value.text
    if as_type is int and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return python_literal(str(value).lower() if isinstance(value, bool) else str(value))


def _join(lines: list[str]) -> str:
    return "\n".join(lines).replace("\n\n\n\n", "\n\n\n")
