"""How `swiftpipe import` fares on a folder of other people's material: every file imported on its own, its recipe
loaded, rendered for the installed ms-swift and linted by its own parser. Prints the counts, the share that renders
lint-clean, and each kind of failure with its count and an example.

    python bench/import_corpus.py ~/src/ms-swift/examples --glob '*.sh'
    python bench/import_corpus.py ~/src/LLaMA-Factory/examples --glob '*.yaml'

Nothing here is committed material: point it at a checkout of the projects whose scripts users bring.
"""
from __future__ import annotations

import argparse
import collections
import re
import sys
import tempfile
import time
from pathlib import Path

from swiftpipe.errors import UserError
from swiftpipe.importer.importing import import_files
from swiftpipe.importer.writer import recipe_text
from swiftpipe.msswift import dialects
from swiftpipe.recipe import loading
from swiftpipe.render.commands import render_recipe
from swiftpipe.render.lint import lint
from swiftpipe.versions import swift_version


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--glob", default="*.sh")
    parser.add_argument("--examples", type=int, default=1, help="examples shown per kind of failure")
    args = parser.parse_args()
    files = sorted(args.folder.rglob(args.glob))
    kinds: collections.Counter[str] = collections.Counter()
    examples: dict[str, list[str]] = collections.defaultdict(list)
    commands = clean = imported_files = 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i, file in enumerate(files):
            try:
                imported = import_files([str(file)])
            except UserError as exc:
                _count(kinds, examples, "import: " + _kind(str(exc)), f"{file}: {exc}", args.examples)
                continue
            imported_files += 1
            commands += len(imported.calls)
            path = Path(tmp) / f"r{i}.py"
            path.write_text(recipe_text(imported, name=f"r{i}", path=str(path)))
            try:
                loaded = loading.load(path)
                rendered = render_recipe(loaded.recipe, loaded.source, dialect=dialects.target())
                lint([r.command for r in rendered], where=str(file))
                clean += len(imported.calls)
            except UserError as exc:
                _count(kinds, examples, "render/lint: " + _kind(str(exc)), f"{file}: {exc}", args.examples)
    seconds = time.perf_counter() - started
    print(f"ms-swift {swift_version()}: {len(files)} files, {imported_files} imported, {commands} commands, "
          f"{clean} render lint-clean ({100 * clean / max(commands, 1):.0f}% of the commands); {seconds:.1f} s")
    for kind, count in kinds.most_common():
        print(f"  {count:4d}  {kind}")
        for example in examples[kind]:
            print(f"          e.g. {example.splitlines()[0][:220]}")


def _kind(message: str) -> str:
    """A failure's kind: its message with the file, line, flag names and values taken out."""
    first = message.splitlines()[0]
    first = re.sub(r"^\S+?:\d+: ", "", first)
    first = re.sub(r"^\S+\.(sh|py|yaml|yml): ", "", first)
    first = re.sub(r"--[\w-]+", "--FLAG", first)
    first = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`", "'…'", first)
    first = re.sub(r"\$\{?\w+\}?", "$VAR", first)
    first = re.sub(r"\(closest: [^)]*\)|\(did you mean [^)]*\)", "", first)
    first = re.sub(r"stage \S+", "stage X", first)
    first = re.sub(r"ms-swift [\d.]+", "ms-swift", first)
    return first.strip()[:160]


def _count(kinds, examples, kind: str, example: str, keep: int) -> None:
    kinds[kind] += 1
    if len(examples[kind]) < keep:
        examples[kind].append(example)


if __name__ == "__main__":
    sys.exit(main())
