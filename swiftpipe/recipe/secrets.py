"""Secrets passed as flags or launch variables (`--hub_token`, `--wandb_api_key`, `HF_TOKEN`, ...): swiftpipe keeps
them only in the argv and environment of the process it starts, and writes `<redacted>` wherever it records or
prints them: run records, logs, saved scripts, `render`. Where it writes a command for someone to run (exported
scripts, Slurm jobs, the command that resumes a run), a secret is read from the environment instead: the flag's
name in capitals, `--hub_token` from `$HUB_TOKEN`. A recipe parameter is a secret by the same rule for its name,
or when a secret flag or variable takes its value (recipe/loading.py): `-p hub_token=...` is written
`-p hub_token="$HUB_TOKEN"`."""
from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Iterable, Iterator, Mapping, Sequence

REDACTED = "<redacted>"
MIN_SECRET_LENGTH = 8
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


def _secret_words(argv: Sequence[str]) -> Iterator[tuple[int, str, bool]]:
    """(index of the word that holds it, the value, whether it is inline) for every secret flag's value in `argv`:
    the word after `--name`, or the `--name=value` word itself."""
    hide_next = False
    for i, word in enumerate(argv):
        if hide_next:
            yield i, word, False
            hide_next = False
            continue
        name, equals, value = word.partition("=")
        if word.startswith("--") and is_secret(name[2:]):
            if equals:
                yield i, value, True
            else:
                hide_next = True


def redact_argv(argv: Sequence[str]) -> list[str]:
    """`argv` with the value of every secret flag (`--name value` or `--name=value`) replaced."""
    shown = list(argv)
    for i, _, inline in _secret_words(argv):
        shown[i] = f"{shown[i].partition('=')[0]}={REDACTED}" if inline else REDACTED
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


def secret_values(argv: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """The values of the secret flags in `argv` and of the secret variables in `env`: what a program's output must
    not show, in whatever form it prints them."""
    values = [value for name, value in env.items() if is_secret(name)]
    values += [value for _, value, _ in _secret_words(argv)]
    # Replaced wherever they appear, so a placeholder such as OPENAI_API_KEY=EMPTY in the shell's environment
    # must not blank every EMPTY of a log: values that short are no secret, and their names still hide them.
    return [value for value in values if len(value) >= MIN_SECRET_LENGTH]


# The forms ms-swift 3.12 prints its arguments in, each value then hidden when its name is a secret's:
#   run sh: `python .../sft.py --hub_token VALUE ...`     (swift/cli/main.py echoes the whole command)
#   args: ExportArguments(..., hub_token='VALUE', ...)      (a dataclass's repr: export, infer, eval)
#   swanlab_secret=VALUE,                                    (transformers' TrainingArguments.__str__, one a line;
#                                                             it hides *_token itself, not *_secret or *_api_key)
#   {'hub_token': 'VALUE'}, HF_TOKEN=VALUE, "api_key": "VALUE"  (dicts, the environment, JSON)
_VALUE = r"""(?P<value>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|[^\s,;)}\]`'"]+)"""
_FORMS = (
    r"--(?P<name>[\w-]+)(?:=|[ \t]+)(?!--)" + _VALUE,
    r"(?P<name>\w+)=" + _VALUE,
    r"""(?P<quote>['"])(?P<name>\w+)(?P=quote)[ \t]*:[ \t]*""" + _VALUE,  # not `NAME: text`
)
_SHORTEST_KNOWN = 4  # a known value shorter than this is not replaced wherever it appears: it would be everywhere


def redact_text(text: str, known: Iterable[str] = ()) -> str:
    """`text` (a program's output) with every `known` secret value replaced wherever it appears, and the value of
    every secret name in the forms above; a value never spans lines."""
    for value in sorted({v for v in known if len(v) >= _SHORTEST_KNOWN}, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    for form in _compiled():
        text = form.sub(_hidden, text)
    return text


@functools.lru_cache(maxsize=1)
def _compiled() -> tuple[re.Pattern[str], ...]:
    """_FORMS compiled, the first time output is redacted: `render` and `info` never need them."""
    return tuple(re.compile(form) for form in _FORMS)


_NO_SECRET = re.compile(r"None|''|\"\"|<[A-Z_]+>")  # nothing given, or hidden already (transformers' <HUB_TOKEN>)


def _hidden(match: re.Match[str]) -> str:
    if not is_secret(match["name"]) or _NO_SECRET.fullmatch(match["value"]):
        return match[0]
    value = match["value"]
    quote = value[0] if value[0] in "'\"" else ""
    return match[0][:match.start("value") - match.start()] + quote + REDACTED + quote


class OutputRedactor:
    """A program's output redacted as it streams (bytes in, bytes out, byte for byte elsewhere): a line at a time, so
    that no secret is cut in two where a read ends. The unfinished last line is held until its end (a newline, or
    the carriage return of a progress bar) comes, or until it is `longest` bytes long."""

    def __init__(self, known: Iterable[str] = (), *, longest: int = 1 << 20) -> None:
        self.known, self.longest = list(known), longest
        self._held = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self._held + chunk
        cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
        if not cut and len(data) < self.longest:
            self._held = data
            return b""
        cut = cut or len(data)
        self._held = data[cut:]
        return self._redacted(data[:cut])

    def end(self) -> bytes:
        """What is still held, at the end of the output."""
        rest, self._held = self._held, b""
        return self._redacted(rest)

    def _redacted(self, data: bytes) -> bytes:
        if not data:
            return data
        return redact_text(data.decode("utf-8", "surrogateescape"), self.known).encode("utf-8", "surrogateescape")
