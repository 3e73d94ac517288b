"""Shell scripts: every `swift <sub>` command with the variables in front of it and the `export`s before it, read
from bash's syntax tree (importer/bash_syntax) the way bash runs the script: a `for` loop's command once per value,
a function's at each call with its arguments, a file sourced beside the script read where it is sourced, plus the
command lines of the tools people come from (`torchrun ... swift/cli/sft.py`, `xtuner`, `llamafactory-cli`). The
broken continuations people write are repaired first (repairs); two repairs need the parsed script and are made
here: flags after a line that lost its backslash, and a launch variable on its own line just above the command
(seed 000's `NPROC_PER_NODE=1`).
"""
from __future__ import annotations

import re
from pathlib import Path

from swiftpipe.importer import bash_syntax, repairs, swift_config, tools, xtuner
from swiftpipe.importer.bash_syntax import Node, Script
from swiftpipe.importer.calls import Call, Code, Flag, Imported, ImportProblem
from swiftpipe.importer.loops import Context, Loops, Stop
from swiftpipe.importer.values import item_of
from swiftpipe.importer.words import Expander, Piece, Substitution, Variables, plain
from swiftpipe.recipe.launch import VARIABLES as LAUNCH_VARIABLES

_WRAPPERS = {"nohup", "time", "exec", "command", "env"}
_NOT_WRAPPERS = {"echo", "printf", "eval", "cat", "tee", "grep", "export", "declare", "local"}
# Sourced files that set up an environment (conda, a venv, the login shell) rather than the script's values.
_ENVIRONMENT_SETUP = {"activate", "conda.sh", ".bashrc", ".bash_profile", ".profile"}
_RELEVANT = {"swift", "xtuner", "llamafactory-cli", "lmf", "megatron", "accelerate", "eval", "source", ".", "bash",
             "sh", *tools.LAUNCHERS, *_WRAPPERS}
_CONFIG_FILE = re.compile(r"\.(ya?ml|json)$")

Assignments = list[tuple[str, list[Piece]]]
Word = tuple[list[Piece], str, int]  # an expanded word, as written, and its line


def read(path: str, text: str, imported: Imported) -> None:
    """Add every swift command of the script at `path` to `imported`."""
    script = bash_syntax.parse(repairs.repaired(text, path, imported), path)
    walk = _Walk(script, imported)
    try:
        walk.loops.run(script.statements, None)
    except Stop as stop:  # an `exit` (or a `return` at the top) that no condition guards: the script ends there
        if stop.where is not None:
            imported.note(stop.where, "dropped", f"what follows this `{stop.kind}` (bash never runs it)")


class _Walk:
    def __init__(self, script: Script, imported: Imported) -> None:
        self.script = script
        self.path = script.path
        self.imported = imported
        self.words = Expander(script, imported, Variables(), program=script.path)
        self.loops = Loops(self)
        self.pending_launch: tuple[int, Assignments] | None = None  # a variable line above
        self.last_call: Call | None = None
        self.last_end = -1
        self.sourced: str | None = None  # where a file that could not be read was sourced
        self.params_before: set[str] = set()  # the recipe's parameters before the command being read
        self.reading = {str(Path(script.path).resolve())}
        self.xtuner = xtuner.CommandLines(script.path, imported)

    def command(self, statement: Node, context: Context | None) -> None:
        """One simple command (or `export`/`declare`/`local`)."""
        command = statement["Cmd"]
        if command["Type"] == "DeclClause":
            self._declare(command, context)
            return
        assignments = command.get("Assigns") or []
        args = command.get("Args") or []
        line = bash_syntax.line(statement)
        heads = self._head(args)
        head = [text for texts in heads for text in texts]
        last = self.last_call
        if last is not None and head and (head[0] or "").startswith("--") \
                and self.script.between(self.last_end, bash_syntax.start(statement)).strip() == "":
            self.imported.note(f"{self.path}:{line}", "repaired", "these flags follow a line that lost its "
                               f"backslash; they belong to the command at {last.where}")
            self._add_flags(last, self._expanded(args))
            self.last_end = bash_syntax.end(statement)
            return
        if not args:
            self._assignments(assignments, statement, context)
            return
        self._written_file(statement)
        if head[0] in self.loops.functions:
            self.loops.call(head[0], [w for node in args[1:] for w in self.words.words(node)], context,
                            assignments=[a for a in assignments if a.get("Name")])
            return
        if not any(text in _RELEVANT or _is_swift(text) for text in head) \
                and not any(re.search(r"(^|/)swift/cli/", text or "") for text in head):
            return
        pairs: Assignments = [(a["Name"]["Value"], self.words.expand(a["Value"]) if a.get("Value") else [""])
                              for a in assignments if a.get("Name")]
        ahead = next((i for i, texts in enumerate(heads[:5]) if any(_is_swift(t) for t in texts)), 0)
        if head[0] in _WRAPPERS or head[0] in _NOT_WRAPPERS:
            ahead = 0
        with self.words.dry():  # what stands in front of swift is dropped: it sets nothing in the recipe
            prefix = self._expanded(args[:ahead])
        self.params_before = set(self.imported.params) - {name for name, _ in pairs}
        self._run(statement, prefix + self._expanded(args[ahead:]), pairs, line, context)

    def _run(self, statement: Node, words: list[Word], pairs: Assignments, line: int,
             context: Context | None) -> None:
        texts = [_text(w) for w in words]
        while texts and texts[0] in _WRAPPERS:
            wrapper = texts[0]
            if wrapper == "command" and len(texts) > 1 and texts[1] in ("-v", "-V"):
                return  # `command -v swift`: is it installed? Nothing runs
            words, texts = words[1:], texts[1:]
            while texts and (texts[0] or "").startswith("-"):
                words, texts = words[1:], texts[1:]
            while wrapper == "env" and texts and re.match(r"^[A-Za-z_]\w*=", texts[0] or ""):
                name, _, value = (texts[0] or "").partition("=")
                pairs.append((name, [value]))
                words, texts = words[1:], texts[1:]
        if not words:
            return
        first = texts[0] or ""
        ahead = next((i for i, t in enumerate(texts[:5]) if _is_swift(t)), None)
        if ahead and first not in _NOT_WRAPPERS and len(texts) > ahead + 1 and (texts[ahead + 1] or "").isidentifier():
            self.imported.note(f"{self.path}:{line}", "dropped", f"`{' '.join(w[1] for w in words[:ahead])}` in "
                               "front of swift (swiftpipe runs swift in its own environment)")
            words, texts, first = words[ahead:], texts[ahead:], texts[ahead] or ""
        if first in ("source", "."):
            self._source(texts[1] if len(texts) > 1 else None, line, context)
            return
        if first in ("bash", "sh"):
            if len(texts) > 1 and (texts[1] or "").endswith(".sh"):
                self._source(texts[1], line, context, arguments=[w[0] for w in words[2:]])
            return
        if first == "eval" and "swift" in " ".join(str(p) for w in words[1:] for p in w[0]):
            raise ImportProblem("a command built at run time (eval) cannot be imported", where=f"{self.path}:{line}")
        if first == "xtuner":
            tools.xtuner_cli(self, statement, texts, line)
            return
        if first in ("llamafactory-cli", "lmf"):
            tools.llamafactory_cli(self, statement, texts, pairs, line)
            return
        if first == "megatron" and len(texts) > 1:
            raise ImportProblem(f"`megatron {texts[1]}` (Megatron-SWIFT) is not a command swiftpipe runs; it "
                                "imports `swift` commands", where=f"{self.path}:{line}")
        if first == "accelerate" and any(re.search(r"swift/cli/", t or "") for t in texts):
            raise ImportProblem("`accelerate launch` with its own config file is not imported: run ms-swift with its "
                                "launcher (NPROC_PER_NODE=N swift <sub>) and the FSDP settings as --fsdp flags",
                                where=f"{self.path}:{line}")
        subcommand = None
        if first in tools.LAUNCHERS:
            launched = tools.launched(self, words, texts, line)
            if launched is None:
                return
            subcommand, launch_pairs, words = launched
            pairs = pairs + launch_pairs
        elif not _is_swift(first):
            return
        if context is not None:
            self.loops.warn(context)
        self._swift(statement, words, pairs, line, subcommand=subcommand)

    def _written_file(self, statement: Node) -> None:
        """`cat > ds_config.json <<EOF ... EOF`: a file the script writes when it runs, which a recipe does not."""
        redirects = statement.get("Redirs") or []
        if not any(r.get("Hdoc") for r in redirects):
            return
        for redirect in redirects:
            if str(redirect.get("Op")) in (">", ">>", ">|") and redirect.get("Word"):
                with self.words.dry():
                    target = plain(self.words.expand(redirect["Word"])) or self.words.written(redirect["Word"])
                self.imported.note(self.script.where(statement), "warning", f"the script writes {target} from a "
                                   "here-document when it runs; the recipe does not: keep that file where the "
                                   "recipe's stages read it")

    def _head(self, args: list[Node]) -> list[list[str | None]]:
        """The texts of the first words, each word's, for deciding what the command is (nothing recorded: the
        command may be one swiftpipe leaves alone)."""
        heads: list[list[str | None]] = []
        with self.words.dry():
            for node in args[:6]:
                try:
                    heads.append([plain(pieces) for pieces in self.words.words(node)] or [None])
                except ImportProblem:
                    heads.append([None])
        return heads

    def _expanded(self, args: list[Node]) -> list[Word]:
        words: list[Word] = []
        for node in args:
            expanded = self.words.words(node)
            for pieces in expanded:
                text = plain(pieces)  # as the script wrote it where it is not known here (`output/${RUN}`)
                written = text if text is not None else self.words.written(node) if len(expanded) == 1 else ""
                words.append((pieces, written, bash_syntax.line(node)))
        return words

    def _assignments(self, assignments: list[Node], statement: Node, context: Context | None) -> None:
        pairs: Assignments = []
        for assign in assignments:
            name = assign["Name"]["Value"]
            if context is not None and not self._first_value(name, statement):
                continue
            self.words.assign(assign)
            pairs.append((name, self.words.value(name) or [""]))
        if pairs and all(name in LAUNCH_VARIABLES for name, _ in pairs):
            self.pending_launch = (bash_syntax.end(statement), pairs)

    def _declare(self, command: Node, context: Context | None) -> None:
        """`export A=1 B`, `declare -x`, `local`, `readonly`: assignments, exported where bash exports them."""
        variant = command["Variant"]["Value"]
        options = [plain(self.words.expand(a["Value"])) or "" for a in command.get("Args") or []
                   if a.get("Naked") and a.get("Name") is None and a.get("Value")]
        export = (variant == "export" and "-n" not in options) or any("x" in o for o in options if o.startswith("-"))
        for assign in command.get("Args") or []:
            if assign.get("Name") is None:
                continue
            name = assign["Name"]["Value"]
            if variant in ("local", "declare", "typeset") and not export:
                self.loops.local(name)  # inside a function, its own until it returns
            if context is not None and not assign.get("Naked") and not self._first_value(name, command):
                continue
            self.words.assign(assign, export=export)

    def _first_value(self, name: str, node: Node) -> bool:
        """A variable set under a condition or in a loop, which the recipe cannot evaluate: the value before it
        stands; with none before, the first value the script gives it (both said where the variable is used)."""
        variables = self.words.vars
        variables.uncertain.setdefault(name, self.script.where(node))
        if name in variables.values or name in variables.arrays:
            return False
        variables.guessed.add(name)
        return True

    def _source(self, target: str | None, line: int, context: Context | None, *,
                arguments: list[list[Piece]] | None = None) -> None:
        """`source FILE` / `. FILE`: a file beside the script (or in a folder above it, which the script may run
        from) is read here, as statically as the script; one that sets up an environment is left to it; any other
        is said. `bash FILE.sh ARGS` (`arguments`) the same, in a shell of its own: what it sets stays there."""
        where = f"{self.path}:{line}"
        if target is not None and (target.rsplit("/", 1)[-1] in _ENVIRONMENT_SETUP or "conda" in target):
            return
        found = None if target is None else _beside(Path(self.path).parent, target)
        if found is None:
            if arguments is None:
                self.sourced = where
            return
        if str(found.resolve()) in self.reading:
            return
        text = found.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
        sourced = bash_syntax.parse(repairs.repaired(text, str(found), self.imported), str(found))
        shell = "source" if arguments is None else "bash"
        self.imported.note(where, "translated", f"{shell} {target}: read {found}" + (" for the values it sets" if
                           arguments is None else ", and its commands"))
        saved = (self.script, self.path, self.words, self.pending_launch, self.last_end)
        variables = saved[2].vars if arguments is None else Variables(
            dict(saved[2].vars.values), list(saved[2].vars.exported), dict(saved[2].vars.arrays))
        self.reading.add(str(found.resolve()))
        self.script, self.path = sourced, str(found)
        self.words = Expander(sourced, self.imported, variables,
                              program=saved[2].program if arguments is None else str(found))
        self.words.arguments = saved[2].arguments if arguments is None else arguments
        self.pending_launch, self.last_end = None, -1
        functions = dict(self.loops.functions)
        try:
            self.loops.run(sourced.statements, context)
        except Stop as stop:  # the sourced file's `return`, or the script's `exit` (which ends only a `bash x.sh`)
            if stop.kind not in ("return", "exit") or stop.kind == "exit" and arguments is None:
                raise
        finally:
            self.script, self.path, self.words, self.pending_launch, self.last_end = saved
            self.reading.discard(str(found.resolve()))
            if arguments is not None:
                self.loops.functions = functions  # what a script run with bash defines stays in it

    def _swift(self, statement: Node, words: list[Word], pairs: Assignments, line: int, *,
               subcommand: str | None = None) -> None:
        if subcommand is None and (len(words) < 2 or (_text(words[1]) or "-").startswith("-")):
            raise ImportProblem("`swift` without a subcommand", where=f"{self.path}:{line}")
        variables = self.words.vars
        env = [(name, variables.values[name]) for name in variables.exported if name in variables.values]
        if self.pending_launch and self.script.between(self.pending_launch[0],
                                                       bash_syntax.start(statement)).count("\n") == 1:
            names = ", ".join(name for name, _ in self.pending_launch[1])
            self.imported.note(f"{self.path}:{line - 1}", "repaired", f"{names} on the line above the command, "
                               "without a backslash, never reached swift; passed to it, as meant")
            env += self.pending_launch[1]
        self.pending_launch = None
        env += pairs
        launch = {name: p[0] for name, p in env if len(p) == 1 and isinstance(p[0], str)}
        call = Call(subcommand or _text(words[1]) or "", [], [], self.path, line)
        for name, pieces in dict(env).items():
            item = item_of(pieces, launch=launch, where=call.where, imported=self.imported)
            if isinstance(item, Substitution):  # a recipe holds values, not commands to run
                self.imported.note(call.where, "dropped", f"{name}={item.text} (built by another program at run "
                                   "time; give the recipe its value)", call=call)
            else:
                call.env.append((name, item))
        positional = self._add_flags(call, words[2:])
        if call.get("config") is not None:  # the file's keys, as ms-swift's launcher reads them (importer/swift_config)
            swift_config.expand(call, self.imported, Path(self.path).parent, command_line_wins=positional)
        unset = [p for name, p in self.imported.params.items()
                 if name not in self.params_before and not name.startswith("arg")]
        if self.sourced and unset:
            self.imported.note(call.where, "warning", f"{', '.join(p.origin for p in unset)}: the file sourced at "
                               f"{self.sourced} (not found beside the script) may set "
                               f"{'it' if len(unset) == 1 else 'them'}; the recipe takes "
                               f"{'it as a parameter' if len(unset) == 1 else 'them as parameters'}", call=call)
        redirects = [str(r.get("Op", "")) for r in statement.get("Redirs") or []]
        if any(op.startswith("<") for op in redirects):
            self.imported.note(call.where, "dropped", "the input given to swift (a here-document or a file): a "
                               "stage's swift reads none", call=call)
        if any(not op.startswith("<") for op in redirects):
            self.imported.note(call.where, "dropped", "the output redirect (swiftpipe keeps each stage's log in its "
                               "run folder)", call=call)
        self.imported.calls.append(call)
        self.last_call = call
        self.last_end = bash_syntax.end(statement)

    def _add_flags(self, call: Call, words: list[Word]) -> bool:
        """Add the words' flags to `call`; True where the first word was a config file (ms-swift 4's
        `swift sft train.yaml`)."""
        launch = {name: str(v) for name, v in call.env if not isinstance(v, Code)}
        positional = False
        for pieces, written, line in words:
            where = f"{self.path}:{line}"
            head = pieces[0]
            if isinstance(head, str) and head.startswith("--") and (len(pieces) == 1 or "=" in head):
                name, equals, value = head[2:].partition("=")  # the value may expand: `--lr=$LR`
                if call.get(name) is not None:
                    call.remove(name)
                    self.imported.note(where, "dropped", f"an earlier --{name} of the same command (ms-swift keeps "
                                       "the last)", call=call)
                call.flags.append(Flag(name, [], line))
                if not equals:
                    continue
                pieces = [value, *pieces[1:]] if value or len(pieces) == 1 else pieces[1:]
                written = written.partition("=")[2]
            elif not call.flags and _CONFIG_FILE.search(plain(pieces) or ""):
                call.flags.append(Flag("config", [], line))
                positional = True
            elif not call.flags and self._built_elsewhere(pieces, written, where, call):
                continue
            elif not call.flags:
                raise ImportProblem(f"`swift {call.command}` takes flags, not {written!r}", where=where)
            flag = call.flags[-1]
            item = item_of(pieces, launch=launch, where=where, imported=self.imported)
            # a Substitution stays only until handoffs.link, which makes it a reference or stops the import
            flag.values.append(item)  # type: ignore[arg-type]
            flag.written.append(written)
            flag.many = len(flag.values) > 1
        return positional

    def _built_elsewhere(self, pieces: list[Piece], written: str, where: str, call: Call) -> bool:
        """`swift sft "${ARGS[@]}"` with an array the script fills at run time (`mapfile -t ARGS < <(python ...)`):
        its flags are not known here. Dropped, and said; the parameter it would have been goes with it."""
        if not (len(pieces) == 1 and isinstance(pieces[0], Code) and re.fullmatch(r"\$\{\w+\[[@*]\]\}", written)):
            return False
        param = self.imported.params.get(pieces[0].text)
        if param is not None and param.origin == written:
            del self.imported.params[pieces[0].text]
        self.imported.note(where, "dropped", f"{written}: flags the script builds when it runs; give them to the "
                           "recipe with --set or in the stage", call=call)
        return True

def _beside(folder: Path, target: str) -> Path | None:
    """The file a script names: absolute, or relative to the script's folder or to a folder above it."""
    if Path(target).is_absolute():
        return Path(target) if Path(target).is_file() else None
    for base in (folder, *folder.resolve().parents, Path.cwd()):
        if (base / target).is_file():
            return base / target
    return None


def _is_swift(text: str | None) -> bool:
    """`swift`, or a path to it (`.venv/bin/swift`)."""
    return text == "swift" or (text or "").endswith("/swift")


def _text(word: Word) -> str | None:
    return plain(word[0])
