"""`swiftpipe chat`: the chain's final model in an interactive `swift infer --stream true`, in this terminal.

An interactive stage has no batch form: a run without a terminal, and every Slurm job, leave it to this.
"""
from __future__ import annotations

import sys
from pathlib import Path

from swiftpipe import console
from swiftpipe.errors import UserError
from swiftpipe.msswift.dialects import Dialect
from swiftpipe.msswift.layout import Output
from swiftpipe.recipe.loading import LoadedRecipe
from swiftpipe.recipe.model import SERVING_COMMANDS, Ref, Stage, infer
from swiftpipe.records import history
from swiftpipe.render.commands import render_stage
from swiftpipe.run.launcher import LocalLauncher
from swiftpipe.run.preflight import swift_executable
from swiftpipe.run.process import run_process


def chat_note(recipe_path: str, stage: Stage | None = None) -> str:
    """Why an interactive stage did not run in a chain, and what opens it."""
    if stage is not None and stage.command in SERVING_COMMANDS:
        return (f"`swift {stage.command}` serves until stopped, so no chain waits on it; `swiftpipe run {recipe_path} "
                f"--stage {stage.name}` starts it in a terminal")
    return f"interactive chat needs a terminal; `swiftpipe chat {recipe_path}` opens it"


def chat_stage(loaded: LoadedRecipe) -> Stage:
    """The recipe's last infer stage without its dataset (a chat), or a chat on the last model produced."""
    stages = loaded.recipe.stages
    last_infer = next((s for s in reversed(stages) if s.command == "infer"), None)
    if last_infer is not None:
        flags = {k: v for k, v in last_infer.flags.items() if k not in ("val_dataset", "load_data_args", "stream")}
        return infer(f"{last_infer.name}_chat", {"stream": True, **flags}, launch=last_infer.launch)
    producer = next((s for s in reversed(stages) if s.trains or s.command == "export"), None)
    if producer is None:
        raise UserError(f"{loaded.path}: no stage produces a model to chat with")
    output = Output.MERGED if producer.command == "export" else Output.LAST_CHECKPOINT
    return infer(f"{producer.name}_chat", {"stream": True, "model": Ref(producer.name, output)})


def open_chat(loaded: LoadedRecipe, *, dialect: Dialect, work_dir: Path) -> int:
    def resolve(ref: Ref) -> str:
        found = history.produced(work_dir, loaded.key, ref.stage, ref.output)
        if found:
            return found
        raise UserError(f"{loaded.path}: stage {ref.stage!r} has not finished in any run of this recipe with these "
                        f"parameters; run the chain first (swiftpipe run {loaded.path})")

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UserError(f"{loaded.path}: chat needs a terminal (stdin and stdout); for answers in batch, give the "
                        "infer stage a --val_dataset")
    stage = chat_stage(loaded)
    rendered = render_stage(loaded.recipe, stage, loaded.source, dialect=dialect, resolve=resolve,
                            rerun=loaded.source.command("chat"))
    log = work_dir / "chat.log"
    started = LocalLauncher(swift_executable()).invocation(stage, rendered, script=log.with_suffix(".sh"),
                                                             resolve=resolve)
    console.say(started.script)
    work_dir.mkdir(parents=True, exist_ok=True)
    outcome = run_process(started.argv, environ=started.environ, log=log, on_output=lambda _: None, attach=True)
    return outcome.exit_code
