"""`swiftpipe import` on the bash users really write around a swift command: functions, loops, arrays, here-documents,
nested `$(...)` in quotes, values computed from the script's own, the clock, and files sourced beside the script.
Each script is written here, shaped like the patterns found in public users' launch files; the recipe is rendered
and its command compared with what bash would have run."""
from __future__ import annotations

import datetime
from pathlib import Path

from click.testing import CliRunner
from shell_commands import flag_pairs

from swiftpipe.cli import main
from swiftpipe.importer.importing import import_files
from swiftpipe.importer.writer import recipe_text
from swiftpipe.msswift import dialects
from swiftpipe.recipe import loading
from swiftpipe.render.commands import render_recipe
from swiftpipe.versions import swift_version

INSTALLED = dialects.target(swift_version()).major


def _commands(tmp_path: Path, script: Path, *params: str) -> tuple[list, list[str]]:
    """The import of `script`: each rendered command, and the findings' texts."""
    imported = import_files([str(script)])
    recipe = tmp_path / "imported.py"
    recipe.write_text(recipe_text(imported, name="imported", path=str(recipe)))
    loaded = loading.load(recipe, params=list(params))
    rendered = render_recipe(loaded.recipe, loaded.source, dialect=dialects.target(INSTALLED))
    return [r.command for r in rendered], [str(f) for f in imported.findings]


def _flags(command) -> dict[str, tuple[str, ...]]:
    return dict(flag_pairs(command.argv))


def test_nested_substitutions_in_quotes_a_here_document_and_a_function_are_read(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    (tmp_path / "common.sh").write_text('BASE=Qwen/Qwen2.5-7B-Instruct\nexport WANDB_PROJECT=medical\n')
    script = tmp_path / "scripts" / "train.sh"
    script.write_text(
        '#!/usr/bin/env bash\n'
        'source "$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)/common.sh"\n'
        "cat > /tmp/check.py <<'PY'\nimport sys\nprint(sys.argv)  # $(not a command) \"quotes\"\nPY\n"
        'train() {\n'
        '  local lr=$1\n'
        '  swift sft --model "$BASE" --dataset data.jsonl --learning_rate "$lr" --output_dir "out/${BASE##*/}-$2"\n'
        '}\n'
        'train 1e-4 a\n'
        'train 2e-4 b\n')
    commands, findings = _commands(tmp_path, script)
    assert [c.subcommand for c in commands] == ["sft", "sft"]
    first, second = (_flags(c) for c in commands)
    assert first["--model"] == ("Qwen/Qwen2.5-7B-Instruct",)  # from the sourced file, found above the script
    assert (first["--learning_rate"], first["--output_dir"]) == (("1e-4",), ("out/Qwen2.5-7B-Instruct-a",))
    assert (second["--learning_rate"], second["--output_dir"]) == (("2e-4",), ("out/Qwen2.5-7B-Instruct-b",))
    assert commands[0].environment.get("WANDB_PROJECT") == "medical"  # exported by the sourced file
    assert any("common.sh" in f and "translated" in f for f in findings)


def test_a_for_loop_over_values_runs_its_command_once_for_each(tmp_path: Path) -> None:
    script = tmp_path / "sweep.sh"
    script.write_text('LRS="1e-4 5e-5"\nfor lr in $LRS; do\n'
                      '  for rank in {8..9}; do\n'
                      '    swift sft --model m --dataset d --learning_rate $lr --lora_rank $rank '
                      '--output_dir out/lr${lr}_r${rank}\n'
                      '  done\ndone\n')
    commands, findings = _commands(tmp_path, script)
    assert [(_flags(c)["--learning_rate"][0], _flags(c)["--lora_rank"][0], _flags(c)["--output_dir"][0])
            for c in commands] == [("1e-4", "8", "out/lr1e-4_r8"), ("1e-4", "9", "out/lr1e-4_r9"),
                                   ("5e-5", "8", "out/lr5e-5_r8"), ("5e-5", "9", "out/lr5e-5_r9")]
    assert any("for lr in 1e-4, 5e-5" in f for f in findings)


def test_a_loop_over_values_the_script_does_not_give_is_one_stage_with_a_parameter(tmp_path: Path) -> None:
    script = tmp_path / "shards.sh"
    script.write_text('for shard in data/*.jsonl; do\n  swift pt --model m --dataset "$shard"\ndone\n')
    commands, findings = _commands(tmp_path, script, "shard=data/a.jsonl")
    assert [_flags(c)["--dataset"] for c in commands] == [("data/a.jsonl",)]
    assert any("the values of $shard are not known" in f for f in findings)


def test_values_computed_from_the_scripts_own_are_computed(tmp_path: Path) -> None:
    script = tmp_path / "computed.sh"
    script.write_text(
        'MODEL_DIR=/models/Qwen2.5-7B-Instruct\nCKPT=checkpoint-1048-merged\nFUNCS="accuracy,format"\n'
        'NAME=$(basename $MODEL_DIR)\nN=4\n'
        'swift rlhf --rlhf_type grpo --model $MODEL_DIR --dataset d --reward_funcs ${FUNCS//,/ } '
        '--output_dir "out/${NAME,,}/${CKPT%%-*}-${CKPT#*-}" --logging_dir "$(dirname $MODEL_DIR)/logs" '
        '--gradient_accumulation_steps $((16 / N)) --run_name "${NAME:0:4}"\n')
    [grpo], _ = _commands(tmp_path, script)
    flags = _flags(grpo)
    assert flags["--reward_funcs"] == ("accuracy", "format")  # the unquoted replacement splits, as bash splits it
    assert flags["--output_dir"] == ("out/qwen2.5-7b-instruct/checkpoint-1048-merged",)
    assert flags["--logging_dir"] == ("/models/logs",)
    assert flags["--gradient_accumulation_steps"] == ("4",)
    assert flags["--run_name"] == ("Qwen",)


def test_a_value_computed_from_a_parameter_is_computed_when_the_recipe_runs(tmp_path: Path) -> None:
    script = tmp_path / "arg.sh"
    script.write_text('CKPT="${1:-output/v0-20250610-135359/checkpoint-1048}"\n'
                      'swift infer --model Qwen/Qwen2.5-7B --adapters "$CKPT" '
                      '--result_path "results/$(basename "$(dirname "$CKPT")")_${CKPT##*-}.jsonl"\n')
    [default], _ = _commands(tmp_path, script)
    [given], _ = _commands(tmp_path, script, "ckpt=out/v3-x/checkpoint-7")  # CKPT=${1:-...}: the parameter ckpt
    assert _flags(default)["--result_path"] == ("results/v0-20250610-135359_1048.jsonl",)
    assert _flags(given)["--result_path"] == ("results/v3-x_7.jsonl",)


def test_the_clock_becomes_a_parameter_whose_default_is_the_time_of_the_import(tmp_path: Path) -> None:
    script = tmp_path / "dated.sh"
    script.write_text('DAY=$(date +%Y%m%d)\nswift sft --model m --dataset d --output_dir "out/$DAY"\n')
    [sft], findings = _commands(tmp_path, script)
    today = datetime.date.today().strftime("%Y%m%d")
    assert _flags(sft)["--output_dir"] in ((f"out/{today}",), (f"out/{int(today) + 1}",))
    [later], _ = _commands(tmp_path, script, "day=20250101")
    assert _flags(later)["--output_dir"] == ("out/20250101",)
    assert any("is the time the script runs" in f for f in findings)


def test_a_sourced_file_that_is_not_there_leaves_parameters_and_says_so(tmp_path: Path) -> None:
    script = tmp_path / "sourced.sh"
    script.write_text('source ./env.sh\nswift sft --model "$MODEL_PATH" --dataset d\n')
    [sft], findings = _commands(tmp_path, script, "model_path=/models/m")
    assert _flags(sft)["--model"] == ("/models/m",)
    assert any("$MODEL_PATH: the file sourced at" in f and "may set it" in f for f in findings), findings


def test_a_script_run_with_bash_is_read_with_its_arguments(tmp_path: Path) -> None:
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "train.sh").write_text('swift sft --model "$1" --dataset "${2:-d.jsonl}"\n')
    script = tmp_path / "run_all.sh"
    script.write_text("#!/bin/bash\ncommand -v swift >/dev/null || exit 1\nbash tools/train.sh Qwen/Qwen3-8B\n")
    [sft], _ = _commands(tmp_path, script)
    assert _flags(sft)["--model"] == ("Qwen/Qwen3-8B",) and _flags(sft)["--dataset"] == ("d.jsonl",)


def test_a_command_held_in_an_array_set_by_a_condition_is_read(tmp_path: Path) -> None:
    script = tmp_path / "uv.sh"
    script.write_text('#!/bin/bash\nif command -v uv >/dev/null 2>&1; then\n  SWIFT_CMD=(uv run swift)\nelse\n'
                      '  SWIFT_CMD=(swift)\nfi\nARGS=(--model m --dataset d)\n"${SWIFT_CMD[@]}" sft "${ARGS[@]}"\n')
    [sft], findings = _commands(tmp_path, script)
    assert sft.argv[1:] == ["sft", "--model", "m", "--dataset", "d"]
    assert any("`uv run` in front of swift" in f for f in findings)


def test_what_bash_cannot_read_is_one_line_with_its_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bad.sh").write_text('echo ok\nswift sft --model "$(dirname "x)"\n')
    result = CliRunner().invoke(main, ["import", "bad.sh", "-o", "out.py"])
    assert result.exit_code == 2 and result.stderr.startswith("error: bad.sh:2: bash cannot read this:"), result.stderr
    assert "Traceback" not in result.output and not Path("out.py").exists()


def test_a_loop_over_one_commands_settings_becomes_its_variants(tmp_path: Path) -> None:
    """A sweep written as a loop is one stage and the loop's values its variants: `swiftpipe run` runs each (as the
    loop did, with its own output_dir), and the sweep's comparison and report see them as one sweep."""
    script = tmp_path / "sweep.sh"
    script.write_text('for lr in 1e-4 5e-5; do\n'
                      '  swift sft --model m --dataset d --learning_rate $lr --output_dir "out/lr_${lr}"\n'
                      'done\nswift infer --model m --val_dataset v.jsonl\n')
    imported = import_files([str(script)])
    assert [c.command for c in imported.calls] == ["sft", "infer"]
    recipe = tmp_path / "imported.py"
    recipe.write_text(recipe_text(imported, name="imported", path=str(recipe)))
    assert 'sft.learning_rate=["1e-4", "5e-5"]; sft.output_dir=["out/lr_1e-4", "out/lr_5e-5"]' in recipe.read_text()
    loaded = loading.load(recipe)
    trained = [r.command for r in render_recipe(loaded.recipe, loaded.source, dialect=dialects.target(INSTALLED))
               if r.command.subcommand == "sft"]
    assert [(_flags(c)["--learning_rate"], _flags(c)["--output_dir"]) for c in trained] == [
        (("1e-4",), ("out/lr_1e-4",)), (("5e-5",), ("out/lr_5e-5",))]  # the loop's commands, word for word
    alone = loading.load(recipe, varies=["none"])
    assert [r.command.stage for r in render_recipe(alone.recipe, alone.source,
                                                   dialect=dialects.target(INSTALLED))] == ["sft", "infer"]


def test_a_default_that_is_another_variables_default_renders_that_value(tmp_path: Path) -> None:
    script = tmp_path / "grpo.sh"  # no shebang, and the command only in an array: a .sh file is read as shell
    script.write_text('NUM_GENERATIONS="${NUM_GENERATIONS:-16}"\n'
                      'GENERATION_BATCH_SIZE="${GENERATION_BATCH_SIZE:-$NUM_GENERATIONS}"\nCMD=(swift rlhf)\n'
                      '"${CMD[@]}" --rlhf_type grpo --model m --dataset d --num_generations "$NUM_GENERATIONS" '
                      '--generation_batch_size "$GENERATION_BATCH_SIZE"\n')
    [grpo], _ = _commands(tmp_path, script)
    assert _flags(grpo)["--generation_batch_size"] == ("16",)
    [given], _ = _commands(tmp_path, script, "num_generations=8", "generation_batch_size=32")
    assert (_flags(given)["--num_generations"], _flags(given)["--generation_batch_size"]) == (("8",), ("32",))


def test_a_switch_written_without_a_value_is_turned_on(tmp_path: Path) -> None:
    script = tmp_path / "bare.sh"
    script.write_text("swift sft --model m --dataset d --gradient_checkpointing --lazy_tokenize\n")
    [sft], findings = _commands(tmp_path, script)
    assert _flags(sft)["--gradient_checkpointing"] == ("true",) and _flags(sft)["--lazy_tokenize"] == ("true",)
    assert any("--gradient_checkpointing (no value) -> --gradient_checkpointing true" in f for f in findings)


def _write(tmp_path: Path, text: str, name: str = "s.sh") -> Path:
    script = tmp_path / name
    script.write_text(text)
    return script


def test_a_secret_a_retired_flag_or_a_hand_off_in_a_loop_is_never_a_variant(tmp_path: Path) -> None:
    secret = _write(tmp_path, "for key in sk-aaaa sk-bbbb; do\n  swift sft --model m --dataset d --hub_token $key\n"
                    "done\n", "secret.sh")
    imported = import_files([str(secret)])
    recipe = recipe_text(imported, name="r", path="r.py")
    assert "sk-aaaa" not in recipe and "sk-bbbb" not in recipe and not imported.sweeps
    retired = _write(tmp_path, "for s in steps epoch; do\n  swift sft --model m --dataset d --evaluation_strategy $s\n"
                     "done\n", "retired.sh")
    imported = import_files([str(retired)])
    assert [(call.name, changed) for call, changed, _ in imported.sweeps] == [("sft", [("eval_strategy",
                                                                                       ["steps", "epoch"])])]
    handed = _write(tmp_path, "swift sft --model m --dataset d --output_dir out\nfor c in 100 200; do\n"
                    "  swift infer --adapters out/v0-20250101-000000/checkpoint-$c\ndone\n", "handed.sh")
    imported = import_files([str(handed)])
    assert not imported.sweeps and [c.command for c in imported.calls] == ["sft", "infer", "infer"]


def test_variables_in_front_of_a_function_call_reach_its_command(tmp_path: Path) -> None:
    script = _write(tmp_path, 'train() {\n  swift sft --model m --dataset d --learning_rate "$1"\n}\n'
                    "CUDA_VISIBLE_DEVICES=0,1 NPROC_PER_NODE=2 train 1e-4\n")
    [sft], _ = _commands(tmp_path, script)
    assert sft.environment == {"CUDA_VISIBLE_DEVICES": "0,1", "NPROC_PER_NODE": "2"}


def test_locals_subshells_and_positional_builtins_scope_as_bash_scopes_them(tmp_path: Path) -> None:
    script = _write(tmp_path, 'LR=1e-4\nf() { local LR=5e-5; }\nf\n( LR=9e-9 )\n'
                    'g() { shift; swift sft --model "$1" --dataset d --learning_rate "$LR" --output_dir "$*" '
                    '--lora_rank "${@: -1}"; }\n'
                    'g skipped m 8\nset -- Qwen/Qwen3-8B\nswift infer --model "$1"\n')
    sft, infer = _commands(tmp_path, script)[0]
    flags = _flags(sft)
    assert flags["--learning_rate"] == ("1e-4",) and flags["--model"] == ("m",)
    assert flags["--output_dir"] == ("m 8",) and flags["--lora_rank"] == ("8",)
    assert _flags(infer)["--model"] == ("Qwen/Qwen3-8B",)


def test_arrays_by_element_and_an_array_the_script_never_fills(tmp_path: Path) -> None:
    script = _write(tmp_path, 'A=(1e-4 2e-4)\nA[1]=5e-5\ni=1\nIFS=, read -ra DS <<< "$DATA"\n'
                    'swift sft --model m --dataset "${DS[@]}" --learning_rate ${A[0]} --weight_decay ${A[$i]}\n')
    [sft], _ = _commands(tmp_path, script, "ds=a.jsonl")
    flags = _flags(sft)
    assert flags["--learning_rate"] == ("1e-4",) and flags["--weight_decay"] == ("5e-5",)
    assert flags["--dataset"] == ("a.jsonl",)  # a parameter, never a switch turned on


def test_an_exit_no_condition_guards_ends_the_script_and_one_in_a_function_called_under_a_condition_does_not(
        tmp_path: Path) -> None:
    script = _write(tmp_path, 'usage() { echo "usage"; exit 1; }\n[ -n "$X" ] || usage\n'
                    "for lr in 1e-4 2e-4 3e-4; do\n  [ $lr = 3e-4 ] && break\n"
                    "  swift sft --model m --dataset d --learning_rate $lr\n  break\ndone\n"
                    "swift infer --model m\nexit 0\nswift sft --model old --dataset d\n")
    commands, findings = _commands(tmp_path, script)
    assert [(c.subcommand, _flags(c)["--model"]) for c in commands] == [("sft", ("m",)), ("infer", ("m",))]
    assert any(":9: dropped: what follows this `exit`" in f for f in findings), findings


def test_each_clock_and_random_draw_is_its_own_parameter(tmp_path: Path) -> None:
    script = _write(tmp_path, 'export MASTER_PORT=$((RANDOM % 1000 + 20000))\n'
                    'swift sft --model m --dataset d --output_dir out/$(date +%Y%m%d) '
                    '--logging_dir logs/$(date +%H%M%S)\n')
    imported = import_files([str(script)])
    assert imported.params["master_port"].default == "20000"
    assert {p.origin for p in imported.params.values() if p.name.startswith("date")} == {"$(date +%Y%m%d)",
                                                                                        "$(date +%H%M%S)"}


def test_flags_an_array_gets_when_the_script_runs_are_dropped_and_said(tmp_path: Path) -> None:
    script = _write(tmp_path, "mapfile -t ARGS < <(python make_args.py config.yaml)\nswift sft \"${ARGS[@]}\"\n")
    imported = import_files([str(script)])
    assert [c.command for c in imported.calls] == ["sft"] and imported.params == {}
    assert any("${ARGS[@]}: flags the script builds when it runs" in f.text for f in imported.findings)


def test_the_scripts_arguments_are_named_after_their_variables_and_the_script_folder_has_a_parent(
        tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "scripts").mkdir()
    script = _write(tmp_path / "scripts", 'SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)\nROOT=$(dirname "$SCRIPT_DIR")\n'
                    'MODEL=$1\ncat > ds.json <<JSON\n{"zero_optimization": {"stage": 2}}\nJSON\n'
                    'swift sft --model "$MODEL" --dataset "$ROOT/data/d.jsonl" --deepspeed ds.json\n', "train.sh")
    monkeypatch.chdir(tmp_path / "scripts")
    imported = import_files(["train.sh"])  # run from its own folder: `pwd` is `.`, and its parent `..`
    assert list(imported.params) == ["model"] and imported.params["model"].origin == "$1"
    assert imported.calls[0].get("dataset").values == ["../data/d.jsonl"]
    [sft], findings = _commands(tmp_path, script, "model=m")
    assert _flags(sft)["--dataset"] == (str(tmp_path / "data" / "d.jsonl"),)
    assert any("writes ds.json from a here-document" in f for f in findings)
