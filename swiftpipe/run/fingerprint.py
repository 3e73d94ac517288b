"""A stage's fingerprint: what decides whether a stage that finished can be reused instead of run again."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

from swiftpipe.render.commands import RenderedStage


@dataclass(frozen=True)
class Fingerprint:
    """What decides whether a finished stage can be reused: its argv and environment, with paths inside the project
    taken relative to it (a moved project's stages are unchanged). `legacy` is the same taken with absolute paths,
    as records before schema 3 hold it, so that they still match where the project has not moved."""

    value: str
    legacy: str

    def matches(self, recorded: str | None) -> bool:
        return recorded is not None and recorded in (self.value, self.legacy)


def fingerprint(rendered: RenderedStage, project: str | None = None) -> Fingerprint:
    project = (project or os.getcwd()).rstrip(os.sep) + os.sep
    argv, env = rendered.command.argv, sorted(rendered.command.env)

    def portable(word: str) -> str:
        head, equals, tail = word.rpartition("=") if word.startswith("--") else ("", "", word)
        return f"{head}{equals}{tail[len(project):]}" if tail.startswith(project) else word

    return Fingerprint(_digest([[portable(w) for w in argv], [(k, portable(v)) for k, v in env]]),
                       _digest([argv, env]))


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
