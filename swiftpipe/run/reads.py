"""What a stage reads, each with its identity: the local files and folders its flags name, and the outputs of the
stages it takes inputs from. A finished stage is unchanged only while all of them are (plan.py).

A file's identity is its size, modification time (in nanoseconds) and a hash of its first and last 64 KiB. Unlike
the data checks' cache (data/cache.py), whose mistake costs only a re-read, it leaves out the path, the inode and the
inode-change time: a project moved, copied with `cp -a` or `rsync -a`, or restored from a backup keeps its
identities, so its finished stages are not trained again (and `chmod` changes no data). An edit that keeps the
size, puts the time back and spares both ends is not seen. A 20 GB corpus costs one stat and two 64 KiB reads. A
folder (a base model, an adapter) is the identities of its files, less hidden ones (`.git/`, a hub's `.cache/`,
which reading rewrites) and what ms-swift writes into a model it reads; the ends of at most FOLDER_FILES files are
read. An output of another stage is that stage's seal (fingerprint.py): a stage that produced something else
makes each stage that reads it run again.
"""
from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from swiftpipe.msswift.layout import WRITTEN_FLAGS, WRITTEN_INTO_MODELS, Output
from swiftpipe.recipe.model import SEPARATOR, Ref, Stage, items_of
from swiftpipe.records.record_types import Handed
from swiftpipe.render.commands import Command

ENDS = 64 << 10
FOLDER_FILES = 1_000  # a folder's files whose ends are read; beyond that, their size and time alone
_SAMPLED = re.compile(r"#\d+$")  # ms-swift's `dataset#500`: 500 rows of it


def identity(path: str | Path) -> str | None:
    """The identity of the file or folder at `path`; None when nothing is there."""
    digest = hashlib.blake2b(digest_size=16)
    target = Path(path)
    try:
        if target.is_dir():
            for n, (relative, file) in enumerate(_files(target)):
                digest.update(relative.encode("utf-8", "surrogateescape") + b"\0")
                _file_identity(file, digest, ends=n < FOLDER_FILES)
        else:
            _file_identity(target, digest, ends=True)
    except OSError:
        return None
    return digest.hexdigest()


def _files(folder: Path) -> list[tuple[str, Path]]:
    """The folder's files, in a fixed order, without the results ms-swift writes into a model it reads."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in WRITTEN_INTO_MODELS and not d.startswith("."))
        for name in sorted(f for f in files if f not in WRITTEN_INTO_MODELS and not f.startswith(".")):
            path = Path(root, name)
            found.append((os.path.relpath(path, folder), path))
    return found


def _file_identity(path: Path, digest: hashlib.blake2b, *, ends: bool) -> None:
    info = os.stat(path)
    digest.update(f"{info.st_size}:{info.st_mtime_ns}\0".encode())
    if ends:
        key = (os.path.realpath(path), info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns)
        if key not in _ENDS_READ:  # within one command: the planner and the launch read a file once
            _ENDS_READ[key] = _ends(path, info.st_size)
        digest.update(_ENDS_READ[key])


_ENDS_READ: dict[tuple[str, int, int, int, int], bytes] = {}


def _ends(path: Path, size: int) -> bytes:
    """A hash of the file's first and last 64 KiB."""
    ends = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        ends.update(f.read(ENDS))
        if size > ENDS:
            f.seek(max(ENDS, size - ENDS))
            ends.update(f.read(ENDS))
    return ends.digest()


def local_path(value: object) -> str | None:
    """The local file or folder a flag value names (a dataset sampled with `#N` names its file), or None: a hub
    id, a number, a word."""
    if not isinstance(value, (str, Path)) or not str(value) or isinstance(value, bool):
        return None
    text = str(value)
    for candidate in (text, _SAMPLED.sub("", text)):
        if os.path.exists(candidate):
            return candidate
    return None


def handed(stage: Stage, command: Command, given: Callable[[Ref], tuple[str, str]]) -> list[Handed]:
    """What `stage` reads, flag by flag, each flag named as `command` (the stage rendered for the installed ms-swift)
    spells it: each local path its flags name (not the folders it writes), and each output of another stage, which
    `given` turns into its path and the producing stage's seal."""
    found = []
    given_flags = [name for name, value in stage.flags.items() if value is not None and value != [] and value != ()]
    spelled = dict(zip(given_flags, (flag.name for flag in command.flags)))
    for name, value in stage.flags.items():
        flag = spelled.get(name, name)
        if name in WRITTEN_FLAGS:
            continue
        for item in items_of(value):
            if isinstance(item, Ref):
                path, seal = given(item)
                found.append(Handed(flag, path, seal, item.stage, item.output))
                continue
            local = local_path(item)
            known = identity(local) if local is not None else None
            if local is not None and known is not None:
                found.append(Handed(flag, os.path.abspath(local), known))
    for flag, path in stage.also_reads:
        known = identity(path)
        if known is not None:
            found.append(Handed(spelled.get(flag, flag), os.path.abspath(path), known))
    return found


def changed(before: Sequence[Handed] | None, now: Sequence[Handed]) -> str | None:
    """What changed in what a stage reads, for people (`data/sft.jsonl changed`, `stage sft ran again`); None when
    nothing did, or when `before` is not known (a record from before inputs were kept: its command decides)."""
    if before is None:
        return None
    old = {_key(h): h for h in before}
    new = {_key(h): h for h in now}
    for key, handed_now in new.items():
        earlier = old.get(key)
        if earlier is None:
            return f"--{key[0]} reads {_shown(handed_now)} now"
        if earlier.identity != handed_now.identity:
            if handed_now.producer is not None:
                return f"stage {handed_now.producer!r} produced another {handed_now.kind}"
            return f"{_shown(handed_now)} changed"
    gone = next((key for key in old if key not in new), None)
    return f"--{gone[0]} no longer reads {_shown(old[gone])}" if gone else None


def _key(handed: Handed) -> tuple[str, str | None, Output | None]:
    """An output of another stage is the same input wherever it lies (its seal says whether it changed), and whatever
    a sweep names its producer (the chain's `sft` is `sft@lr-5e-3` in a sweep of which it is a variant)."""
    if handed.producer:
        return handed.flag, handed.producer.partition(SEPARATOR)[0], handed.kind
    return handed.flag, handed.path, None


def _shown(handed: Handed) -> str:
    if handed.producer is not None:
        return f"{handed.producer}'s {handed.kind}"
    try:
        return os.path.relpath(handed.path) if Path(handed.path).is_relative_to(Path.cwd()) else handed.path
    except ValueError:
        return handed.path
