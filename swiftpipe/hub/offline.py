"""Whether a model named by its hub id can be had here: from the cache of the hub that ms-swift will ask, or from
that hub itself. ms-swift asks ModelScope unless `USE_HF` (or `--use_hf`) says the Hugging Face Hub; offline, it
retries for most of a minute and ends in a traceback, so pre-flight asks first, in seconds.

Nothing here downloads: the caches are read through the hubs' own libraries with `local_files_only`, and the hub is
asked one HEAD request (through the environment's proxy, as the libraries go) with a short limit. Found with ms-swift
3.12 (modelscope 1.40, huggingface_hub 0.36) against tests/fake_hub.py stopped: huggingface_hub falls back to its
cache when the hub cannot be reached, ModelScope's library does not (a cached model still ends in a NetworkError).
"""
from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

NAMES = {"modelscope": "ModelScope", "hf": "the Hugging Face Hub"}
CACHES = {"modelscope": "ModelScope", "hf": "Hugging Face"}
_ENDPOINTS = {"modelscope": ("MODELSCOPE_ENDPOINT", "https://www.modelscope.cn"),
              "hf": ("HF_ENDPOINT", "https://huggingface.co")}
_SWITCHES = {"modelscope": ("HF_HUB_OFFLINE", "MODELSCOPE_OFFLINE"), "hf": ("HF_HUB_OFFLINE",)}
_TRUE = ("1", "true", "yes", "on")
ANSWER_SECONDS = 5.0


def unavailable(repo_id: str, *, flag: str, env: Mapping[str, str], use_hf: bool | None,
                asked: dict[tuple[str, str], str | None]) -> str | None:
    """Why ms-swift cannot have model `repo_id` (a hub id, not a folder) as `--flag`, or None when it can: its hub
    answers, or the model is in the cache of a hub whose library then reads it (the Hugging Face Hub's; ModelScope's
    asks the hub even for a cached model). `asked` keeps each hub's answer for the next model."""
    hub = hub_of(env, use_hf=use_hf)
    key = (hub, endpoint(hub, env))
    if key not in asked:
        asked[key] = unreachable(hub, env)
    why = asked[key]
    if why is None:
        return None
    where = NAMES[hub]
    folder = cached(repo_id, hub)
    if folder is not None:
        return None if hub == "hf" else (f"{repo_id}: {where} cannot be reached ({why}), and ms-swift asks it even "
                                         f"for a model in its cache: give the cached folder, --{flag} {folder}")
    other = "hf" if hub == "modelscope" else "modelscope"
    elsewhere = cached(repo_id, other)
    hint = (f"; it is in the {CACHES[other]} cache: give that folder, --{flag} {elsewhere}" if elsewhere else
            f": give a model folder, or run `swiftpipe download model {repo_id.partition(':')[0]} --hub {hub}` where "
            "there is network")
    return (f"{repo_id}: no such folder, and not a model id in the {CACHES[hub]} cache; {where} cannot be reached "
            f"({why}){hint}")


def hub_of(env: Mapping[str, str], *, use_hf: bool | None = None) -> str:
    """The hub ms-swift asks for a model id: `--use_hf` when given, else `USE_HF=1` means the Hugging Face Hub."""
    if use_hf is None:
        use_hf = env.get("USE_HF", "").lower() in _TRUE
    return "hf" if use_hf else "modelscope"


def offline_switch(hub: str, env: Mapping[str, str]) -> str | None:
    """The variable that says "cache only" for `hub` (`HF_HUB_OFFLINE=1`; for ModelScope, whose library has no
    switch, swiftpipe's `MODELSCOPE_OFFLINE=1` too), or None."""
    for name in _SWITCHES[hub]:
        if env.get(name, "").lower() in _TRUE:
            return f"{name}={env[name]}"
    return None


def endpoint(hub: str, env: Mapping[str, str]) -> str:
    variable, default = _ENDPOINTS[hub]
    return (env.get(variable) or default).rstrip("/")


def unreachable(hub: str, env: Mapping[str, str], *, seconds: float = ANSWER_SECONDS) -> str | None:
    """Why `hub` cannot be asked from here (its offline switch, or no answer), or None when it answers. Any HTTP
    answer, an error status included, is an answer."""
    switch = offline_switch(hub, env)
    if switch is not None:
        return f"offline: {switch}"
    url = endpoint(hub, env)
    found: list[str | None] = []

    def ask() -> None:  # in a thread: a name lookup that hangs is not bound by urlopen's timeout
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=seconds).close()
            found.append(None)
        except urllib.error.HTTPError:
            found.append(None)
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            found.append(f"no answer from {url}: {reason}")

    asker = threading.Thread(target=ask, daemon=True)
    asker.start()
    asker.join(seconds + 1)
    return found[0] if found else f"no answer from {url} in {seconds:g} s"


def cached(repo_id: str, hub: str) -> Path | None:
    """The folder of model `repo_id` in the hub's cache, found by the hub's own library without the network; None
    when it is not there. ms-swift's `model_id:subfolder` gives that subfolder of it."""
    from swiftpipe.hub.download import fetch_cached

    name, _, sub = repo_id.partition(":")
    try:
        [folder] = fetch_cached("model", name, hub)
    except Exception:  # the libraries raise a dozen types for "not here"; any of them means no
        return None
    return folder / sub if sub else folder
