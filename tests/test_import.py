"""`swiftpipe import`: scripts and ms-swift Python files become recipes that render the same commands, for 3 and 4.

The shell is read as bash reads it (checked against tests/shell_commands.py, an independent reader of the same
tutorial files); flags are checked against the installed ms-swift's own parser, and every translation-table entry
is a flag that ms-swift accepts."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from shell_commands import flag_pairs, parse

from swiftpipe.cli import main
from swiftpipe.errors import UserError
from swiftpipe.importer.importing import import_files
from swiftpipe.importer.writer import recipe_text
from swiftpipe.msswift import dialects, v2
from swiftpipe.msswift.arguments import known_flags
from swiftpipe.recipe import loading
from swiftpipe.render.commands import render_recipe
from swiftpipe.render.lint import lint
from swiftpipe.versions import swift_version

REPO = Path(__file__).resolve().parent.parent
TUTORIAL = REPO / "tests" / "fixtures" / "tutorial"
PATTERNS = REPO / "tests" / "fixtures" / "import"
INSTALLED = dialects.target(swift_version()).major
SEED_003 = ["seed003_pretrain.py", "seed003_merge_pretrain.sh", "seed003_sft.py", "seed003_merge_sft.sh",
            "seed003_self_cognition.py", "seed003_merge_self_cognition.sh", "seed003_app.py"]


def _import(tmp_path: Path, *files: Path, name: str = "imported"):
    imported = import_files([str(f) for f in files])
    path = tmp_path / f"{name}.py"
    path.write_text(recipe_text(imported, name=name, path=str(path)))
    return imported, loading.load(path)


def _rendered(loaded, major: int) -> dict:
    return {r.command.stage: r for r in render_recipe(loaded.recipe, loaded.source, dialect=dialects.target(major))}


@pytest.mark.parametrize("fixtures", [
    ["seed000_pretrain.sh", "seed004_sft_lora.sh", "seed004_merge.sh", "seed004_infer_merged.sh"],
    ["seed004_sft_full.sh"], ["seed004_sft_lisa.sh"]], ids=["pretrain-sft-merge-infer", "sft_full", "sft_lisa"])
def test_the_tutorial_scripts_come_back_as_the_same_commands(tmp_path: Path, fixtures: list[str]) -> None:
    _, loaded = _import(tmp_path, *(TUTORIAL / f for f in fixtures))
    rendered = list(_rendered(loaded, 3).values())
    assert len(rendered) == len(fixtures)
    for fixture, stage in zip(fixtures, rendered):
        want_env, want_argv = parse((TUTORIAL / fixture).read_text())
        got_env, got_argv = parse(stage.script)
        assert dict(got_env) == dict(want_env), fixture
        assert got_argv[:2] == want_argv[:2]
        want, got = flag_pairs(want_argv), flag_pairs(got_argv)
        assert [n for n, _ in got] == [n for n, _ in want], fixture
        for (name, want_values), (_, got_values) in zip(want, got):
            if got_values[0].startswith("<") and "." in got_values[0] and got_values != want_values:
                assert want_values[0].startswith("<"), f"{fixture} {name}: only a hand-off may differ"
                continue
            assert got_values == want_values, f"{fixture} {name}"


def test_the_chain_of_tutorial_scripts_is_linked_and_renders_for_ms_swift_4(tmp_path: Path) -> None:
    imported, loaded = _import(tmp_path, *(TUTORIAL / f for f in ["seed000_pretrain.sh", "seed004_sft_lora.sh",
                                                                 "seed004_merge.sh", "seed004_infer_merged.sh"]))
    assert [c.name for c in imported.calls] == ["pretrain", "sft", "merge", "infer"]
    four = {name: dict(flag_pairs(r.command.argv)) for name, r in _rendered(loaded, 4).items()}
    assert four["pretrain"]["--tuner_type"] == ("full",)
    assert four["pretrain"]["--gradient_accumulation_steps"] == ("8",)  # per_process(8) over NPROC_PER_NODE=1
    assert four["merge"]["--adapters"] == ("<sft.last_checkpoint>",)
    assert four["infer"]["--model"] == ("<merge.merged>",)
    assert {f.category for f in imported.findings} >= {"repaired", "hand-off"}
    params = {p.name: p.default for p in imported.params.values()}
    assert params["model_path_or_id"] == "<model_path_or_id>"  # the tutorial's placeholder, to fill in with -p


def test_seed_003s_python_api_chain_is_translated_from_2x(tmp_path: Path) -> None:
    imported, loaded = _import(tmp_path, *(TUTORIAL / f for f in SEED_003))
    stages = loaded.recipe.stages
    assert [s.name for s in stages] == ["sft", "merge", "sft_2", "merge_sft_2", "sft_3", "merge_sft_3", "app"]
    three = {name: dict(flag_pairs(r.command.argv)) for name, r in _rendered(loaded, 3).items()}
    pretrain = three["sft"]
    assert pretrain["--model"] == ("/your/model/path/Qwen/Qwen-14B-Chat",)
    assert len(pretrain["--dataset"]) == 4 and pretrain["--per_device_train_batch_size"] == ("8",)
    assert pretrain["--target_modules"] == ("all-linear",) and pretrain["--split_dataset_ratio"] == ("0.05",)
    assert "--model_type" not in pretrain and "--train_dataset_sample" not in pretrain
    assert three["merge"]["--ckpt_dir"] == ("<sft.last_checkpoint>",)
    assert three["sft_2"]["--model"] == ("<merge.merged>",) and len(three["sft_2"]["--val_dataset"]) == 4
    assert "--max_length" not in three["sft_2"]  # 2.x's -1, no limit, is 3/4's default
    assert three["merge_sft_2"]["--ckpt_dir"] == ("<sft_2.best_checkpoint>",)
    assert three["sft_3"]["--model"] == ("<merge_sft_2.merged>",)  # best_model_checkpoint + '-merged'
    assert three["sft_3"]["--dataset"] == ("AI-ModelScope/alpaca-gpt4-data-zh#1000",
                                           "AI-ModelScope/alpaca-gpt4-data-en#1000", "swift/self-cognition#1000")
    assert three["app"]["--ckpt_dir"] == ("<merge_sft_3.merged>",) and "--eval_human" not in three["app"]
    assert loaded.recipe.stage("app").interactive  # a server: never part of a batch chain
    assert _rendered(loaded, 4)["app"].command.argv[2:4] == ["--model", "<merge_sft_3.merged>"]
    commands = [r.command for r in _rendered(loaded, INSTALLED).values()]
    assert lint(commands, where="seed 003") > 40  # the installed ms-swift's own parser takes every flag


def test_shell_patterns_are_read_as_bash_would_and_secrets_stay_out(tmp_path: Path, monkeypatch) -> None:
    imported, loaded = _import(tmp_path, PATTERNS / "patterns.sh")
    text = (tmp_path / "imported.py").read_text()
    assert "hf_notarealtoken" not in text and "not-a-real-key" not in text
    monkeypatch.setenv("HUB_TOKEN", "from-the-environment")
    loaded = loading.load(tmp_path / "imported.py", params=["run_name=run1", "eval_data=data/eval.jsonl"])
    sft, infer = (r.command for r in _rendered(loaded, INSTALLED).values())
    flags = dict(flag_pairs(sft.argv))
    assert sft.environment == {"NPROC_PER_NODE": "2", "MASTER_PORT": "29501", "CUDA_VISIBLE_DEVICES": "0,1"}
    assert flags["--model"] == ("Qwen/Qwen2.5-0.5B",)  # ${MODEL:-...}
    assert flags["--dataset"] == ("data/train.jsonl", "data/extra set.jsonl#500")
    assert flags["--learning_rate"] == ("1e-4",)  # --learning_rate=1e-4
    assert flags["--gradient_accumulation_steps"] == ("8",)  # $((16 / nproc)) with NPROC_PER_NODE=$nproc
    assert flags["--output_dir"] == ("output/run1",)  # "output/${RUN_NAME}" with RUN_NAME=$1: the parameter run_name
    assert flags["--lora_rank"] == ("8",)  # the commented-out --lora_rank 64 stays out; the command goes on
    assert flags["--logging_steps"] == ("5",) and flags["--save_steps"] == ("50",)  # unquoted $COMMON splits
    assert flags["--hub_token"] == ("from-the-environment",)
    assert dict(flag_pairs(infer.argv))["--adapters"] == ("<sft.last_checkpoint>",)  # $(ls -td ... | head -n 1)
    assert dict(flag_pairs(infer.argv))["--val_dataset"] == ("data/eval.jsonl",)  # ${EVAL_DATA:?...}
    categories = [(f.category, f.text.split(":")[0]) for f in imported.findings]
    assert ("secret", "--hub_token") in categories
    assert sum(f.category == "repaired" for f in imported.findings) == 3  # space after \, commented line, final \


@pytest.mark.parametrize("old,new", sorted((old, rule.new) for old, rule in v2.RENAMES.items()))
def test_every_2x_rename_is_a_flag_the_installed_ms_swift_takes(old: str, new: str) -> None:
    subcommand = {"merge_lora_and_save": "export", "result_dir": "infer", "load_dataset_config": "infer",
                  "ref_model_id_or_path": "rlhf"}.get(old, "sft")
    spelled = dialects.RENAMED.get(new, {}).get(INSTALLED, new)
    assert spelled in known_flags(subcommand), f"{old} -> {new}"
    assert old not in known_flags(subcommand) or old in ("deepspeed", "target_modules")


def test_every_2x_subcommand_maps_to_one_ms_swift_has() -> None:
    for old, (new, implied) in v2.SUBCOMMANDS.items():
        assert set(implied) <= known_flags(new), old


def _cli(*args: str):
    return CliRunner().invoke(main, ["import", *args])


def test_the_cli_writes_the_recipe_and_reports_on_stderr_and_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "recipes" / "mine.py"
    result = _cli(str(TUTORIAL / "seed004_sft_lora.sh"), str(TUTORIAL / "seed004_merge.sh"), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "hand-off: --ckpt_dir" in result.stderr and "wrote" in result.stderr
    assert out.read_text().startswith(f"# swiftpipe render {out}")
    assert loading.load(out).recipe.stage_names == ["sft", "merge"]
    again = _cli(str(TUTORIAL / "seed004_sft_lora.sh"), "-o", str(out))
    assert again.exit_code == 2 and "--force" in again.stderr
    assert loading.load(out).recipe.stage_names == ["sft", "merge"]
    assert _cli(str(TUTORIAL / "seed004_sft_lora.sh"), "-o", str(out), "--force").exit_code == 0
    assert loading.load(out).recipe.stage_names == ["sft"]
    printed = _cli(str(TUTORIAL / "seed003_app.py"))
    assert printed.exit_code == 0 and 'stage("app", "app", {' in printed.stdout


@pytest.mark.parametrize("name,text,message", [
    ("empty.sh", "  \n", "empty.sh: the file is empty"),
    ("notes.txt", "just some notes\n", "notes.txt: not a kind of file swiftpipe imports"),
    ("bad.py", "from swift.llm import sft_main\nsft_main(SftArguments(model='x',)\n", "bad.py:2: not valid Python"),
    ("quote.sh", "swift sft --model 'x\n", "quote.sh:1: bash cannot read this"),
    ("eval.sh", 'CMD="swift sft --model x"\neval $CMD\n', "eval.sh:2: a command built at run time (eval)"),
    ("built.sh", "swift sft --model $(python pick_model.py)\n", "built.sh:1: --model: '$(python pick_model.py)' is "
     "built by another program"),
    ("built_joined.sh", "swift sft --model m --dataset d --output_dir=out/$(python next_run.py)\n",
     "built_joined.sh:1: --output_dir: 'out/$(python next_run.py)' is built by another program"),
    ("unmerged.sh", "swift sft --model m --dataset d --output_dir out/sft\n"
     'swift infer --model "$(ls -td out/sft/v*/checkpoint-*-merged | head -n 1)"\n', "unmerged.sh:2: --model: "
     "'$(ls -td out/sft/v*/checkpoint-*-merged | head -n 1)' looks for a merged model of stage 'sft', but no earlier "
     "command merges it"),
    ("literals.py", "from swift.llm import sft_main, SftArguments\n"
     "sft_main(SftArguments(model='m',\n    dataset=['a', ['b']]))\n", "literals.py:3: dataset=['b']: not a value a "
     "flag takes"),
])
def test_bad_input_is_one_line_naming_file_and_line_and_nothing_is_written(tmp_path: Path, monkeypatch, name: str,
                                                                            text: str, message: str) -> None:
    monkeypatch.chdir(tmp_path)
    Path(name).write_text(text)
    result = _cli(name, "-o", "out.py")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {message}"), result.stderr
    assert "Traceback" not in result.output
    assert not Path("out.py").exists()


def test_a_command_in_a_condition_that_does_not_use_it_is_imported_with_a_warning(tmp_path: Path) -> None:
    script = tmp_path / "cond.sh"
    script.write_text('if [ ! -d output/sft ]; then\n  swift sft --model x --output_dir output/sft\nfi\n')
    imported = import_files([str(script)])
    assert [c.command for c in imported.calls] == ["sft"]
    assert any(f.category == "warning" and "condition" in f.text for f in imported.findings)


def test_a_2x_shell_script_is_translated_and_a_pt_keeps_its_full_training(tmp_path: Path) -> None:
    script = tmp_path / "old.sh"
    script.write_text("CUDA_VISIBLE_DEVICES=0 swift pt --model_type qwen2-0_5b-instruct --model_id_or_path m \\\n"
                      "  --custom_train_dataset_path a.jsonl --train_dataset_sample 20 --dtype bf16 \\\n"
                      "  --quantization_bit 4 --use_flash_attn true --deepspeed default-zero2 --output_dir out/pt\n"
                      "swift dpo --model_id_or_path out/pt/qwen2-0_5b-instruct/v0-20240101-000000/checkpoint-10 "
                      "--dataset d.jsonl\n")
    _, loaded = _import(tmp_path, script)
    three = {n: r.command.argv[2:] for n, r in _rendered(loaded, 3).items()}
    assert three["pretrain"] == ["--model", "m", "--train_type", "full", "--dataset", "a.jsonl#20", "--torch_dtype",
                                 "bfloat16", "--quant_method", "bnb", "--quant_bits", "4", "--attn_impl",
                                 "flash_attn", "--deepspeed", "zero2", "--output_dir", "out/pt"]
    assert three["dpo"] == ["--rlhf_type", "dpo", "--model", "<pretrain.last_checkpoint>", "--dataset", "d.jsonl"]
    assert lint([r.command for r in _rendered(loaded, INSTALLED).values()], where="old.sh") == 12


def test_seed_001s_llamafactory_config_becomes_a_lora_pretraining(tmp_path: Path) -> None:
    imported, loaded = _import(tmp_path, TUTORIAL / "seed001_llama3_lora_pretrain.yaml")
    [pretrain] = [r.command for r in _rendered(loaded, 3).values()]
    assert pretrain.subcommand == "pt"
    flags = dict(flag_pairs(pretrain.argv))
    assert flags["--model"] == ("Qwen/Qwen3-0.6B",) and flags["--use_hf"] == ("true",)
    assert flags["--train_type"] == ("lora",) and flags["--target_modules"] == ("all-linear",)
    assert flags["--dataset"] == (f"{TUTORIAL / 'data' / 'data1.jsonl'}#1000",)  # via data/dataset_info.json
    assert flags["--max_length"] == ("1024",) and flags["--torch_dtype"] == ("bfloat16",)
    assert flags["--dataset_num_proc"] == ("16",) and flags["--learning_rate"] == ("1e-4",)
    assert "--do_train" not in flags and "--plot_loss" not in flags and "--resume_from_checkpoint" not in flags
    dropped = {f.text.split(":")[0] for f in imported.findings if f.category == "dropped"}
    assert {"trust_remote_code", "do_train", "overwrite_cache", "plot_loss", "overwrite_output_dir"} <= dropped
    assert any(f.category == "repaired" and "### method" in f.text for f in imported.findings)  # `true### method`
    assert lint([r.command for r in _rendered(loaded, INSTALLED).values()], where="seed 001") == 22


def test_a_llamafactory_chain_resolves_columns_stages_and_hand_offs(tmp_path: Path) -> None:
    lf = PATTERNS / "lf"
    imported, loaded = _import(tmp_path, lf / "sft.yaml", lf / "dpo.yaml", lf / "merge.yaml", lf / "chat.yaml")
    assert [(c.name, c.command) for c in imported.calls] == [("sft", "sft"), ("orpo", "rlhf"), ("merge", "export"),
                                                             ("infer", "infer")]
    three = {n: dict(flag_pairs(r.command.argv)) for n, r in _rendered(loaded, 3).items()}
    assert three["sft"]["--target_modules"] == ("q_proj", "v_proj")
    assert three["sft"]["--quant_method"] == ("bnb",) and three["sft"]["--quant_bits"] == ("4",)
    assert three["sft"]["--columns"] == ('{"question": "instruction", "context": "input", "answer": "output", '
                                         '"persona": "system", "dialogue": "conversations"}',)
    assert three["sft"]["--attn_impl"] == ("flash_attn",) and three["sft"]["--split_dataset_ratio"] == ("0.1",)
    assert "--badam_mode" not in three["sft"] and "--template" not in three["sft"]
    assert any("badam_mode: layer has no ms-swift counterpart" in f.text for f in imported.findings)
    assert any("swiftpipe data convert" in f.text for f in imported.findings)  # sharegpt with its own role tags
    assert three["orpo"]["--rlhf_type"] == ("orpo",) and three["orpo"]["--beta"] == ("0.2",)
    assert three["orpo"]["--adapters"] == ("<sft.last_checkpoint>",)  # adapter_name_or_path: the SFT output_dir
    assert three["merge"]["--adapters"] == ("<orpo.last_checkpoint>",) and three["merge"]["--max_shard_size"] == (
        "2GB",)
    assert three["infer"]["--model"] == ("<merge.merged>",) and "--use_hf" not in three["infer"]  # export_dir
    assert three["infer"]["--infer_backend"] == ("pt",)
    assert loaded.recipe.stage("infer").interactive
    assert lint([r.command for r in _rendered(loaded, INSTALLED).values()], where="lf chain") > 30


def test_seed_002s_xtuner_commands_and_configs_become_a_qlora_chain(tmp_path: Path) -> None:
    imported, loaded = _import(tmp_path, TUTORIAL / "seed002_commands.sh")
    assert [(c.name, c.command) for c in imported.calls] == [("pretrain", "pt"), ("sft", "sft"), ("merge", "export"),
                                                             ("infer", "infer")]
    three = {n: dict(flag_pairs(r.command.argv)) for n, r in _rendered(loaded, 3).items()}
    pt, sft = three["pretrain"], three["sft"]
    assert pt["--model"] == ("/root/models/internlm2_5-1_8b-chat",)
    for flags in (pt, sft):
        assert flags["--quant_method"] == ("bnb",) and flags["--quant_bits"] == ("4",)
        assert flags["--bnb_4bit_quant_type"] == ("nf4",) and flags["--bnb_4bit_use_double_quant"] == ("true",)
        assert (flags["--lora_rank"], flags["--lora_alpha"], flags["--lora_dropout"]) == (("64",), ("128",), ("0.1",))
        assert flags["--gradient_accumulation_steps"] == ("1",) and flags["--deepspeed"] == ("zero1",)
    assert pt["--output_dir"] == ("./pretrain",) and "--template" not in pt  # pretraining has no chat template
    assert sft["--template"] == ("internlm2",) and sft["--system"][0].startswith("你是悟了悟了")
    assert sft["--dataset"] == ("/root/wulewule/data/self_cognition_100.jsonl",
                                "/root/wulewule/data/huixiangdou_conversations.jsonl")
    merge = three["merge"]
    assert merge["--adapters"] == ("<sft.last_checkpoint>",)  # pth_to_hf of the finetune run, then merge
    assert merge["--output_dir"] == ("/root/wulewule/models/wulewule_v1_1_8b",) and merge["--max_shard_size"] == (
        "2GB",)
    assert three["infer"]["--template"] == ("internlm2",) and loaded.recipe.stage("infer").interactive
    env = _rendered(loaded, 3)["merge"].command.environment
    assert env == {"MKL_SERVICE_FORCE_INTEL": "1", "MKL_THREADING_LAYER": "GNU"}
    assert lint([r.command for r in _rendered(loaded, INSTALLED).values()], where="seed 002") > 50


def test_an_xtuner_config_alone_is_one_training_stage(tmp_path: Path) -> None:
    config = TUTORIAL / "xtuner_config" / "finetune" / "internlm2_5_chat_1_8b_qlora_wulewule_all_test.py"
    imported, loaded = _import(tmp_path, config)
    [call] = imported.calls
    assert call.command == "sft" and call.text("model") == "pretrain/merged_internlm2_5-1_8b-chat_pretrain"
    assert {f.text.split(" ")[0] for f in imported.findings if f.category == "dropped"} >= {"evaluation_freq",
                                                                                        "optim_type"}


def test_a_torchrun_launch_becomes_ms_swifts_launch_variables_and_its_share_per_process(tmp_path: Path) -> None:
    script = tmp_path / "node0.sh"
    script.write_text("nnodes=2\nnproc_per_node=4\n\nCUDA_VISIBLE_DEVICES=0,1,2,3 \\\ntorchrun \\\n"
                      "    --master_port 29500 \\\n    --nproc_per_node=$nproc_per_node \\\n    --nnodes=$nnodes \\\n"
                      "    --node_rank=0 \\\n    --master_addr=127.0.0.1 \\\n    swift/cli/sft.py \\\n"
                      "    --model Qwen/Qwen2.5-7B-Instruct \\\n"
                      "    --gradient_accumulation_steps $(expr 32 / $nproc_per_node / $nnodes) \\\n"
                      "    --eval_steps $((50 * 2)) \\\n    --system \"Think first.\\nThen answer: \\$x\"\n")
    _, loaded = _import(tmp_path, script)
    [sft] = [r.command for r in _rendered(loaded, INSTALLED).values()]
    assert sft.subcommand == "sft"
    assert sft.environment == {"CUDA_VISIBLE_DEVICES": "0,1,2,3", "MASTER_PORT": "29500", "NPROC_PER_NODE": "4",
                               "NNODES": "2", "NODE_RANK": "0", "MASTER_ADDR": "127.0.0.1"}
    flags = dict(flag_pairs(sft.argv))
    assert flags["--gradient_accumulation_steps"] == ("4",)  # per_process(32) over 4 x 2 processes
    assert flags["--eval_steps"] == ("100",)
    assert flags["--system"] == ("Think first.\\nThen answer: $x",)  # bash keeps \n inside double quotes


@pytest.mark.parametrize("text,message", [
    ("NPROC_PER_NODE=8 megatron sft --model x\n", "m.sh:1: `megatron sft` (Megatron-SWIFT) is not a command"),
    ("accelerate launch --config_file fsdp.yaml swift/cli/sft.py --model x\n", "m.sh:1: `accelerate launch` with its "
     "own config file is not imported"),
    ("swift sft --model x --gradient_accumulation_steps $(expr 16 / $GPUS)\n", "m.sh:1: $(expr 16 / $GPUS): $GPUS "
     "has no value in the script"),
])
def test_launches_swiftpipe_cannot_run_are_refused_by_name(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "m.sh").write_text(text)
    with pytest.raises(UserError) as raised:
        import_files([str(tmp_path / "m.sh")])
    assert str(raised.value).startswith(f"{tmp_path / message}"), str(raised.value)


def test_ms_swift_3_and_4_python_api_calls_are_read_without_running_them(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text("import os\nfrom swift.llm import TrainArguments, sft_main, export_main, ExportArguments\n"
                      "os.environ['CUDA_VISIBLE_DEVICES'] = '0'\nBASE = 'Qwen/Qwen2.5-0.5B'\n"
                      "if __name__ == '__main__':\n"
                      "    result = sft_main(TrainArguments(model=BASE, train_type='lora', dataset=['a.jsonl#100'],\n"
                      "                                     output_dir='out/sft', learning_rate=1e-4))\n"
                      "    export_main(ExportArguments(adapters=[result['last_model_checkpoint']], merge_lora=True))\n"
                      "    sft_main(['--model', 'out/sft/v0-20250101-000000/checkpoint-10-merged', '--dataset', "
                      "'b.jsonl', '--num_train_epochs', '2'])\n"
                      "    raise SystemExit('never run by the import')\n")
    imported, loaded = _import(tmp_path, script)
    three = {n: r.command for n, r in _rendered(loaded, 3).items()}
    assert list(three) == ["sft", "merge", "sft_2"]
    assert three["sft"].environment == {"CUDA_VISIBLE_DEVICES": "0"}
    assert three["sft"].argv[2:] == ["--model", "Qwen/Qwen2.5-0.5B", "--train_type", "lora", "--dataset",
                                     "a.jsonl#100", "--output_dir", "out/sft", "--learning_rate", "1e-4"]
    assert three["merge"].argv[2:] == ["--adapters", "<sft.last_checkpoint>", "--merge_lora", "true"]
    assert three["sft_2"].argv[2:] == ["--model", "<merge.merged>", "--dataset", "b.jsonl", "--num_train_epochs", "2"]


_BY_MAJOR = {
    3: ["CUDA_VISIBLE_DEVICES=0,1 NPROC_PER_NODE=2 swift sft --model Qwen/Qwen2.5-7B-Instruct --train_type lora "
        "--dataset 'AI-ModelScope/alpaca-gpt4-data-zh#500' data/mine.jsonl --lora_rank 8 --learning_rate 1e-4 "
        "--output_dir output/sft --system 'You are a doctor.'",
        "swift infer --model Qwen/Qwen2.5-7B-Instruct --infer_backend pt --val_dataset data/q.jsonl "
        "--max_new_tokens 64 --temperature 0"],
    4: ["CUDA_VISIBLE_DEVICES=0,1 NPROC_PER_NODE=2 swift sft --model Qwen/Qwen2.5-7B-Instruct --tuner_type lora "
        "--dataset 'AI-ModelScope/alpaca-gpt4-data-zh#500' data/mine.jsonl --lora_rank 8 --learning_rate 1e-4 "
        "--output_dir output/sft --system 'You are a doctor.'",
        "swift infer --model Qwen/Qwen2.5-7B-Instruct --infer_backend transformers --val_dataset data/q.jsonl "
        "--max_new_tokens 64 --temperature 0"],
}


def test_a_script_for_the_installed_major_renders_back_as_the_same_commands(tmp_path: Path) -> None:
    commands = _BY_MAJOR[INSTALLED]
    (tmp_path / "mine.sh").write_text("\n\n".join(commands) + "\n")
    _, loaded = _import(tmp_path, tmp_path / "mine.sh")
    rendered = list(_rendered(loaded, INSTALLED).values())
    for command, stage in zip(commands, rendered, strict=True):
        (got_env, got_argv), (want_env, want_argv) = parse(stage.script), parse(command)
        assert dict(got_env) == dict(want_env)  # the launch variables, in swiftpipe's order
        assert got_argv == want_argv  # subcommand, flags, their order and values


def test_llamafactory_cli_lines_bring_their_configs_and_overrides(tmp_path: Path) -> None:
    lf = PATTERNS / "lf"
    script = lf / "run.sh"
    imported, loaded = _import(tmp_path, script)
    assert [(c.name, c.command) for c in imported.calls] == [("sft", "sft"), ("merge", "export"), ("app", "app")]
    three = {n: r.command for n, r in _rendered(loaded, 3).items()}
    flags = dict(flag_pairs(three["sft"].argv))
    assert flags["--learning_rate"] == ("1e-5",) and flags["--num_train_epochs"] == ("2",)  # key=value overrides
    assert three["sft"].environment == {"CUDA_VISIBLE_DEVICES": "0"}
    assert dict(flag_pairs(three["merge"].argv))["--adapters"] == ("<sft.last_checkpoint>",)
    assert dict(flag_pairs(three["app"].argv))["--model"] == ("<merge.merged>",)  # webchat: a server
    assert loaded.recipe.stage("app").interactive


def test_arrays_conditions_and_wrappers_around_swift_are_read_as_the_script_runs_by_default(tmp_path: Path) -> None:
    script = tmp_path / "train.sh"
    script.write_text(
        '#!/usr/bin/env bash\nset -euo pipefail\nMODEL="${MODEL:-Qwen/Qwen3-8B}"\nTRAIN_TYPE="${TRAIN_TYPE:-lora}"\n'
        'while getopts ":m:" opt; do\n  case ${opt} in\n    m) MODEL="$OPTARG" ;;\n    *) exit 1 ;;\n  esac\ndone\n'
        'if command -v uv >/dev/null 2>&1; then\n  RUN="uv run"\nelse\n  RUN=""\nfi\n'
        "COMMON=(\n  --logging_steps 5\n  --system 'You are a doctor.'\n)\nCOMMON+=(--save_steps 50)\n"
        'QUANT=()\nif [[ "$TRAIN_TYPE" == "qlora" ]]; then\n  QUANT=(--quant_method bnb --quant_bits 4)\n'
        '  TRAIN_TYPE=lora\nfi\n'
        '$RUN swift sft --model "$MODEL" --train_type "$TRAIN_TYPE" "${QUANT[@]}" "${COMMON[@]}" --dataset d.jsonl\n')
    imported, loaded = _import(tmp_path, script)
    [sft] = [r.command for r in _rendered(loaded, 3).values()]
    assert sft.argv[2:] == ["--model", "Qwen/Qwen3-8B", "--train_type", "lora", "--logging_steps", "5", "--system",
                            "You are a doctor.", "--save_steps", "50", "--dataset", "d.jsonl"]
    warnings = [f.text for f in imported.findings if f.category == "warning"]
    assert any("$QUANT may be set differently under the condition" in w for w in warnings)
    assert any("$TRAIN_TYPE may be set differently" in w for w in warnings)
    assert any(f.category == "dropped" and "`uv run` in front of swift" in f.text for f in imported.findings)


def test_a_joined_value_that_expands_stays_with_its_flag_and_a_computed_variable_is_dropped(tmp_path: Path) -> None:
    script = tmp_path / "joined.sh"
    script.write_text("export STAMP=$(python stamp.py)\nN=3\n"
                      "swift sft --model m --dataset d --output_dir=out/$N --learning_rate=$LR --save_steps 5\n")
    imported, loaded = _import(tmp_path, script)
    [sft] = [r.command for r in _rendered(loaded, INSTALLED).values()]
    flags = dict(flag_pairs(sft.argv))
    assert flags["--output_dir"] == ("out/3",) and flags["--learning_rate"] == ("<LR>",)
    assert "STAMP" not in sft.environment
    assert any(f.category == "dropped" and f.text.startswith("STAMP=$(python stamp.py)") for f in imported.findings)
