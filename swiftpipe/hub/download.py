"""Models and datasets from ModelScope or the Hugging Face Hub, through the hubs' own libraries.

Their caches, endpoints (`MODELSCOPE_ENDPOINT`, `HF_ENDPOINT`), tokens (`MODELSCOPE_API_TOKEN`, `HF_TOKEN`, the
files their `login` commands write) and progress bars are theirs; swiftpipe never reads or prints a token. What it
adds: one command for both hubs, `--to DIR` (hard links out of the cache, copies across file systems), an offline
switch for ModelScope (whose library has none: `MODELSCOPE_OFFLINE=1` or `HF_HUB_OFFLINE=1` here means "cache
only"), and every failure as one line that says what to do.
"""
from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from swiftpipe.errors import InfrastructureError, UserError
from swiftpipe.hub.offline import hub_of, offline_switch

HUBS = ("modelscope", "hf")
REPO_TYPES = ("model", "dataset")


class HubError(UserError):
    """A download that cannot be done as asked (no such repository, offline without it cached); the message says why
    and what to run instead."""


class HubUnreachable(HubError, InfrastructureError):
    """A download that failed on the way: the hub cannot be reached, or the transfer broke."""

    exit_code = InfrastructureError.exit_code


@dataclass(frozen=True)
class Fetched:
    """Where the files are: in the hub's cache, and where `--to` put them (None without it)."""

    hub: str
    repo_type: str
    repo_id: str
    cached: list[Path]
    placed: list[Path] | None
    from_cache: bool = False


def default_hub() -> str:
    """ms-swift's own switch: `USE_HF=1` means the Hugging Face Hub, anything else ModelScope."""
    return hub_of(os.environ)


def is_offline(hub: str) -> bool:
    return offline_switch(hub, os.environ) is not None


def fetch_cached(repo_type: str, repo_id: str, hub: str) -> list[Path]:
    """A whole repository from the hub's cache, never the network; the library's error when it is not there."""
    return (_from_hf if hub == "hf" else _from_modelscope)(repo_type, repo_id, (), None, True)


def download(repo_type: str, repo_id: str, *, hub: str | None = None, files: Sequence[str] = (),
             revision: str | None = None, to: Path | None = None, offline: bool = False) -> Fetched:
    """Fetch `files` of a repository (all of it when empty) into the hub's cache, then link them under `to`."""
    hub = hub or default_hub()
    if hub not in HUBS or repo_type not in REPO_TYPES:
        raise UserError(f"hub must be one of {', '.join(HUBS)} and repo_type one of {', '.join(REPO_TYPES)}")
    offline = offline or is_offline(hub)
    what = f"{repo_type} {repo_id}" + (f" ({', '.join(files)})" if files else "")
    fetch = _from_hf if hub == "hf" else _from_modelscope
    from_cache = offline
    try:
        try:
            cached = fetch(repo_type, repo_id, files, revision, offline)
        except Exception as exc:
            # huggingface_hub falls back to its cache when the hub cannot be reached; modelscope does not.
            if hub != "modelscope" or offline or not _unreachable(exc):
                raise
            cached, from_cache = fetch(repo_type, repo_id, files, revision, True), True
    except Exception as exc:  # the libraries raise dozens of types; each is turned into one line below
        message, on_the_way = _explain(exc, hub=hub, repo_type=repo_type, repo_id=repo_id, what=what, files=files,
                                       offline=offline)
        raise (HubUnreachable if on_the_way else HubError)(message) from None
    placed = _place(cached, Path(to), whole_repo=not files) if to is not None else None
    return Fetched(hub, repo_type, repo_id, cached, placed, from_cache)


def _classes(exc: BaseException) -> set[str]:
    """The names of an exception's classes: the libraries' error types are matched by name, not imported."""
    return {cls.__name__ for cls in type(exc).__mro__}


def _unreachable(exc: BaseException) -> bool:
    return bool(_classes(exc) & {"NetworkError", "ConnectionError"}) and not _not_found(str(exc))


def _not_found(text: str) -> bool:
    """An HTTP 404 in an error's text; not a port or a number that holds the digits (`127.0.0.1:40412`)."""
    return bool(re.search(r"(?<![\d:.])404(?!\d)", text))


def _from_hf(repo_type: str, repo_id: str, files: Sequence[str], revision: str | None, offline: bool) -> list[Path]:
    import huggingface_hub

    if files:
        return [Path(huggingface_hub.hf_hub_download(repo_id, name, repo_type=repo_type, revision=revision,
                                                     local_files_only=offline)) for name in files]
    return [Path(huggingface_hub.snapshot_download(repo_id, repo_type=repo_type, revision=revision,
                                                   local_files_only=offline))]


def _from_modelscope(repo_type: str, repo_id: str, files: Sequence[str], revision: str | None,
                     offline: bool) -> list[Path]:
    from modelscope.hub.file_download import dataset_file_download, model_file_download
    from modelscope.hub.snapshot_download import snapshot_download

    if files:
        fetch = model_file_download if repo_type == "model" else dataset_file_download
        return [Path(fetch(repo_id, name, revision=revision, local_files_only=offline)) for name in files]
    return [Path(snapshot_download(repo_id=repo_id, repo_type=repo_type, revision=revision, local_files_only=offline))]


def _explain(exc: Exception, *, hub: str, repo_type: str, repo_id: str, what: str, files: Sequence[str],
             offline: bool) -> tuple[str, bool]:
    """The error in one line, and whether it happened on the way to the hub (exit 3) rather than in what was asked
    (exit 2: no such repository or file, no access, offline by choice)."""
    names = _classes(exc)
    text = str(exc)
    again = f"swiftpipe download {repo_type} {repo_id}" + "".join(f" --file {f}" for f in files) + f" --hub {hub}"
    where = "the Hugging Face Hub" if hub == "hf" else "ModelScope"
    if offline or names & {"LocalEntryNotFoundError", "OfflineModeIsEnabled", "CacheNotFound"}:
        cause = "offline" if offline else f"{where} cannot be reached"
        return (f"{what} is not in the {hub} cache and {cause}: run `{again}` on a machine with network "
                f"(and copy the cache, or pass a local path instead)"), not offline
    if names & {"GatedRepoError", "AuthenticationError", "PermissionDeniedError"} or " 401" in text or " 403" in text:
        login = "hf auth login, or HF_TOKEN" if hub == "hf" else "modelscope login, or MODELSCOPE_API_TOKEN"
        return f"{what}: {where} refused access; log in ({login}) with an account that may read it", False
    if names & {"EntryNotFoundError", "RemoteEntryNotFoundError"} or (files and _not_found(text) and "file" in text):
        return f"{what}: no such file in {repo_id} on {where} (check the path with the hub's file browser)", False
    if names & {"RepositoryNotFoundError", "NotExistError"} or _not_found(text):
        return f"{what}: not found on {where} (is it a {repo_type}? is --hub right?)", False
    if names & {"NetworkError", "ConnectionError", "ChunkedEncodingError", "RemoteProtocolError", "FileDownloadError",
                "ReadTimeout", "TimeoutError", "IncompleteRead"}:
        return f"{what}: the transfer from {where} failed ({text.splitlines()[0][:160]}); run the same command " \
               "again: what arrived is kept and the download resumes", True
    return f"{what}: {where} download failed: {type(exc).__name__}: {text.splitlines()[0][:200] if text else ''}", True


def _place(cached: list[Path], to: Path, *, whole_repo: bool) -> list[Path]:
    """Hard-link (or copy) what was fetched under `to`: a whole repository's files keep their paths in it, single
    files land in it by name. The cache stays the one copy on disk where the file system allows."""
    to.mkdir(parents=True, exist_ok=True)
    if whole_repo:
        [root] = cached
        for source in sorted(p for p in root.rglob("*") if p.is_file() and ".git" not in p.parts):
            _link(source, to / source.relative_to(root))
        return [to]
    placed = []
    for source in cached:
        placed.append(to / source.name)
        _link(source, placed[-1])
    return placed


def _link(source: Path, target: Path) -> None:
    source = source.resolve()  # the HF cache keeps symlinks to blobs
    if target.exists() and os.path.samefile(source, target):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    try:
        os.link(source, partial)
    except OSError:
        shutil.copyfile(source, partial)
    os.replace(partial, target)
