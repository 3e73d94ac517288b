"""`swiftpipe lint`: rendered flags checked by the installed ms-swift's own argument parser (msswift/arguments.py):
names, types and choices exactly as `swift` would check them, every problem of every stage in one report.
"""
from __future__ import annotations

import difflib
from collections.abc import Sequence

from swiftpipe.errors import LintError
from swiftpipe.msswift.arguments import ParseError, parser
from swiftpipe.msswift.dialects import target
from swiftpipe.render.commands import Command
from swiftpipe.versions import swift_version


def lint(commands: Sequence[Command], *, where: str) -> int:
    """Check every flag of every command; return how many were checked, or raise LintError listing all problems."""
    version = swift_version()
    if version is None:
        raise LintError("ms-swift is not installed in this environment; `make install` installs it", where=where)
    major = target(version).major
    problems: list[str] = []
    checked = 0
    for command in commands:
        built = parser(command.subcommand, major, version, where=where)
        known = set(built._option_string_actions)
        for flag in command.flags:
            checked += 1
            at = f"{where}: stage {command.stage!r}, --{flag.name}"
            option = f"--{flag.name}"
            if option not in known:
                close = difflib.get_close_matches(option, sorted(known), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                problems.append(f"{at}: ms-swift {version} `swift {command.subcommand}` has no such flag{hint}")
                continue
            try:
                built.parse_known_args(list(flag.tokens))
            except ParseError as exc:
                message = str(exc)
                if not message.startswith("the following arguments are required"):
                    problems.append(f"{at}: ms-swift {version} rejects it: {message}")
    if problems:
        raise LintError("\n".join(problems))
    return checked


