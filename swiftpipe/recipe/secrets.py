"""Secrets passed as flags or launch variables (`--hub_token`, `--wandb_api_key`, `HF_TOKEN`, ...): swiftpipe keeps
them only in the argv and environment of the process it starts, and writes `<redacted>` wherever it writes or
prints them: run records, logs, saved scripts, re-run comments, `render`."""
from __future__ import annotations

import re
from typing import Iterable, Sequence

REDACTED = "<redacted>"
# By the name's last word: hub_token, HF_TOKEN, wandb_api_key, OPENAI_API_KEY, aws_secret_access_key; never
# lazy_tokenize or max_new_tokens.
_SECRET = re.compile(r"(^|_)(token|api_?key|secret|password|passwd|credentials?|access_key|private_key)$",
                     re.IGNORECASE)


def is_secret(name: str) -> bool:
    """Whether a flag or variable name holds a secret by its name."""
    return bool(_SECRET.search(name))


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
