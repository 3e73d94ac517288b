"""The record shapes the tutorials bring, what each must hold, and how each becomes ms-swift's `messages` form.

A shape names its columns, so LLaMA-Factory's registry can rename them (see `registry.py`). Checks return
`(field, what is wrong)` pairs and cost a few dict lookups on a good record: they run on every line of every
dataset before a chain starts.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from swiftpipe.errors import UserError

# What a data file is for (`data validate --kind`): pretraining text, SFT conversations, preference pairs, KTO's
# single answers labelled good or bad, and the prompts that GRPO and PPO sample answers to (a response optional).
PURPOSES = ("pt", "sft", "dpo", "kto", "prompt")
# What each `swift rlhf` method reads, by its --rlhf_type (a `data validate --kind` may name the method).
METHOD_PURPOSE = {"dpo": "dpo", "rm": "dpo", "orpo": "dpo", "simpo": "dpo", "cpo": "dpo", "kto": "kto",
                  "grpo": "prompt", "ppo": "prompt", "gkd": "sft"}
CONVERTIBLE = ("pt", "sft", "dpo")  # what `data convert --to` writes
Problems = list[tuple[str, str]]


def purpose_of(kind: str) -> str:
    """A `--kind`, a purpose or a method's name, as the purpose its records are checked for."""
    return METHOD_PURPOSE.get(kind, kind)


def check_label(record: dict, out: Problems) -> None:
    """KTO's `label`: true for a good answer, false for a bad one. ms-swift takes bool() of it, so the text "false"
    would be a good answer: only a boolean (or 0/1) is what it looks like."""
    label = record.get("label")
    if label is None:
        out.append(("label", "is missing (KTO needs true for a good answer, false for a bad one)"
                    if "label" not in record else "is null"))
    elif type(label) is not bool and label not in (0, 1):
        out.append(("label", f"is {type_name(label)} {label!r:.20}; expected true or false (ms-swift reads any "
                             "non-empty text as true)"))


def type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def check_text(record: dict, key: str, out: Problems, *, optional: bool = False) -> None:
    value = record.get(key)
    if type(value) is str:
        if optional or (value and not value.isspace()):
            return
        out.append((key, "is empty"))
    elif value is None:
        if not optional:
            out.append((key, "is missing" if key not in record else "is null"))
    else:
        out.append((key, f"is {type_name(value)}, not a string"))


def check_history(record: dict, key: str, out: Problems) -> None:
    history = record.get(key)
    if history is None:
        return
    if type(history) is not list:
        out.append((key, f"is {type_name(history)}; expected a list of [query, response] pairs"))
        return
    for i, pair in enumerate(history):
        if type(pair) is not list or len(pair) != 2 or not all(type(x) is str for x in pair):
            out.append((f"{key}[{i}]", f"is {_describe(pair)}; expected a [query, response] pair of strings"))
            return


def _pairs(history: Any) -> bool:
    return type(history) is list and all(type(p) is list and len(p) == 2 and type(p[0]) is str and type(p[1]) is str
                                         for p in history)


def _describe(value: Any) -> str:
    if type(value) is list:
        return f"a list of {len(value)}" if all(type(x) is str for x in value) else "a list holding non-strings"
    return type_name(value)


def history_messages(history: list | None) -> list[dict]:
    return [{"role": role, "content": text}
            for pair in history or () for role, text in zip(("user", "assistant"), pair)]


@dataclass(frozen=True)
class Shape:
    """One record shape. `native`: ms-swift reads it as it is; otherwise `convert` must come first."""

    name: str
    purposes: tuple[str, ...]
    native: bool = True

    def check(self, record: dict, purpose: str) -> Problems:
        raise NotImplementedError

    def quick(self, purpose: str) -> Callable[[dict], bool] | None:
        """A predicate that is true only for a record `check` finds nothing wrong with, cheaper than `check` (its
        columns bound once, not looked up per record); None where the shape has none. Corpus-scale checking runs it
        first and `check` on what it does not accept, which gives the messages."""
        return None

    def to_messages(self, record: dict, purpose: str) -> dict:
        raise NotImplementedError

    def mapping(self, purpose: str) -> list[tuple[str, str]]:
        raise NotImplementedError


@dataclass(frozen=True)
class Plain(Shape):
    """Pretraining text: `{"text": ...}` or `{"response": ...}`."""

    text: str = "text"

    def check(self, record: dict, purpose: str) -> Problems:
        out: Problems = []
        check_text(record, self.text, out)
        return out

    def to_messages(self, record: dict, purpose: str) -> dict:
        return {"messages": [{"role": "assistant", "content": record[self.text]}]}

    def mapping(self, purpose: str) -> list[tuple[str, str]]:
        return [(self.text, "messages[assistant]")]


@dataclass(frozen=True)
class Pairs(Shape):
    """A prompt and a response, optional system and history; for preference data a rejected response.

    Covers ms-swift's `query`/`response` and alpaca's `instruction`/`input`/`output` (`extra_input` set): a
    non-empty input is joined to the instruction with a newline, as ms-swift's AlpacaPreprocessor does."""

    prompt: str = "query"
    response: str = "response"
    extra_input: str | None = None
    system: str = "system"
    history: str = "history"
    rejected: str = "rejected_response"

    def check(self, record: dict, purpose: str) -> Problems:
        prompt, response, history = record.get(self.prompt), record.get(self.response), record.get(self.history)
        if (type(prompt) is str and type(response) is str and prompt and response and purpose in ("pt", "sft")
                and type(record.get(self.system, "")) is str and self.extra_input is None
                and (history is None or _pairs(history)) and not prompt.isspace() and not response.isspace()):
            return []  # the common case, decided in one expression: this runs on every record of every dataset
        out: Problems = []
        check_text(record, self.prompt, out,
                   optional=self.extra_input is not None and bool(record.get(self.extra_input)))
        if self.extra_input is not None:
            check_text(record, self.extra_input, out, optional=True)
        check_text(record, self.response, out, optional=purpose == "prompt")
        check_text(record, self.system, out, optional=True)
        check_history(record, self.history, out)
        if purpose == "dpo":
            check_text(record, self.rejected, out)
            if not out and record[self.rejected] == record[self.response]:
                out.append((self.rejected, f"is the same text as {self.response} (ms-swift drops such a record)"))
        elif purpose == "kto":
            check_label(record, out)
        return out

    def quick(self, purpose: str) -> Callable[[dict], bool] | None:
        if purpose not in ("pt", "sft") or self.extra_input is not None:
            return None
        prompt_key, response_key, system_key, history_key = self.prompt, self.response, self.system, self.history

        def fine(record: dict) -> bool:
            prompt, response, history = record.get(prompt_key), record.get(response_key), record.get(history_key)
            return (type(prompt) is str and type(response) is str and prompt != "" and response != ""
                    and type(record.get(system_key, "")) is str and (history is None or _pairs(history))
                    and not prompt.isspace() and not response.isspace())
        return fine

    def prompt_text(self, record: dict) -> str:
        instruction = record.get(self.prompt) or ""
        extra = record.get(self.extra_input) if self.extra_input else None
        return f"{instruction}\n{extra}" if instruction and extra else instruction or extra or ""

    def to_messages(self, record: dict, purpose: str) -> dict:
        messages = [{"role": "system", "content": record[self.system]}] if record.get(self.system) else []
        messages += history_messages(record.get(self.history))
        messages += [{"role": "user", "content": self.prompt_text(record)},
                     {"role": "assistant", "content": record[self.response]}]
        converted: dict[str, Any] = {"messages": messages}
        if purpose == "dpo":
            converted["rejected_response"] = record[self.rejected]
        return converted

    def mapping(self, purpose: str) -> list[tuple[str, str]]:
        prompt = f"{self.prompt} + '\\n' + {self.extra_input}" if self.extra_input else self.prompt
        pairs = [(self.system, "messages[system]"), (self.history, "messages[user/assistant turns before]"),
                 (prompt, "messages[user]"), (self.response, "messages[assistant]")]
        return pairs + ([(self.rejected, "rejected_response")] if purpose == "dpo" else [])


ROLE_ALIASES = {"user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant", "bot": "assistant",
                "system": "system", "tool": "tool", "tool_call": "tool_call", "tool_response": "tool_response",
                "function_call": "tool_call", "observation": "tool_response", "function": "tool_call"}


@dataclass(frozen=True)
class Messages(Shape):
    """A list of turns: ms-swift's `messages` (role/content) or ShareGPT's `conversations` (from/value)."""

    messages: str = "messages"
    role: str = "role"
    content: str = "content"
    system: str | None = None
    rejected: str = "rejected_response"
    roles: tuple[tuple[str, str], ...] = tuple(ROLE_ALIASES.items())

    def check(self, record: dict, purpose: str) -> Problems:
        out: Problems = []
        turns = record.get(self.messages)
        if type(turns) is not list or not turns:
            out.append((self.messages, "is missing" if turns is None else
                        "is an empty list" if turns == [] else f"is {type_name(turns)}, not a list of turns"))
            return out
        roles = dict(self.roles)
        for i, turn in enumerate(turns):
            where = f"{self.messages}[{i}]"
            if type(turn) is not dict:
                out.append((where, f"is {type_name(turn)}, not an object with {self.role!r} and {self.content!r}"))
                return out
            role = turn.get(self.role)
            if type(role) is not str or role not in roles:  # a list or an object is no key: no TypeError here
                out.append((f"{where}.{self.role}", f"is {role!r}; expected one of {sorted(set(roles))}"))
                return out
            check_text(turn, self.content, out, optional=roles[role] != "assistant")
            if out:
                out[-1] = (f"{where}.{out[-1][0]}", out[-1][1])
                return out
            if roles[role] == "system" and i:
                out.append((f"{where}.{self.role}", "a system turn after the first one"))
        last = roles[turns[-1][self.role]]
        if purpose not in ("pt", "prompt") and last != "assistant":
            out.append((f"{self.messages}[{len(turns) - 1}].{self.role}", "the last turn must be the assistant's"))
        if purpose == "prompt" and "user" not in {roles[turn[self.role]] for turn in turns}:
            out.append((self.messages, "has no user turn: nothing to answer"))
        if self.system:
            check_text(record, self.system, out, optional=True)
        if purpose == "dpo":
            check_text(record, self.rejected, out)
        elif purpose == "kto":
            check_label(record, out)
        return out

    def to_messages(self, record: dict, purpose: str) -> dict:
        roles = dict(self.roles)
        system = record.get(self.system) if self.system else None
        messages = [{"role": "system", "content": system}] if system else []
        messages += [{"role": roles[turn[self.role]], "content": turn.get(self.content) or ""}
                     for turn in record[self.messages]]
        converted: dict[str, Any] = {"messages": messages}
        if purpose == "dpo":
            converted["rejected_response"] = record[self.rejected]
        return converted

    def mapping(self, purpose: str) -> list[tuple[str, str]]:
        pairs = [(f"{self.messages}[].{self.role}", "messages[].role"), (f"{self.messages}[].{self.content}",
                                                                         "messages[].content")]
        if self.system:
            pairs.insert(0, (self.system, "messages[system]"))
        return pairs + ([(self.rejected, "rejected_response")] if purpose == "dpo" else [])


@dataclass(frozen=True)
class Reward(Pairs):
    """The reward set's `{"question", "response_chosen", "response_rejected"}`: ms-swift does not read it."""

    def check(self, record: dict, purpose: str) -> Problems:
        return Pairs.check(self, record, "dpo")


TEXT = Plain("text", ("pt",))
RESPONSE = Plain("response", ("pt",), text="response")
QUERY_RESPONSE = Pairs("query/response", PURPOSES)
ALPACA = Pairs("alpaca", PURPOSES, prompt="instruction", response="output", extra_input="input")
MESSAGES = Messages("messages", PURPOSES)
SHAREGPT = Messages("sharegpt", ("sft", "dpo", "kto", "prompt"), messages="conversations", role="from", content="value",
                    system="system")
REWARD = Reward("reward", ("sft", "dpo"), native=False, prompt="question", response="response_chosen",
                rejected="response_rejected")


# ms-swift's ResponsePreprocessor reads any of these columns as the query and the response.
QUERY_KEYS = ("query", "prompt", "input", "instruction", "question", "problem")
RESPONSE_KEYS = ("response", "answer", "output", "targets", "target", "answer_key", "answers", "solution", "text",
                 "completion", "content")
_ALIASED: dict[tuple[str, str], Pairs] = {}


def detect(record: dict, purpose: str) -> Shape | None:
    """The shape of one record, by the keys that only it has; None when none fits."""
    if "messages" in record:
        return MESSAGES
    if "conversations" in record:
        return SHAREGPT
    if "instruction" in record and ("input" in record or "output" in record):
        return ALPACA
    if "response_chosen" in record:
        return REWARD
    prompt = next((key for key in QUERY_KEYS if key in record), None)
    response = next((key for key in RESPONSE_KEYS if key in record), None)
    if prompt and response:
        return QUERY_RESPONSE if (prompt, response) == ("query", "response") else _aliased(prompt, response)
    if purpose == "pt" and response in ("text", "response"):
        return TEXT if response == "text" else RESPONSE
    if purpose == "prompt" and prompt and prompt != "query":  # a prompt alone: GRPO and PPO write the answers
        return _aliased(prompt, "response")
    if prompt == "query":
        return QUERY_RESPONSE  # so that the missing response is what gets reported
    return None


def _aliased(prompt: str, response: str) -> Pairs:
    if (prompt, response) not in _ALIASED:
        _ALIASED[prompt, response] = Pairs(f"{prompt}/{response}", PURPOSES, prompt=prompt, response=response)
    return _ALIASED[prompt, response]


def parse_columns(value: object) -> dict[str, str] | None:
    """ms-swift's `--columns` renaming (old name -> new name), from a mapping or the JSON text ms-swift takes."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        try:
            value = json.loads(str(value))
        except json.JSONDecodeError as exc:
            raise UserError(f"--columns: not valid JSON: {exc.msg}") from None
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise UserError('--columns: expected a JSON object of old name -> new name, e.g. {"question": "query"}')
    return dict(value)


def expected(purpose: str) -> str:
    return {"pt": '{"text"}, {"response"} or {"messages"}',
            "sft": '{"query", "response"}, alpaca {"instruction", "input", "output"}, {"messages"} or sharegpt '
                   '{"conversations"}',
            "dpo": '{"query", "response", "rejected_response"}, {"messages", "rejected_response"} or the reward '
                   'set\'s {"question", "response_chosen", "response_rejected"}',
            "kto": '{"query", "response", "label"} or {"messages", "label"}, label true or false',
            "prompt": '{"query"} or {"messages"} with a user turn (a response or a solution column may follow)'
            }[purpose]
