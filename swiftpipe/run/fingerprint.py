"""A stage's fingerprint: what decides whether a stage that finished can be reused instead of run again."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

from swiftpipe.records.record_types import StageRecord
from swiftpipe.render.commands import RenderedStage


@dataclass(frozen=True)
class Fingerprint:
    """What decides whether a finished stage can be reused: its argv and environment, secrets redacted (a rotated
    token changes no stage, and no record holds a hash of one) and paths inside the project taken relative to it (a
    moved project's stages are unchanged). `legacy` is the same taken as records before schema 3 hold it: the
    values as given and absolute paths in the folder the project was in then, so that those records still match."""

    value: str
    legacy: str

    def matches(self, recorded: str | None) -> bool:
        return recorded is not None and recorded in (self.value, self.legacy)


def fingerprint(rendered: RenderedStage, *, project: str | None = None, recorded_in: str | None = None) -> Fingerprint:
    """`rendered`'s fingerprint in `project` (the working directory); `recorded_in`: where the project was when
    an older record of the run was written (RunRecord.recorded_in)."""
    here = (project or os.getcwd()).rstrip(os.sep) + os.sep
    then = (recorded_in or here).rstrip(os.sep) + os.sep

    def rebased(word: str, prefix: str) -> str:
        head, equals, tail = word.rpartition("=") if word.startswith("--") else ("", "", word)
        return f"{head}{equals}{prefix}{tail[len(here):]}" if tail.startswith(here) else word

    shown = rendered.command.redacted()
    value = _digest([[rebased(w, "") for w in shown.argv], [(k, rebased(v, "")) for k, v in sorted(shown.env)]])
    argv, env = rendered.command.argv, sorted(rendered.command.env)
    legacy = _digest([[rebased(w, then) for w in argv], [(k, rebased(v, then)) for k, v in env]])
    return Fingerprint(value, legacy)


def seal(entry: StageRecord, *, project: str | None = None) -> str:
    """A finished stage as the stages that read its outputs see it: its command, what it read and what it produced
    (outputs inside the project relative to it, so that a moved project's seals stay). A stage that ran again with
    another command or other inputs, or that produced its outputs elsewhere, has another seal, and the stages that
    read them run again."""
    here = (project or os.getcwd()).rstrip(os.sep) + os.sep
    outputs = sorted((output.value, path.removeprefix(here)) for output, path in entry.outputs.items())
    inputs = [[h.flag, h.identity] for h in entry.inputs or ()]
    return _digest([entry.fingerprint, inputs, outputs])


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value).encode()).hexdigest()[:16]


def changed_flags(before: list[str], now: list[str], *, shown: int = 3) -> str:
    """How a stage's command changed, for people: `--train_type lora -> full, --lora_rank removed`. A checkpoint to
    continue from is not a change of the stage."""
    old, new = _flags(before), _flags(now)
    changes = [f"{name} {' '.join(old[name]) or 'set'} -> {' '.join(new[name]) or 'set'}"
               for name in new if name in old and old[name] != new[name]]
    changes += [f"{name} added" for name in new if name not in old]
    changes += [f"{name} removed" for name in old if name not in new]
    if not changes:
        return "its launch variables or program changed"
    more = f", and {len(changes) - shown} more" if len(changes) > shown else ""
    return ", ".join(changes[:shown]) + more


def _flags(argv: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for word in argv[2:]:  # after `swift <subcommand>`
        if word.startswith("--"):
            name, equals, value = word.partition("=")
            current = found.setdefault(name, [])
            if equals:
                current.append(value)
        elif current is not None:
            current.append(word)
    found.pop("--resume_from_checkpoint", None)
    return found
