"""The broken continuations people write, repaired in the text before bash's parser reads it, each reported: a space
after the final backslash, a commented-out flag line inside a command, a dangling backslash at the end of the
file, and a tutorial's `<placeholder>` (a word to fill in, which bash would read as a redirect)."""
from __future__ import annotations

import re

from swiftpipe.importer.calls import Imported

# A tutorial's `<model_id_or_path>`: a word to fill in, not a redirect.
_PLACEHOLDER = re.compile(r"(?<=[\s=:])<[^\s<>'\"]+>[^\s<>'\"]*(?=\s|$)")


def repaired(text: str, path: str, imported: Imported) -> str:
    lines = text.split("\n")
    continued = False
    for i, line in enumerate(lines):
        where = f"{path}:{i + 1}"
        stripped = line.rstrip(" \t")
        if continued and line.lstrip().startswith("#"):
            if stripped.endswith("\\"):
                lines[i] = "\\"
                imported.note(where, "repaired", "a commented-out line inside a command ended it there; the command "
                              "goes on after it, as its backslash says")
            continue
        if stripped != line and stripped.endswith("\\") and not stripped.endswith("\\\\"):
            lines[i] = stripped
            imported.note(where, "repaired", "a space after the final backslash ended the command there; read as "
                          "the continuation it was meant to be")
        continued = lines[i].endswith("\\") and not lines[i].endswith("\\\\")
    content = [i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")]
    if content and lines[content[-1]].endswith("\\") and not lines[content[-1]].endswith("\\\\"):
        lines[content[-1]] = lines[content[-1]][:-1]
        imported.note(f"{path}:{content[-1] + 1}", "repaired", "the file ends in a backslash; the command ends there")
    return _PLACEHOLDER.sub(lambda m: f"'{m.group(0)}'", "\n".join(lines))
