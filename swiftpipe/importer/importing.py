"""`import_files`: read each input (its reader chosen by its content, not its name), translate its flags for
ms-swift 3 and 4, keep secrets out, link the stages' hand-offs, and check every flag against the installed
ms-swift. Raises ImportProblem, naming the file and line, before anything is written."""
from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from swiftpipe.importer import handoffs, llamafactory, shell, sweeps, swift_api, swift_config, xtuner
from swiftpipe.importer.calls import Call, Code, Imported, ImportProblem
from swiftpipe.importer.translate import translate
from swiftpipe.msswift.dialects import RENAMED
from swiftpipe.recipe.secrets import is_secret, variable

_SWIFT_COMMAND = re.compile(r"^[ \t]*(?:[A-Za-z_]\w*=\S*[ \t]+)*(?:nohup[ \t]+)?(?:\S*/)?"
                            r"(?:swift|xtuner|megatron|llamafactory-cli)[ \t]+[a-z][\w-]*"
                            r"|\bswift/cli/[\w-]+\.py\b", re.M)

_PLACEHOLDER = re.compile(r"^<[^<>]+>$")

Reader = Callable[[str, str, Imported], None]
READERS: dict[str, Reader] = {"shell": shell.read, "ms-swift Python API": swift_api.read,
                               "LLaMA-Factory config": llamafactory.read, "xtuner config": xtuner.read,
                               "ms-swift config": swift_config.read}


def import_files(paths: Sequence[str], *, dataset_info: str | None = None) -> Imported:
    """The chain that the files at `paths`, in that order, describe (`dataset_info`: a LLaMA-Factory
    dataset_info.json for the registered dataset names a config's own dataset_dir has not)."""
    imported = Imported(sources=list(paths))
    registry = llamafactory.registry(dataset_info) if dataset_info is not None else None
    for path in paths:
        text = _text(path)
        reader = reader_for(path, text)
        if reader == "LLaMA-Factory config":
            llamafactory.read(path, text, imported, dataset_info=registry)
        else:
            READERS[reader](path, text, imported)
    if not imported.calls:
        raise ImportProblem("no ms-swift command in " + ", ".join(paths))
    for call in imported.calls:
        translate(call, imported)
        _secrets(call, imported)
    handoffs.link(imported)
    _placeholders(imported)
    sweeps.collapse(imported)
    _check_flags(imported)
    return imported


def reader_for(path: str, text: str) -> str:
    """The reader of the file (a key of READERS), by what its content is: a shell script, a Python file using
    ms-swift's API, a LLaMA-Factory config, an xtuner config, an ms-swift config."""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        tree = None
        python_error = exc
    if tree is not None and swift_api.uses_swift(tree):
        return "ms-swift Python API"
    if tree is not None and xtuner.looks_like(tree):
        return "xtuner config"
    if llamafactory.looks_like(text):  # (`key: value` lines can parse as Python annotations)
        return "LLaMA-Factory config"
    if swift_config.looks_like(text, path):  # after LLaMA-Factory's: its configs have ms-swift's keys too
        return "ms-swift config"
    if _SWIFT_COMMAND.search(text) or text.startswith("#!") and re.match(r"#!.*\b(ba|z|da)?sh\b", text) \
            or path.endswith((".sh", ".bash")):
        return "shell"
    imports_swift = bool(re.search(r"^\s*(from|import)\s+swift\b", text, re.M))
    if tree is None and re.search(r"\bswift\s+-*[a-z][\w-]*", text) and not imports_swift:
        return "shell"  # the command is built in a variable or a string; the shell reader says why it can't import
    if tree is None and imports_swift:
        raise ImportProblem(f"not valid Python: {python_error.msg}",
                            where=f"{path}:{python_error.lineno}")
    if tree is None and text.lstrip().split("\n", 1)[0].rstrip().endswith(":") or re.match(r"^\w+:\s", text):
        raise ImportProblem("a YAML file with none of LLaMA-Factory's keys (stage, model_name_or_path, "
                            "export_dir) or ms-swift's (model, dataset, train_type...): not a config swiftpipe "
                            "imports", where=path)
    raise ImportProblem("not a kind of file swiftpipe imports (a shell script with swift commands, a Python file "
                        "using ms-swift's API, a LLaMA-Factory YAML config, an xtuner config, an ms-swift YAML/JSON "
                        "config)", where=path)


def _text(path: str) -> str:
    file = Path(path)
    if not file.is_file():
        raise ImportProblem("no such file", where=path)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ImportProblem(f"not a text file (byte {exc.start} is not UTF-8)", where=path) from None
    if not text.strip():
        raise ImportProblem("the file is empty", where=path)
    return text.replace("\r\n", "\n")


def _secrets(call: Call, imported: Imported) -> None:
    """A secret never reaches the recipe: a flag's value is read from the environment when the recipe runs, and a
    variable in front of the command is left to the environment swift inherits."""
    for flag in call.flags:
        if is_secret(flag.name) and flag.values and not all(isinstance(v, Code) for v in flag.values):
            var = variable(flag.name)
            flag.values = [Code(f'os.environ.get("{var}")')]
            imported.note(f"{call.file}:{flag.line}", "secret", f"--{flag.name}: the value is not copied; the recipe "
                          f"reads it from ${var} when it runs", call=call)
    for name, value in list(call.env):
        if is_secret(name):
            call.env.remove((name, value))
            imported.note(call.where, "secret", f"{name} is not copied; swift reads it from the environment: export "
                          "it before `swiftpipe run`", call=call)


def _placeholders(imported: Imported) -> None:
    """A tutorial's `<model_id_or_path>` left to fill in becomes a recipe parameter whose default is the placeholder
    itself, so that the recipe renders as the tutorial reads until it is set."""
    defaults: dict[str, str] = {}
    for call in imported.calls:
        for flag in call.flags:
            for i, value in enumerate(flag.values):
                if not (isinstance(value, str) and _PLACEHOLDER.match(value)):
                    continue
                inner = value[1:-1]
                name = inner if inner.isidentifier() else flag.name
                if defaults.get(name, value) != value:
                    name = f"{call.name}_{name}"
                defaults[name] = value
                flag.values[i] = imported.param(name, value, where=f"{call.file}:{flag.line}", origin=value)


def _check_flags(imported: Imported) -> None:
    """Every flag checked against the installed ms-swift: one it does not take (a fork's own, a typo) is kept as
    written, with a warning beside its stage naming the closest flags it does take (`swiftpipe lint` names it too);
    a subcommand it does not have is refused."""
    from swiftpipe.msswift.arguments import known_flags
    from swiftpipe.versions import swift_version

    problems = []
    for call in imported.calls:
        known = known_flags(call.command)
        if known is None:
            if swift_version() is None:
                imported.note(call.where, "warning", "ms-swift is not installed: the flags were not checked")
                return
            problems.append(f"{call.where}: `swift {call.command}` is not an ms-swift {swift_version()} subcommand")
            continue
        for flag in call.flags:
            names = {flag.name, *RENAMED.get(flag.name, {}).values()}
            if names & known or flag.name in ("ckpt_dir", "config"):  # config: a --config FILE not found, kept
                continue
            spelled = sorted(n for n in known if "-" not in n)  # argparse's `--a-b` twin of each `--a_b` aside
            close = difflib.get_close_matches(flag.name, spelled, n=3, cutoff=0.6)
            hint = f" (closest: {', '.join('--' + c for c in close)})" if close else ""
            imported.note(f"{call.file}:{flag.line}", "warning", f"--{flag.name} is not a flag of ms-swift "
                          f"{swift_version()}'s `swift {call.command}`{hint}: kept as written (a fork's own flag, "
                          "or a typo to fix); `swiftpipe lint` names it", call=call)
    if problems:
        raise ImportProblem("\n".join(problems))
