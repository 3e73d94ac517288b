"""`$NAME` and `${NAME...}` as bash expands them under the script's variables: an array's elements (and a slice of
them), a value the environment may give as a parameter with the script's default (`${X:-default}`), and what bash
computes from a value (`${X##*/}`, `${X/a/b}`, `${X:0:4}`), on a parameter in Python (importer/expansions)."""
from __future__ import annotations

from swiftpipe.importer import expansions
from swiftpipe.importer.bash_syntax import Node
from swiftpipe.importer.calls import Code, ImportProblem
from swiftpipe.importer.words import Expander, Piece, joined, plain

_DEFAULTS = ("-", ":-", "=", ":=")


def expand(words: Expander, part: Node) -> list[Piece]:
    where, written = words.where(part), words.script.source(part)
    name = part["Param"]["Value"]
    if part.get("Excl") or part.get("Names"):
        raise ImportProblem(f"{written} (an indirect expansion) is a value a recipe cannot hold", where=where)
    words.check_certain(name, where=where)
    value = _indexed(words, part, name, where) if part.get("Index") is not None else words.value(name)
    if part.get("Length"):
        text = None if value is None else plain(value)
        if text is None:
            raise ImportProblem(f"{written}: ${name} has no value in the script to count", where=where)
        return [str(len(words.vars.arrays.get(name, [])) if name in words.vars.arrays else len(text))]
    exp, repl, slice_ = part.get("Exp"), part.get("Repl"), part.get("Slice")
    if exp is not None and exp["Op"] in _DEFAULTS + ("?", ":?", "+", ":+"):
        return _conditional(words, name, value, exp, written, where)
    if value is None:
        value = [words.param(name, None, where=where, origin=written)]
    if exp is None and repl is None and slice_ is None:
        return value
    return [_computed(words, value, part, written, where)]


def _indexed(words: Expander, part: Node, name: str, where: str) -> list[Piece] | None:
    key = words.script.source(part["Index"]).strip()
    if name == "BASH_SOURCE" and key in ("0", "@", "*"):
        return [words.script.path]
    if key in ("@", "*"):
        return joined(elements(words, part))
    index = words.number(part["Index"], words.script.source(part), where)
    array = words.vars.arrays.get(name)
    if array is None:
        return words.value(name) if index == 0 else None
    return list(array[index]) if index is not None and -len(array) <= index < len(array) else [""]


def elements(words: Expander, part: Node) -> list[list[Piece]]:
    """`${A[@]}`, `$@`: each element, `${A[@]:1:2}` those; an array the script never sets, a parameter."""
    name, where = part["Param"]["Value"], words.where(part)
    words.check_certain(name, where=where)
    if name in ("@", "*") and words.arguments is None:
        words.imported.note(where, "dropped", f"{words.script.source(part)} (the script's own arguments: give "
                           "what they would add with --set)")
        return []
    if name in ("@", "*"):
        found = [list(a) for a in words.arguments or []]
    elif name in words.vars.arrays:
        found = [list(e) for e in words.vars.arrays[name]]
    else:
        value = words.value(name)
        found = [value if value is not None else [words.param(name, None, where=where,
                                                              origin=words.script.source(part))]]
    slice_ = part.get("Slice")
    if slice_ is not None:
        offset = words.number(slice_.get("Offset"), words.script.source(part), where) or 0
        length = words.number(slice_["Length"], words.script.source(part), where) if slice_.get("Length") else None
        offset -= 1 if name in ("@", "*") and offset > 0 else 0  # ${@:1} starts at $1
        found = found[offset:] if length is None else found[offset:offset + length]
    return found


def _conditional(words: Expander, name: str, value: list[Piece] | None, exp: Node, written: str,
                 where: str) -> list[Piece]:
    """`${X:-default}`, `${X:=default}`, `${X:?message}`, `${X:+alternate}`: a value the environment may give
    becomes a parameter, with the script's default."""
    op, word = exp["Op"], exp.get("Word")
    empty = value is not None and op.startswith(":") and plain(value) == ""
    if op in ("+", ":+"):
        return [""] if value is None or empty or not word else words.expand(word)
    if value is not None and not empty:
        return value
    if op in _DEFAULTS:
        default: list[Piece] = words.expand(word) if word else [""]
        result: list[Piece] = default  # set but empty, or an argument the call leaves out: the default itself
        if value is None and not (words.arguments is not None and name.isdigit()):
            text = _default_text(words, default)
            result = [words.param(name, text if text is not None or not word else words.plain_text(words.written(word)),
                                  where=where, origin=written)]
        if op in ("=", ":="):
            words.vars.values[name] = result
        return result
    return [words.param(name, None, where=where, origin=written)]


def _default_text(words: Expander, pieces: list[Piece]) -> str | None:
    """A parameter's default from the pieces of `${X:-default}`: text, and another parameter's default
    (`${GEN_BATCH:-$NUM_GENERATIONS}`)."""
    texts = [p if isinstance(p, str) else words.imported.params[p.text].default
             if isinstance(p, Code) and p.text in words.imported.params else None for p in pieces]
    return None if any(t is None for t in texts) else "".join(t for t in texts if t is not None)


def _computed(words: Expander, value: list[Piece], part: Node, written: str, where: str) -> Piece:
    """`${X#pattern}`, `${X/a/b}`, `${X^^}`, `${X:1:3}` of a known value, or the same in Python on a
    parameter."""
    exp: Node = part.get("Exp") or {}
    repl, slice_ = part.get("Repl"), part.get("Slice")
    text = plain(value)
    pattern = _pattern(words, exp.get("Word") if exp else repl.get("Orig") if repl else None)
    replacement = _pattern(words, repl.get("With")) if repl else None
    if text is not None:
        if slice_ is not None:
            offset = words.number(slice_.get("Offset"), written, where)
            length = words.number(slice_["Length"], written, where) if slice_.get("Length") else None
            return expansions.sliced(text, offset or 0, length)
        if repl is not None:
            return expansions.replace(text, pattern, replacement or "", every=bool(repl.get("All")))
        if exp.get("Op") in expansions.TRIMS:
            return expansions.trim(text, exp["Op"], pattern)
        if exp.get("Op") in expansions.CASES:
            return expansions.case(text, exp["Op"])
    elif len(value) == 1 and isinstance(value[0], Code) and slice_ is None:
        op = ("//" if repl.get("All") else "/") if repl is not None else exp["Op"]
        python = expansions.python_of(value[0].text, op, pattern, replacement)
        if python is not None:
            words.imported.note(where, "translated", f"{written} -> {python} (computed when the recipe runs)")
            return Code(python)
    raise ImportProblem(f"{written}: bash computes this from a value the script does not give; give the "
                        "variable a value in the script", where=where)


def _pattern(words: Expander, word: Node | None) -> str:
    if word is None:
        return ""
    text = plain(words.expand(word))
    if text is None:
        raise ImportProblem(f"{words.script.source(word)}: a pattern built from values the script does not give",
                            where=words.where(word))
    return text

