"""`swiftpipe download`: models and datasets from ModelScope or the Hugging Face Hub, into their caches."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from swiftpipe import console
from swiftpipe.cli.common import Command, user_errors

_EXAMPLES = """\b
Examples:
  swiftpipe download model Qwen/Qwen2.5-1.5B
  swiftpipe download model Qwen/Qwen2.5-1.5B --hub hf --to models/Qwen2.5-1.5B
  swiftpipe download dataset shibing624/medical --file pretrain/medical_book_zh.json --hub hf --to data/pre
  swiftpipe download dataset xiaofengalg/qizen-gpt-sample-sft-20k --to data/qizen-gpt-sample-sft-20k

\b
Offline (no network, HF_HUB_OFFLINE=1, MODELSCOPE_OFFLINE=1 or --offline): what is cached is used, and
anything else is an error that says what to fetch. Tokens come from the hubs' own login files or
HF_TOKEN / MODELSCOPE_API_TOKEN; endpoints from HF_ENDPOINT / MODELSCOPE_ENDPOINT.
"""


@click.group(epilog=_EXAMPLES)
def download() -> None:
    """Fetch models and datasets with the hubs' own libraries and caches."""


def _options(fn: Command) -> Command:
    fn = click.option("--offline", is_flag=True, help="Use the cache only; never touch the network.")(fn)
    fn = click.option("--to", "to", type=click.Path(file_okay=False), default=None,
                      help="Also place the files here (hard links out of the cache where possible).")(fn)
    fn = click.option("--revision", default=None, help="Branch, tag or commit (default: the hub's main branch).")(fn)
    fn = click.option("--file", "files", multiple=True, metavar="PATH",
                      help="Only this file of the repository (repeatable); default: all of it.")(fn)
    fn = click.option("--hub", type=click.Choice(["modelscope", "hf"]), default=None,
                      help="Where from (default: modelscope; hf when USE_HF=1, as in ms-swift).")(fn)
    return click.argument("repo_id")(fn)


def _command(repo_type: str) -> click.Command:
    def fetch(repo_id: str, hub: str | None, files: tuple[str, ...], revision: str | None, to: str | None,
              offline: bool) -> None:
        _fetch(repo_type, repo_id, hub, files, revision, to, offline)

    fetch.__doc__ = f"Download a {repo_type} (all of it, or --file ones) and print where it is."
    return download.command(name=repo_type, epilog=_EXAMPLES)(_options(user_errors(fetch)))


model, dataset = _command("model"), _command("dataset")


def _fetch(repo_type: str, repo_id: str, hub: str | None, files: tuple[str, ...], revision: str | None, to: str | None,
           offline: bool) -> None:
    from swiftpipe.hub.download import download

    done = download(repo_type, repo_id, hub=hub, files=files, revision=revision, to=Path(to) if to else None,
                 offline=offline)
    if done.from_cache:
        console.say(f"note: {done.hub} is offline or unreachable; these files come from its cache", err=True,
                    style="yellow")
    places: Sequence[Path | None] = done.placed or [None] * len(done.cached)
    for cached, placed in zip(done.cached, places):
        console.say(f"{done.hub} {repo_type} {repo_id}: {placed if placed is not None else cached}"
                   + (f"  (cache: {cached})" if placed is not None else ""))
