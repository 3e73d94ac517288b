"""Secrets passed as flags or launch variables (`--hub_token`, `--wandb_api_key`, `HF_TOKEN`, ...): swiftpipe keeps
them only in the argv and environment of the process it starts, and writes `<redacted>` wherever it records or
prints them: run records, logs, saved scripts, `render`. Where it writes a command for someone to run (exported
scripts, Slurm jobs, the command that resumes a run), a secret is read from the environment instead: the flag's
name in capitals, `--hub_token` from `$HUB_TOKEN`. A recipe parameter is a secret by the same rule for its name,
or when a secret flag or variable takes its value (recipe/loading.py): `-p hub_token=...` is written
`-p hub_token="$HUB_TOKEN"`."""
from __future__ import annotations

import re
import shlex
from typing import Iterable, Sequence

REDACTED = "<redacted>"
# By the name's last word: hub_token, HF_TOKEN, wandb_api_key, OPENAI_API_KEY, aws_secret_access_key; never
# lazy_tokenize or max_new_tokens.
_SECRET = re.compile(r"(^|_)(token|api_?key|secret|password|passwd|credentials?|access_key|private_key)$",
                     re.IGNORECASE)


def is_secret(name: str) -> bool:
    """Whether a flag or variable name holds a secret by its name."""
    return bool(_SECRET.search(name))


def variable(name: str) -> str:
    """The environment variable a written command reads a secret from: `hub_token` -> `HUB_TOKEN`."""
    return re.sub(r"\W", "_", name).upper()


def redact_argv(argv: Sequence[str]) -> list[str]:
    """`argv` with the value of every secret flag (`--name value` or `--name=value`) replaced."""
    shown: list[str] = []
    hide_next = False
    for word in argv:
        if hide_next:
            shown.append(REDACTED)
            hide_next = False
            continue
        name, equals, _ = word.partition("=")
        if word.startswith("--") and is_secret(name):
            shown.append(f"{name}={REDACTED}" if equals else word)
            hide_next = not equals
        else:
            shown.append(word)
    return shown


def redact_env(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, REDACTED if is_secret(name) else value) for name, value in pairs]


def redact_set(text: str) -> str:
    """A `--set STAGE.FLAG=VALUE` with a secret flag's value replaced."""
    target, equals, _ = text.partition("=")
    return f"{target}={REDACTED}" if equals and is_secret(target.partition(".")[2]) else text


def param_from_environment(name: str) -> str:
    """A secret `-p NAME=VALUE` as a shell word for a command to run: `hub_token="$HUB_TOKEN"`."""
    return f'{name}="${variable(name)}"'


def set_from_environment(text: str) -> tuple[str, str | None]:
    """A `--set STAGE.FLAG=VALUE` as a shell word for a command to run: a secret's value becomes `"$VARIABLE"`.
    Returns the word and the variable (None when the value is not a secret)."""
    target, equals, _ = text.partition("=")
    flag = target.partition(".")[2]
    if not (equals and is_secret(flag)) or not re.fullmatch(r"[\w.-]+", target):
        return shlex.quote(text), None
    return f'{target}="${variable(flag)}"', variable(flag)
