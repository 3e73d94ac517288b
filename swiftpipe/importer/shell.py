"""Shell scripts: every `swift <sub>` command with the variables in front of it and the `export`s before it, read
with bashlex (a port of bash's own parser), the way the author meant it (see repairs), plus the command lines of
the tools people come from (`torchrun ... swift/cli/sft.py`, `xtuner`, `llamafactory-cli`). Two repairs need the
parsed script and are made here: flags after a line that lost its backslash, and a launch variable on its own line
just above the command (seed 000's `NPROC_PER_NODE=1`).
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import bashlex

from swiftpipe.importer import llamafactory, repairs, rewrites, xtuner
from swiftpipe.importer.calls import Call, Code, Flag, Imported, ImportProblem, Item
from swiftpipe.importer.words import Expander, Node, Piece, Substitution, item_of
from swiftpipe.recipe.launch import VARIABLES as LAUNCH_VARIABLES

_WRAPPERS = {"nohup", "time", "exec", "command", "env"}
_NOT_WRAPPERS = {"echo", "printf", "eval", "cat", "tee", "grep", "export", "declare", "local"}
# Sourced files that set up an environment (conda, a venv, the login shell) rather than the script's values.
_ENVIRONMENT_SETUP = {"activate", "conda.sh", ".bashrc", ".bash_profile", ".profile"}
# Launchers that start ms-swift's swift/cli/<sub>.py themselves: their options -> the variables ms-swift's own launcher
# reads.
_TORCHRUN = {"nproc_per_node": "NPROC_PER_NODE", "nnodes": "NNODES", "node_rank": "NODE_RANK",
             "master_addr": "MASTER_ADDR", "master_port": "MASTER_PORT"}
_LAUNCHERS = {"torchrun": _TORCHRUN, "deepspeed": {"num_gpus": "NPROC_PER_NODE", "num_nodes": "NNODES",
                                                   "master_addr": "MASTER_ADDR", "master_port": "MASTER_PORT"}}

# The loop, condition or function a command sits in: the construct ("for loop"), its node, the names it binds.
Context = tuple[str, Node, set[str]]
Assignments = list[tuple[str, list[Piece]]]


def read(path: str, text: str, imported: Imported) -> None:
    """Add every swift command of the script at `path` to `imported`."""
    text = repairs.repaired(text, path, imported)
    text, arrays = rewrites.for_bashlex(text)
    try:
        nodes = bashlex.parse(text)
    except bashlex.errors.ParsingError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise ImportProblem(f"bash cannot read this: {exc.message}", where=f"{path}:{line}") from None
    except NotImplementedError as exc:
        raise ImportProblem(f"uses shell syntax swiftpipe cannot import ({exc})", where=path) from None
    _Walk(text, path, imported, arrays).run(nodes)


class _Walk:
    def __init__(self, text: str, path: str, imported: Imported, arrays: dict[str, str]) -> None:
        self.text = text
        self.path = path
        self.imported = imported
        self.words = Expander(text, path, imported)
        self.words.array_texts = arrays
        self.pending_launch: tuple[int, Assignments] | None = None  # a variable line above
        self.last_call: Call | None = None
        self.last_end = -1
        self.sourced: str | None = None
        self.xtuner = xtuner.CommandLines(path, imported)

    def run(self, nodes: list[Node]) -> None:
        for node, context in _commands(nodes, None):
            self.command(node, context)

    def command(self, node: Node, context: Context | None) -> None:
        assignments = [p for p in node.parts if p.kind == "assignment"]
        words = [p for p in node.parts if p.kind == "word"]
        start_line = self.words.line_of(node.pos[0])
        last = self.last_call
        if last is not None and words and words[0].word.startswith("--") \
                and self.text[self.last_end:node.pos[0]].strip() == "":  # flags joined to the command above
            self.imported.note(f"{self.path}:{start_line}", "repaired", "these flags follow a line that lost its "
                               f"backslash; they belong to the command at {last.where}")
            self._add_flags(last, words)
            self.last_end = node.pos[1]
            return
        while words and words[0].word in _WRAPPERS:
            words.pop(0)
            while words and words[0].word.startswith("-"):
                words.pop(0)
        pairs = [(a.word.partition("=")[0], self._value_of(a)) for a in assignments]
        if not words:
            for name, pieces in pairs:
                if context is not None:  # set only when a condition holds, or in a loop: not known here
                    self.words.uncertain.setdefault(name.rstrip("+"), f"{self.path}:{start_line}")
                    continue
                self.words.assign(name, pieces)
            if pairs and all(name in LAUNCH_VARIABLES for name, _ in pairs):
                self.pending_launch = (node.pos[1], pairs)
            return
        first = words[0].word
        ahead = next((i for i, w in enumerate(words[:5]) if w.word == "swift" or w.word.endswith("/swift")), None)
        if ahead and first not in _NOT_WRAPPERS and len(words) > ahead + 1 and words[ahead + 1].word.isidentifier():
            self.imported.note(f"{self.path}:{start_line}", "dropped", f"`{' '.join(w.word for w in words[:ahead])}` "
                               "in front of swift (swiftpipe runs swift in its own environment)")
            words, first = words[ahead:], words[ahead].word
        if first == "export" or first == "declare":
            for word in words[1:]:
                name, equals, _ = word.word.partition("=")
                if equals:
                    self.words.assign(name, self._value_of(word), export=True)
                elif name.isidentifier() and name in self.words.variables:
                    self.words.assign(name, self.words.variables[name], export=True)
            return
        if first in ("source", "."):
            if len(words) < 2 or words[1].word.rsplit("/", 1)[-1] not in _ENVIRONMENT_SETUP:
                self.sourced = f"{self.path}:{start_line}"
            return
        if first == "eval" and "swift" in " ".join(str(p) for w in words[1:] for ws in self.words.words(w)
                                                   for p in ws):
            raise ImportProblem("a command built at run time (eval) cannot be imported", where=f"{self.path}:"
                                f"{start_line}")
        if first == "xtuner":
            self._xtuner(node, words, start_line)
            return
        if first == "llamafactory-cli" or first == "lmf":
            self._llamafactory(node, words, start_line)
            return
        if first == "megatron" and len(words) > 1:
            raise ImportProblem(f"`megatron {words[1].word}` (Megatron-SWIFT) is not a command swiftpipe runs; it "
                                "imports `swift` commands", where=f"{self.path}:{start_line}")
        if first == "accelerate" and any(re.search(r"swift/cli/", w.word) for w in words):
            raise ImportProblem("`accelerate launch` with its own config file is not imported: run ms-swift with its "
                                "launcher (NPROC_PER_NODE=N swift <sub>) and the FSDP settings as --fsdp flags",
                                where=f"{self.path}:{start_line}")
        subcommand = None
        if first in _LAUNCHERS:
            launched = self._launcher(words, start_line)
            if launched is None:
                return
            subcommand, launch_pairs, words = launched
            pairs = pairs + launch_pairs
        elif first != "swift" and not first.endswith("/swift"):
            return
        if context is not None:
            self._check_context(node, context)
        self._swift(node, words, pairs, start_line, subcommand=subcommand)

    def _launcher(self, words: list[Node], line: int) -> tuple[str, Assignments, list[Node]] | None:
        """`torchrun --nproc_per_node 4 ... swift/cli/sft.py FLAGS` (or deepspeed's launcher) as `swift sft FLAGS` with
        the launch variables ms-swift's own launcher reads; None when it launches something other than ms-swift."""
        launcher = words[0].word
        at = next((i for i, w in enumerate(words) if re.search(r"(^|/)swift/cli/[\w-]+\.py$", w.word)), None)
        if at is None:
            return None
        pairs: Assignments = []
        i = 1
        while i < at:
            name, equals, value = words[i].word.lstrip("-").partition("=")
            variable = _LAUNCHERS[launcher].get(name.replace("-", "_"))
            pieces: list[Piece] | None = None
            if equals:
                pieces = self._value_of(words[i])
            elif i + 1 < at and not words[i + 1].word.startswith("-"):
                pieces = self.words.expand(words[i + 1])
                i += 1
            if variable and pieces is not None:
                pairs.append((variable, pieces))
            elif not variable:
                self.imported.note(f"{self.path}:{line}", "dropped", f"{launcher} {words[i].word} (ms-swift's own "
                                   "launcher has no such setting)")
            i += 1
        subcommand = Path(words[at].word).stem.replace("_", "-")
        self.imported.note(f"{self.path}:{line}", "translated", f"{launcher} ... {words[at].word} -> "
                           f"{' '.join(f'{n}=...' for n, _ in pairs)} swift {subcommand}")
        return subcommand, pairs, [words[at], words[at], *words[at + 1:]]

    def _swift(self, node: Node, words: list[Node], pairs: Assignments, line: int, *,
               subcommand: str | None = None) -> None:
        if subcommand is None and (len(words) < 2 or words[1].word.startswith("-")):
            raise ImportProblem("`swift` without a subcommand", where=f"{self.path}:{line}")
        env = [(name, pieces) for name in self.words.exported for pieces in [self.words.variables[name]]]
        if self.pending_launch and self.text[self.pending_launch[0]:node.pos[0]].count("\n") == 1:
            names = ", ".join(name for name, _ in self.pending_launch[1])
            self.imported.note(f"{self.path}:{line - 1}", "repaired", f"{names} on the line above the command, "
                               "without a backslash, never reached swift; passed to it, as meant")
            env += self.pending_launch[1]
        self.pending_launch = None
        env += pairs
        launch = {name: p[0] for name, p in env if len(p) == 1 and isinstance(p[0], str)}
        call = Call(subcommand or words[1].word, [], [], self.path, line)
        for name, pieces in dict(env).items():
            item = item_of(pieces, launch=launch, where=call.where, imported=self.imported)
            if isinstance(item, Substitution):  # a recipe holds values, not commands to run
                self.imported.note(call.where, "dropped", f"{name}={item.text} (built by another program at run "
                                   "time; give the recipe its value)", call=call)
            else:
                call.env.append((name, item))
        before = set(self.imported.params)
        self._add_flags(call, words[2:])
        unset = [p for name, p in self.imported.params.items() if name not in before and not name.startswith("arg")]
        if self.sourced and unset:
            raise ImportProblem(f"this command uses {unset[0].origin}, which the file sourced at {self.sourced} may "
                                "set; a sourced file cannot be imported: give the values in the script",
                                where=call.where)
        if any(p.kind == "redirect" for p in node.parts):
            self.imported.note(call.where, "dropped", "the output redirect (swiftpipe keeps each stage's log in its "
                               "run folder)", call=call)
        self.imported.calls.append(call)
        self.last_call = call
        self.last_end = node.pos[1]

    def _llamafactory(self, node: Node, words: list[Node], line: int) -> None:
        """`llamafactory-cli train|export|chat|webchat CONFIG.yaml [key=value ...]`: the config, with the command
        line's overrides, as its stage (webchat: `swift app`)."""
        texts = ["".join(str(p) for p in pieces) for w in words for pieces in self.words.words(w)]
        if len(texts) < 3 or texts[1] not in ("train", "export", "chat", "webchat", "eval"):
            self.imported.note(f"{self.path}:{line}", "dropped", f"llamafactory-cli {' '.join(texts[1:2])} (no "
                               "ms-swift stage)")
            return
        config = next((p for p in (Path(self.path).parent / texts[2], Path(texts[2])) if p.is_file()), None)
        if config is None:
            raise ImportProblem(f"llamafactory-cli {texts[1]} {texts[2]}: the config is not here (give it beside the "
                                "script, or import the config file itself)", where=f"{self.path}:{line}")
        overrides = dict(t.split("=", 1) for t in texts[3:] if "=" in t)
        before = len(self.imported.calls)
        llamafactory.read(str(config), config.read_text(encoding="utf-8"), self.imported, overrides=overrides)
        for call in self.imported.calls[before:]:
            if texts[1] == "webchat":
                call.command = "app"
            call.env = self._exported_literals()
            call.env += [(name, "".join(str(p) for p in pieces)) for name, pieces in
                         ((a.word.partition("=")[0], self._value_of(a)) for a in node.parts if a.kind == "assignment")]
            self.imported.note(f"{self.path}:{line}", "translated", f"llamafactory-cli {texts[1]} {texts[2]} -> swift "
                               f"{call.command}", call=call)
            self.last_call, self.last_end = call, node.pos[1]

    def _xtuner(self, node: Node, words: list[Node], line: int) -> None:
        texts = ["".join(str(p) for p in pieces) for w in words for pieces in self.words.words(w)]
        call = self.xtuner.call(texts, line=line)
        if call is not None:
            call.env = self._exported_literals()
            self.imported.calls.append(call)
            self.last_call, self.last_end = call, node.pos[1]

    def _add_flags(self, call: Call, words: list[Node]) -> None:
        launch = {name: str(v) for name, v in call.env if not isinstance(v, Code)}
        for node in words:
            where = self.words.where(node)
            line = self.words.line_of(node.pos[0])
            for pieces in self.words.words(node):
                head = pieces[0]
                if isinstance(head, str) and head.startswith("--") and (len(pieces) == 1 or "=" in head):
                    name, equals, value = head[2:].partition("=")  # the value may expand: `--lr=$LR`
                    if call.get(name) is not None:
                        call.remove(name)
                        self.imported.note(where, "dropped", f"an earlier --{name} of the same command (ms-swift "
                                           "keeps the last)", call=call)
                    call.flags.append(Flag(name, [], line))
                    if not equals:
                        continue
                    pieces = [value, *pieces[1:]] if value or len(pieces) == 1 else pieces[1:]
                    written = node.word.partition("=")[2]
                elif not call.flags:
                    raise ImportProblem(f"`swift {call.command}` takes flags, not {node.word!r}", where=where)
                else:
                    written = node.word
                flag = call.flags[-1]
                item = item_of(pieces, launch=launch, where=where, imported=self.imported)
                # a Substitution stays only until handoffs.link, which makes it a reference or stops the import
                flag.values.append(item)  # type: ignore[arg-type]
                flag.written.append(written)
                flag.many = len(flag.values) > 1

    def _value_of(self, node: Node) -> list[Piece]:
        """The value of an assignment (`NAME=value`) or an option (`--name=value`), expanded."""
        pieces = self.words.expand(node)
        first = pieces[0]
        if isinstance(first, str) and "=" in first:
            value = first.partition("=")[2]
            return [value, *pieces[1:]] if value or len(pieces) == 1 else pieces[1:]
        return pieces

    def _exported_literals(self) -> list[tuple[str, Item]]:
        """The exported variables whose values are plain text, for a tool's command line turned into a stage."""
        literals: list[tuple[str, Item]] = []
        for name in self.words.exported:
            pieces = self.words.variables[name]
            if len(pieces) == 1 and isinstance(pieces[0], str):
                literals.append((name, pieces[0]))
        return literals

    def _check_context(self, node: Node, context: Context) -> None:
        construct, around, bound = context
        where = self.words.where(around)
        source = self.text[node.pos[0]:node.pos[1]]
        used = [name for name in bound if re.search(rf"\$\{{?{re.escape(name)}\b", source)]
        if used:
            raise ImportProblem(f"this swift command runs inside a {construct} and uses its ${used[0]}; a recipe has "
                                "one stage per command: write the commands out, one per run", where=where)
        self.imported.note(where, "warning", f"the swift command inside this {construct} was imported as one stage; "
                           f"the {construct} itself was left out")


def _commands(nodes: list[Node], context: Context | None) -> Iterator[tuple[Node, Context | None]]:
    """Every simple command in order, with the loop, condition or function it sits in (Context)."""
    for node in nodes:
        node_type = node.kind  # bashlex's name for what the node is
        if node_type == "command":
            yield node, context
        elif node_type in ("list", "pipeline"):
            yield from _commands([p for p in node.parts if p.kind not in ("operator", "pipe")], context)
        elif node_type == "compound":
            yield from _commands([p for p in node.list if p.kind not in ("reservedword", "operator")], context)
        elif node_type in ("for", "while", "until", "if", "function"):
            bound: set[str] = set()
            if node_type == "for":
                bound.add(node.parts[1].word)
            if node_type == "function":
                bound.update(str(n) for n in range(1, 10))
                bound.add("@")
            label = {"for": "for loop", "while": "while loop", "until": "until loop", "if": "condition",
                     "function": "function"}[node_type]
            inner = [p for p in node.parts if p.kind not in ("reservedword", "word", "operator")]
            yield from _commands(inner, context or (label, node, bound))
