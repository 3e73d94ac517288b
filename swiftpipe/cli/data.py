"""`swiftpipe data`: validate, convert and describe data files before ms-swift sees them."""
from __future__ import annotations

from pathlib import Path

import click

from swiftpipe import console
from swiftpipe.cli.common import print_json, user_errors, work_dir_option

# What a file is for (formats.PURPOSES, and the swift rlhf methods by name: formats.METHOD_PURPOSE); what convert
# writes (formats.CONVERTIBLE). Spelled out here so that `--help` imports no data module.
_KINDS = click.Choice(["pt", "sft", "dpo", "kto", "prompt", "rm", "orpo", "simpo", "cpo", "grpo", "ppo", "gkd"])
_CONVERTIBLE = click.Choice(["pt", "sft", "dpo"])
_purpose_option = click.option("--kind", "purpose", type=_KINDS, default=None,
                               help="What the file is for, or the swift rlhf method that reads it (default: "
                                    "guessed from its first record).")


@click.group(epilog="""\b
Examples:
  swiftpipe data validate datasets/medical_pretrain_sample.jsonl --kind pt
  swiftpipe data validate data/qizhen-gpt-sft-20k.json --kind sft
  swiftpipe data convert data/reward/train.json data/dpo.jsonl --to dpo
  swiftpipe data convert data/dataset_info.json data/sft.jsonl --entry medical_sft --to sft
  swiftpipe data stats data/dpo.jsonl
""")
def data() -> None:
    """Check, convert and describe datasets (JSON Lines or one JSON array, any size)."""


@data.command("validate", epilog="""\b
Examples:
  swiftpipe data validate datasets/medical_sft_sample.jsonl --kind sft
  swiftpipe data validate train.jsonl val.jsonl --kind dpo --limit 100
  swiftpipe data validate data/kto.jsonl --kind kto        # each answer labelled true or false
  swiftpipe data validate data/math.jsonl --kind grpo      # prompts; the answers are GRPO's to sample
  swiftpipe data validate data/reward/train.json --kind dpo \\
      --columns '{"response_chosen": "response", "response_rejected": "rejected_response"}'
""")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_purpose_option
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True, help="Problems shown per file.")
@click.option("--max-record-mb", type=click.IntRange(1), default=64, show_default=True,
              help="A longer record is reported, not read.")
@click.option("--columns", default=None, metavar="JSON",
              help="Rename columns first, as ms-swift's --columns does: '{\"response_chosen\": \"response\"}'.")
@click.option("--no-cache", is_flag=True, help="Read the file even if it was checked clean before and is unchanged.")
@work_dir_option
@user_errors
def validate_command(paths: tuple[str, ...], purpose: str | None, limit: int, max_record_mb: int,
                     columns: str | None, no_cache: bool, work_dir: Path) -> None:
    """Check every record; print each problem as PATH:LINE: FIELD: WHAT, and exit 2 if there are any.

    A large JSON Lines file is checked on every core. A file checked clean is remembered in the work dir
    (checked/), and not read again while it is unchanged (same size, times, inode and first and last bytes)."""
    from swiftpipe.data.cache import CheckCache, validate_once
    from swiftpipe.data.formats import parse_columns, purpose_of
    from swiftpipe.data.progress import reading
    from swiftpipe.data.validate import DataError, guess_purpose
    from swiftpipe.records.run_record import CHECKED_DIR

    renames = parse_columns(columns)
    failed: list[str] = []
    for path in paths:
        if not Path(path).is_file():
            failed.append(f"{path}: no such file")
            continue
        with reading(path, "validating") as progress:
            report, cached = validate_once(Path(path), purpose_of(purpose or guess_purpose(Path(path))), limit=limit,
                                           columns=renames, max_record_bytes=max_record_mb << 20, progress=progress,
                                           cache=None if no_cache else CheckCache(work_dir / CHECKED_DIR))
        try:
            report.raise_for_problems()
            console.say(f"ok: {report.summary()}" + (" (checked before, unchanged since)" if cached else ""))
        except DataError as exc:
            failed.append(str(exc))
    if failed:
        raise DataError("\n".join(failed))


@data.command("convert", epilog="""\b
Examples:
  swiftpipe data convert data/reward/train.json data/dpo.jsonl --to dpo
  swiftpipe data convert qizhen-gpt-sft-20k.json data/sft.jsonl --to sft
  swiftpipe data convert data/dataset_info.json data/sft.jsonl --entry medical_sft --to sft
""")
@click.argument("source", type=click.Path(dir_okay=False))
@click.argument("target", type=click.Path(dir_okay=False))
@click.option("--to", "purpose", type=_CONVERTIBLE, required=True, help="The kind of data to write.")
@click.option("--entry", default=None, help="The entry to read when SOURCE is LLaMA-Factory's dataset_info.json.")
@click.option("--force", is_flag=True, help="Replace TARGET if it exists.")
@user_errors
def convert_command(source: str, target: str, purpose: str, entry: str | None, force: bool) -> None:
    """Write SOURCE as ms-swift's messages JSON Lines. TARGET appears only complete; SOURCE is never touched."""
    from swiftpipe.data.convert import convert
    from swiftpipe.data.progress import reading

    with reading(source, "converting") as progress:
        done = convert(Path(source), Path(target), to=purpose, entry=entry, force=force, progress=progress)
    console.say(f"converted {done.records} {done.purpose} records ({done.shape}) {done.source} -> {done.target}")
    for column, goes_to in done.mapping:
        console.say(f"  {column:40s} -> {goes_to}")


@data.command("stats", epilog="""\b
Examples:
  swiftpipe data stats data/dpo.jsonl
  swiftpipe data stats datasets/medical_pretrain_sample.jsonl --kind pt --json
""")
@click.argument("path", type=click.Path(dir_okay=False))
@_purpose_option
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@user_errors
def stats_command(path: str, purpose: str | None, as_json: bool) -> None:
    """Records, text lengths (characters), empty and duplicate records."""
    from swiftpipe.data.progress import reading
    from swiftpipe.data.stats import stats
    from swiftpipe.data.validate import DataError

    if not Path(path).is_file():
        raise DataError(f"{path}: no such file")
    with reading(path, "reading") as progress:
        found = stats(Path(path), purpose=purpose, progress=progress)
    if as_json:
        print_json(found.to_json())
        return
    console.say(f"{found.path}: {found.records} {found.purpose} records ({found.shape})")
    console.say(f"  valid {found.good}, empty {found.empty}, duplicates {found.duplicates}, "
               f"with problems {found.problems}" + (" (swiftpipe data validate shows them)" if found.problems else ""))
    for part, dist in found.lengths.items():
        console.say(f"  {part + ' chars':15s} " + "  ".join(f"{_label(p)} {v}" for p, v in dist.items()))


def _label(percentile: int) -> str:
    return {0: "min", 100: "max"}.get(percentile, f"p{percentile}")
