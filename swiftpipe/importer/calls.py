"""What every reader produces: the ms-swift calls it found, in order, with the recipe parameters they use and what
was translated, repaired or dropped on the way (the findings, reported on stderr and as comments in the recipe)."""
from __future__ import annotations

import json
import keyword
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

from swiftpipe.errors import UserError

# Names a recipe file uses for itself.
_RESERVED = {"pretrain", "sft", "dpo", "rlhf", "merge", "infer", "stage", "compare", "checkpoint", "merged",
             "run_dir", "per_process", "make_recipe", "Launch", "os", "stages", "recipe"}


class ImportProblem(UserError):
    """Input that cannot be imported: the file and line, what is wrong, and nothing written."""


@dataclass(frozen=True)
class Code:
    """Python source written into the recipe as it is: a parameter, an f-string, `per_process(8)`,
    `checkpoint("sft")`."""

    text: str


Item = Union[str, int, float, bool, Code]


@dataclass
class Flag:
    """`--name value ...` as the input wrote it; `many` when it was a list (several values, or a Python list)."""

    name: str
    values: list[Item]
    line: int
    many: bool = False
    written: list[str] = field(default_factory=list)  # each value as the shell script wrote it, `$X` unexpanded
    implied_by: str | None = None  # the flag whose literal value this one was inferred from (--use_hf from --model)

    @property
    def value(self) -> Item | list[Item]:
        return list(self.values) if self.many or len(self.values) != 1 else self.values[0]


@dataclass
class Call:
    """One ms-swift invocation found in an input: `swift <command> --flag ...` with the variables in front of it."""

    command: str  # the swift subcommand: pt, sft, rlhf, export, infer, app, deploy, eval, ...
    flags: list[Flag]
    env: list[tuple[str, Item]]
    file: str
    line: int
    name: str = ""  # the stage name, given once the whole chain is known
    notes: list[str] = field(default_factory=list)  # findings that concern this call, as recipe comments

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def get(self, name: str) -> Flag | None:
        return next((f for f in self.flags if f.name == name), None)

    def text(self, name: str) -> str | None:
        """A flag's single literal value as text, or None."""
        flag = self.get(name)
        if flag is None or len(flag.values) != 1 or isinstance(flag.values[0], Code):
            return None
        return str(flag.values[0])

    def remove(self, name: str) -> Flag | None:
        flag = self.get(name)
        if flag is not None:
            self.flags.remove(flag)
        return flag


@dataclass(frozen=True)
class Param:
    """A value the input left open (`$1`, `${MODEL:?}`, an unset variable): a recipe parameter, with the input's
    default where it had one, else one that renders visibly, such as `<MODEL>`."""

    name: str
    default: str
    where: str
    origin: str  # how the input wrote it: `$1`, `${MODEL:-...}`

    @property
    def visible_default(self) -> bool:
        return self.default.startswith("<") and self.default.endswith(">")


@dataclass(frozen=True)
class Finding:
    """Something the user should know about the import, e.g. `pt.sh:4: --sft_type -> --train_type (2.x name)`."""

    where: str
    category: str  # translated, dropped, repaired, hand-off, secret, warning
    text: str

    def __str__(self) -> str:
        return f"{self.where}: {self.category}: {self.text}"


@dataclass
class Imported:
    """The chain read from all inputs, in the order given."""

    sources: list[str]
    calls: list[Call] = field(default_factory=list)
    params: dict[str, Param] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    # The calls a for loop ran, one per value, where the loop is and what it loops over (for importer/sweeps).
    loops: list[tuple[list[Call], str, str]] = field(default_factory=list)
    # A loop over values run as variants: the call, each flag the loop changes with its values in order, where.
    sweeps: list[tuple[Call, list[tuple[str, list[Item]]], str]] = field(default_factory=list)

    def note(self, where: str, category: str, text: str, *, call: Call | None = None) -> None:
        finding = Finding(where, category, text)
        if finding not in self.findings:  # a loop inside a loop says the same at each turn: once is enough
            self.findings.append(finding)
        if call is not None and str(finding) not in call.notes:
            call.notes.append(str(finding))

    def param(self, name: str, default: str, *, where: str, origin: str) -> Code:
        """The recipe parameter `name` (made once, with the first default seen) as code: a Python identifier that
        shadows none of the recipe helpers."""
        name = re.sub(r"\W", "_", name)
        if keyword.iskeyword(name) or name in _RESERVED or not name.isidentifier():
            name += "_"
        if name not in self.params:
            self.params[name] = Param(name, default, where, origin)
        return Code(name)


def literal(text: str) -> Item:
    """A command-line word as the recipe value that renders back to the same word: `1e-4` -> 1e-4, `true` -> True,
    `100` -> 100, anything that would render differently stays text (`5e-05`, `True`, `007`)."""
    from swiftpipe.render.commands import format_float

    if text in ("true", "false"):
        return text == "true"
    try:
        number = int(text)
        if str(number) == text:
            return number
    except ValueError:
        pass
    try:
        real = float(text)
        if format_float(real) == text:
            return real
    except (ValueError, UserError):
        pass
    return text


def python_literal(item: Item) -> str:
    """`item` as Python source."""
    from swiftpipe.render.commands import format_float

    if isinstance(item, Code):
        return item.text
    if isinstance(item, bool):
        return repr(item)
    if isinstance(item, float):
        return format_float(item)
    if isinstance(item, int):
        return str(item)
    if not isinstance(item, str):
        return repr(item)
    if '"' in item and "'" not in item:
        return repr(item)  # '{"question": "instruction"}', as a person would write it
    return json.dumps(item, ensure_ascii=False)


def hub_id(value: object) -> bool:
    """`Qwen/Qwen3-0.6B`: an org/name id, not a path that exists here (LLaMA-Factory and xtuner read such ids from
    the Hugging Face Hub)."""
    return isinstance(value, str) and bool(re.fullmatch(r"[\w.-]+/[\w.-]+", value)) and not Path(value).exists()
