"""Sweeps (`--vary`): variants named by what they change, shared stages once, each variant's own folders, a failed
variant that stops no other, and an extended sweep that runs only what is new. The fake `swift` stands in."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from records import latest_record
from test_compare import COMPARED  # pretrain -> sft -> merge, then base, pretrain and sft compared

from swiftpipe.cli import main
from swiftpipe.errors import UserError
from swiftpipe.recipe import variants

LR = "sft.learning_rate=1e-4,5e-5"


def _calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _flag(call: dict, name: str) -> str:
    return call["argv"][call["argv"].index(name) + 1]


def _launched(log: Path) -> list[tuple[str, str]]:
    """(subcommand, --output_dir or --model or --ckpt_dir) of each call, in order."""
    out = []
    for call in _calls(log):
        argv = call["argv"]
        key = next((n for n in ("--output_dir", "--ckpt_dir", "--adapters", "--model") if n in argv), "")
        out.append((argv[1], _flag(call, key) if key else ""))
    return out


def test_a_grid_is_every_pair_of_values_named_after_what_it_changes() -> None:
    found = variants.expand(["sft=full,lora", "sft.learning_rate=1e-4,5e-5"])
    assert [v.name for v in found] == ["sft=full,lr=1e-4", "sft=full,lr=5e-5", "sft=lora,lr=1e-4", "sft=lora,lr=5e-5"]
    assert [v.folder for v in found][-1] == "sft-lora_lr-5e-5"
    assert found[1].params == ("sft=full",) and found[1].sets == ("sft.learning_rate=5e-5",)


def test_paired_settings_go_value_by_value_and_json_values_may_hold_commas() -> None:
    paired = variants.expand(["sft.lora_rank=8,16; sft.lora_alpha=32,64"])
    assert [v.name for v in paired] == ["rank=8,alpha=32", "rank=16,alpha=64"]
    assert paired[1].sets == ("sft.lora_rank=16", "sft.lora_alpha=64")
    listed = variants.expand(['sft.dataset=["data/a.jsonl", "data/b,c.jsonl", ["x.jsonl", "y.jsonl"]]'])
    assert [v.sets for v in listed] == [("sft.dataset=data/a.jsonl",), ("sft.dataset=data/b,c.jsonl",),
                                        ('sft.dataset=["x.jsonl", "y.jsonl"]',)]
    assert [v.name for v in listed][:2] == ["dataset=a.jsonl", "dataset=b,c.jsonl"]
    assert len({v.folder for v in listed}) == 3
    clashing = variants.expand(["sft.learning_rate=1e-4,5e-5", "dpo.learning_rate=1e-6"])
    assert clashing[0].name == "sft.lr=1e-4,dpo.lr=1e-6"  # the stage says which learning rate


@pytest.mark.parametrize(("specs", "said"), [
    (["sft.lora_rank=8,16; sft.lora_alpha=32"], "paired settings need as many values each"),
    (["sft.learning_rate=1e-4", "sft.learning_rate=5e-5"], "sft.learning_rate is varied twice"),
    (["learning_rate"], "expected NAME=V1,V2 or STAGE.FLAG=V1,V2"),
    (["sft.dataset=[a.jsonl"], "not a JSON list"),
    (["sft.learning_rate=1e-4,1e-4"], "lists a value twice"),
    (["sft.learning_rate="], "has no values"),
])
def test_a_bad_vary_is_one_line_naming_it(specs: list[str], said: str) -> None:
    with pytest.raises(UserError, match=said):
        variants.expand(specs)


def test_a_bad_vary_on_the_command_line_launches_nothing(chain: Path, fake_swift: Path) -> None:
    result = CliRunner().invoke(main, ["run", str(chain), "--vary", "sft.learning_rate=1e-4,1e-4"])
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert result.output.startswith("error: --vary: --vary 'sft.learning_rate=1e-4,1e-4': ")
    assert not fake_swift.exists()
    unknown = CliRunner().invoke(main, ["run", str(chain), "--vary", "sft.learning_rate=1", "--vary", "nope=1,2"])
    assert unknown.exit_code == 2 and "unknown parameter 'nope'" in unknown.output and not fake_swift.exists()


def test_render_shows_shared_stages_once_and_each_variants_own_folders(chain: Path) -> None:
    result = CliRunner().invoke(main, ["render", str(chain), "--vary", LR])
    assert result.exit_code == 0, result.output
    stages = [line.split("stage ")[1].split(" ")[0] for line in result.output.splitlines()
              if line.startswith("# chain: stage ")]
    assert stages == ["pretrain", "sft@lr-1e-4", "sft@lr-5e-5", "merge@lr-1e-4", "merge@lr-5e-5", "infer@lr-1e-4",
                      "infer@lr-5e-5"]
    assert "--output_dir out/sft/lr-1e-4" in result.output and "--output_dir out/sft/lr-5e-5" in result.output
    assert result.output.count("--output_dir out/pt ") + result.output.count("--output_dir out/pt\n") == 1
    assert "'<sft@lr-5e-5.last_checkpoint>'" in result.output
    assert "swiftpipe run chain.py --vary sft.learning_rate=1e-4,5e-5 --stage sft@lr-5e-5" in result.output


def test_a_folder_each_variant_names_itself_is_kept_and_one_some_share_goes_a_folder_deeper(chain: Path) -> None:
    """An imported loop's `--output_dir out/lr_$lr` is each variant's own already: no folder added below it. A
    folder that one variant names and another does not still gets the variant's folder."""
    own = 'sft.learning_rate=1e-4,5e-5; sft.output_dir=["out/lr_1e-4", "out/lr_5e-5"]'
    result = CliRunner().invoke(main, ["render", str(chain), "--vary", own])
    assert result.exit_code == 0, result.output
    assert "--output_dir out/lr_1e-4 " in result.output and "--output_dir out/lr_5e-5 " in result.output
    assert "--output_dir out/sft" not in result.output and "out/lr_1e-4/" not in result.output
    shared = CliRunner().invoke(main, ["render", str(chain), "--vary", LR, "--vary", 'sft.output_dir=["out/a"]'])
    assert shared.exit_code == 0, shared.output
    assert "--output_dir out/a/lr-1e-4" in shared.output and "--output_dir out/a/lr-5e-5" in shared.output


def test_shared_stages_run_once_and_each_variant_gets_its_own_outputs(chain: Path, fake_swift: Path) -> None:
    result = CliRunner().invoke(main, ["run", str(chain), "--vary", LR, "--quiet"])
    assert result.exit_code == 0, result.output
    launched = _launched(fake_swift)
    assert [sub for sub, _ in launched] == ["pt", "sft", "sft", "export", "export", "infer", "infer"]
    assert [where for sub, where in launched if sub == "sft"] == ["out/sft/lr-1e-4", "out/sft/lr-5e-5"]
    stages = latest_record(Path(".swiftpipe"))["stages"]
    assert {s["state"] for s in stages.values()} == {"done"}
    pt, sft_a, sft_b, merge_a, merge_b, infer_a, infer_b = _calls(fake_swift)
    assert _flag(sft_a, "--model") == _flag(sft_b, "--model") == stages["pretrain"]["outputs"]["last_checkpoint"]
    assert _flag(sft_a, "--learning_rate") == "1e-4" and _flag(sft_b, "--learning_rate") == "5e-5"
    for merge_call, infer_call, name in ((merge_a, infer_a, "lr-1e-4"), (merge_b, infer_b, "lr-5e-5")):
        own = stages[f"sft@{name}"]["outputs"]["last_checkpoint"]
        assert f"/out/sft/{name}/v0-" in own
        assert merge_call["argv"][merge_call["argv"].index("--ckpt_dir" if "--ckpt_dir" in merge_call["argv"]
                                                          else "--adapters") + 1] == own
        assert _flag(infer_call, "--model") == stages[f"merge@{name}"]["outputs"]["merged"] == own + "-merged"


def test_a_failed_variant_stops_no_other_and_resume_finishes_it_alone(chain: Path, fake_swift: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SWIFT_FAIL_WITH", "learning_rate=1e-4")
    failed = CliRunner().invoke(main, ["run", str(chain), "--vary", LR, "--quiet"])
    assert failed.exit_code == 1, failed.output
    states = {name: s["state"] for name, s in latest_record(Path(".swiftpipe"))["stages"].items()}
    assert states == {"pretrain": "done", "sft@lr-1e-4": "failed", "sft@lr-5e-5": "done", "merge@lr-1e-4": "aborted",
                      "merge@lr-5e-5": "done", "infer@lr-1e-4": "aborted", "infer@lr-5e-5": "done"}
    reasons = latest_record(Path(".swiftpipe"))["stages"]
    assert reasons["merge@lr-1e-4"]["reason"] == "prerequisite sft@lr-1e-4 failed"
    monkeypatch.delenv("FAKE_SWIFT_FAIL_WITH")
    before = len(_calls(fake_swift))
    resumed = CliRunner().invoke(main, ["run", str(chain), "--vary", LR, "--resume", "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    assert [(c["argv"][1], c["argv"][c["argv"].index("--learning_rate") + 1] if "--learning_rate" in c["argv"]
             else "") for c in _calls(fake_swift)[before:]] == [("sft", "1e-4"), ("export", ""), ("infer", "")]
    assert {s["state"] for name, s in latest_record(Path(".swiftpipe"))["stages"].items()
            if "1e-4" in name} == {"done"}


def test_a_sweep_given_one_more_value_runs_only_the_new_variant(chain: Path, fake_swift: Path) -> None:
    first = CliRunner().invoke(main, ["run", str(chain), "--vary", LR, "--quiet"])
    assert first.exit_code == 0, first.output
    before = len(_calls(fake_swift))
    extended = CliRunner().invoke(main, ["run", str(chain), "--vary", LR + ",2e-5", "--quiet"])
    assert extended.exit_code == 0, extended.output
    assert [c["argv"][1] for c in _calls(fake_swift)[before:]] == ["sft", "export", "infer"]
    new_sft, _, new_infer = _calls(fake_swift)[before:]
    assert _flag(new_sft, "--output_dir") == "out/sft/lr-2e-5"
    assert "/out/sft/lr-2e-5/v0-" in _flag(new_infer, "--model")  # the new variant's own merged model
    record = latest_record(Path(".swiftpipe"))
    states = {name: s["state"] for name, s in record["stages"].items()}
    assert states["pretrain"] == states["sft@lr-1e-4"] == states["infer@lr-5e-5"] == "reused"
    assert states["sft@lr-2e-5"] == "done"
    assert "finished unchanged in run" in extended.output


def test_the_dry_run_of_a_sweep_is_its_plan(chain: Path, fake_swift: Path) -> None:
    result = CliRunner().invoke(main, ["run", str(chain), "--vary", LR, "--dry-run"])
    assert result.exit_code == 0, result.output
    plan = result.output[:result.output.index("# chain: stage")].splitlines()
    assert plan[:2] == ["sweep: 2 variants: lr=1e-4; lr=5e-5", "  shared by every variant: pretrain"]
    assert plan[2:] == ["plan:", "  pretrain: run", "  sft@lr-1e-4: run (after pretrain)",
                    "  sft@lr-5e-5: run (after pretrain)",
                    "  merge@lr-1e-4: run (after sft@lr-1e-4)", "  merge@lr-5e-5: run (after sft@lr-5e-5)",
                    "  infer@lr-1e-4: run (after merge@lr-1e-4)", "  infer@lr-5e-5: run (after merge@lr-5e-5)"]
    assert not fake_swift.exists() and not os.path.exists("out")


def test_status_and_resolve_know_each_variant_by_name(chain: Path, fake_swift: Path) -> None:
    assert CliRunner().invoke(main, ["run", str(chain), "--vary", LR, "--quiet"]).exit_code == 0
    status = CliRunner().invoke(main, ["status", str(chain), "--vary", LR, "--json"])
    assert status.exit_code == 0, status.output
    shown = json.loads(status.output)
    assert list(shown["stages"]) == ["pretrain", "sft@lr-1e-4", "sft@lr-5e-5", "merge@lr-1e-4", "merge@lr-5e-5",
                                     "infer@lr-1e-4", "infer@lr-5e-5"]
    resolved = CliRunner().invoke(main, ["resolve", str(chain), "merge@lr-5e-5", "--vary", LR])
    assert resolved.exit_code == 0, resolved.output
    recorded = shown["stages"]["merge@lr-5e-5"]["outputs"]["merged"]  # inside the project: relative to it
    assert resolved.output.strip() == str(Path.cwd() / recorded)
    assert "/out/sft/lr-5e-5/v0-" in resolved.output and resolved.output.strip().endswith("-merged")
    record = latest_record(Path(".swiftpipe"))
    assert record["recipe"]["varies"] == [LR]
    plain = CliRunner().invoke(main, ["status", str(chain), "--json"])  # the chain without --vary is another thing
    assert plain.exit_code == 2 and "no run recorded" in plain.output
    listed = CliRunner().invoke(main, ["runs"], env={"COLUMNS": "200"})
    assert f"--vary {LR}" in listed.output, listed.output  # the sweep, one run among the runs
    by_label = CliRunner().invoke(main, ["resolve", str(chain), "merge@lr=5e-5", "--vary", LR])
    assert by_label.output == resolved.output  # the variant as the comparison names it



def test_one_comparison_asks_every_variants_model_and_names_the_best(chain: Path, write_recipe, fake_swift: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    Path("data/qa.jsonl").write_text('{"query": "q1", "response": "r1"}\n{"query": "q2", "response": "r2"}\n')
    write_recipe(COMPARED, name="compared.py")
    monkeypatch.setenv("FAKE_SWIFT_KNOWS", "/lr-5e-5/")  # the model trained at 5e-5 gives the reference answers
    result = CliRunner().invoke(main, ["run", "compared.py", "--vary", LR, "--quiet"])
    assert result.exit_code == 0, result.output
    stages = latest_record(Path(".swiftpipe"))["stages"]
    compared = {name: s["label"] for name, s in stages.items() if s.get("group") == "compare"}
    assert compared == {"compare_base": "base", "compare_pretrain": "pretrain",
                        "compare_sft@lr-1e-4": "sft@lr=1e-4", "compare_sft@lr-5e-5": "sft@lr=5e-5"}
    assert [c["argv"][1] for c in _calls(fake_swift)].count("infer") == 4  # base and pretrain asked once
    from swiftpipe.records import history
    from swiftpipe.run.compare import comparisons

    (comparison,) = comparisons(history.load_all(Path(".swiftpipe"))[-1])
    assert comparison.labels == ["base", "pretrain", "sft@lr=1e-4", "sft@lr=5e-5"]  # a column each
    assert [comparison.scores[label]["rouge-l"] for label in comparison.labels] == [0, 0, 0, 100]
    assert comparison.best() == ("sft@lr=5e-5", "rouge-l", 100)
    table = result.output[result.output.index("compare: the same questions to each model"):]
    assert "best variant: sft@lr=5e-5 (rouge-l 100.0)" in table
    page = Path(result.output.strip().splitlines()[-1].removeprefix("report: ")).read_text()
    assert '<p class="best-variant" data-best="sft@lr=5e-5">' in page  # the report's table marks it too
    assert '<th class="best" title="the best variant by rouge-l">sft@lr=5e-5 ★</th>' in page
    assert '<td class="num best" data-model="sft@lr=5e-5" data-score="rouge-l">100.0</td>' in page


def test_the_exported_run_all_carries_the_sweep_and_a_failed_variant_stops_only_its_own(
        chain: Path, fake_swift: Path) -> None:
    exported = CliRunner().invoke(main, ["export-scripts", str(chain), "script", "--vary", LR])
    assert exported.exit_code == 0, exported.output
    steps = [line for line in Path("script/run_all.sh").read_text().splitlines() if line.startswith("step ")]
    assert steps == ["step pretrain.sh", "step sft@lr-1e-4.sh pretrain.sh", "step sft@lr-5e-5.sh pretrain.sh",
                     "step merge@lr-1e-4.sh sft@lr-1e-4.sh", "step merge@lr-5e-5.sh sft@lr-5e-5.sh",
                     "step infer@lr-1e-4.sh merge@lr-1e-4.sh", "step infer@lr-5e-5.sh merge@lr-5e-5.sh"]
    done = subprocess.run(["bash", "script/run_all.sh"], capture_output=True, text=True,
                          env={**os.environ, "FAKE_SWIFT_FAIL_WITH": "learning_rate=1e-4"})
    assert done.returncode == 1, done.stderr
    ran = [(c["argv"][1], c["argv"][c["argv"].index("--output_dir") + 1] if "--output_dir" in c["argv"] else "")
           for c in _calls(fake_swift)]
    assert ran == [("pt", "out/pt"), ("sft", "out/sft/lr-1e-4"), ("sft", "out/sft/lr-5e-5"), ("export", ""),
                   ("infer", "")]  # the 5e-5 variant merged and answered; the failed one's merge never started
    slurm = CliRunner().invoke(main, ["export-scripts", str(chain), "slurm", "--vary", LR, "--launcher", "slurm"])
    assert slurm.exit_code == 0, slurm.output
    assert 'submit job_merge_lr_5e_5 merge@lr-5e-5.sbatch "afterok:${job_sft_lr_5e_5}"' in Path(
        "slurm/submit_all.sh").read_text()


def test_the_report_draws_each_variants_curves_of_a_stage_on_one_chart(chain: Path, fake_swift: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SWIFT_STEPS", "6")
    result = CliRunner().invoke(main, ["run", str(chain), "--vary", LR, "--quiet"])
    assert result.exit_code == 0, result.output
    page = Path(result.output.splitlines()[-1].removeprefix("report: "))
    html = page.read_text()
    assert "Each variant, side by side" in html and f"--vary {LR}" in html
    from report_points import drawn_values

    drawn = drawn_values(html)
    record = latest_record(Path(".swiftpipe"))
    for variant in ("lr-1e-4", "lr-5e-5"):
        logged = [json.loads(line) for line in (Path(record["stages"][f"sft@{variant}"]["outputs"]["run_dir"])
                                                / "logging.jsonl").read_text().splitlines() if '"loss"' in line]
        points = drawn[("sft:loss", f"series-{variant}")]  # one chart, a curve per variant, at the logged values
        assert [round(x) for x, _ in points] == [int(r["global_step/max_steps"].split("/")[0]) for r in logged]
        assert [round(y, 3) for _, y in points] == [round(r["loss"], 3) for r in logged]
    assert not any(stage.startswith("pretrain:") for stage, _ in drawn)  # a shared stage has one curve of its own


def test_the_sweep_report_opens_in_chromium_with_the_overlaid_curves(chain: Path, fake_swift: Path, chromium: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Headless Chromium (Debian's) opens a sweep's report: no console message, and the overlaid curves it built
    read back to the logged values."""
    monkeypatch.setenv("FAKE_SWIFT_STEPS", "6")
    result = CliRunner().invoke(main, ["run", str(chain), "--vary", LR, "--quiet"])
    assert result.exit_code == 0, result.output
    page = Path(result.output.splitlines()[-1].removeprefix("report: ")).resolve()
    dumped = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                             "--v=0", "--disable-background-networking", "--dump-dom", page.as_uri()],
                            capture_output=True, text=True, timeout=120)
    assert dumped.returncode == 0 and "</html>" in dumped.stdout, dumped.stderr
    assert [line for line in dumped.stderr.splitlines() if ":CONSOLE" in line] == []
    from report_points import drawn_values

    drawn = drawn_values(dumped.stdout)  # the DOM as Chromium built it
    assert {series for stage, series in drawn if stage == "sft:loss"} == {"series-lr-1e-4", "series-lr-5e-5"}
    assert [round(x) for x, _ in drawn[("sft:loss", "series-lr-5e-5")]] == [1, 2, 3, 4, 5, 6]


def test_a_stage_named_by_its_recipe_name_is_every_variants(chain: Path, fake_swift: Path) -> None:
    result = CliRunner().invoke(main, ["run", str(chain), "--vary", LR, "--stage", "pretrain", "--stage", "sft",
                                       "--quiet"])
    assert result.exit_code == 0, result.output
    assert _launched(fake_swift) == [("pt", "out/pt"), ("sft", "out/sft/lr-1e-4"), ("sft", "out/sft/lr-5e-5")]
    one = CliRunner().invoke(main, ["run", str(chain), "--vary", LR, "--stage", "merge@lr-5e-5", "--quiet"])
    assert one.exit_code == 0, one.output  # one variant's stage by its own name, its input from the run before
    assert [sub for sub, _ in _launched(fake_swift)[3:]] == ["export"]


def test_a_sweep_after_the_chain_alone_reuses_the_stages_they_share(chain: Path, fake_swift: Path) -> None:
    assert CliRunner().invoke(main, ["run", str(chain), "--quiet"]).exit_code == 0  # as after `make demo`
    before = len(_calls(fake_swift))
    swept = CliRunner().invoke(main, ["run", str(chain), "--vary", LR, "--quiet"])
    assert swept.exit_code == 0, swept.output
    assert [c["argv"][1] for c in _calls(fake_swift)[before:]] == ["sft", "sft", "export", "export", "infer", "infer"]
    assert latest_record(Path(".swiftpipe"))["stages"]["pretrain"]["state"] == "reused"
    alone = CliRunner().invoke(main, ["status", str(chain), "--json"])  # the chain alone is still its own thing
    assert alone.exit_code == 0 and "sft@lr-1e-4" not in json.loads(alone.output)["stages"]


AS_WRITTEN = '''
def recipe():
    return make_recipe("lr", [
        pretrain("pretrain", {"model": "base", "train_type": "full", "dataset": "data/pt.jsonl",
                              "output_dir": "out/pt"}),
        sft("sft", {"model": checkpoint("pretrain"), "train_type": "lora", "dataset": "data/sft.jsonl",
                    "learning_rate": 5e-3, "output_dir": "out/sft"}),
        merge("merge", {"ckpt_dir": checkpoint("sft")}),
    ])
'''


def test_the_variant_that_is_the_chain_as_written_keeps_its_folders_and_takes_the_chains_run(
        chain: Path, write_recipe, fake_swift: Path) -> None:
    """After the chain alone (`make demo`), a sweep of its SFT's learning rate, one value the recipe's own (5e-3
    written as the recipe does not: 0.005 there): that variant is the chain's run, and only the other trains."""
    write_recipe(AS_WRITTEN, name="lr.py")
    assert CliRunner().invoke(main, ["run", "lr.py", "--quiet"]).exit_code == 0
    alone = latest_record(Path(".swiftpipe"))["stages"]
    before = len(_calls(fake_swift))
    swept = CliRunner().invoke(main, ["run", "lr.py", "--vary", "sft.learning_rate=5e-3,2e-3", "--quiet"])
    assert swept.exit_code == 0, swept.output
    assert _launched(fake_swift)[before:] == [("sft", "out/sft/lr-2e-3"), ("export", _flag(
        _calls(fake_swift)[-1], "--ckpt_dir" if "--ckpt_dir" in _calls(fake_swift)[-1]["argv"] else "--adapters"))]
    stages = latest_record(Path(".swiftpipe"))["stages"]
    assert {n: s["state"] for n, s in stages.items()} == {
        "pretrain": "reused", "sft@lr-5e-3": "reused", "sft@lr-2e-3": "done", "merge@lr-5e-3": "reused",
        "merge@lr-2e-3": "done"}
    assert stages["merge@lr-5e-3"]["outputs"] == alone["merge"]["outputs"]
    assert "/out/sft/lr-2e-3/v0-" in stages["sft@lr-2e-3"]["outputs"]["last_checkpoint"]
    rendered = CliRunner().invoke(main, ["render", "lr.py", "--vary", "sft.learning_rate=5e-3,2e-3"]).output
    assert stages["sft@lr-5e-3"]["command"] == alone["sft"]["command"]  # the value given, the recipe's own number
    assert "--output_dir out/sft\n" in rendered and "--output_dir out/sft/lr-2e-3\n" in rendered


GRID = '''
def recipe(lr: str = "1e-4"):
    return make_recipe("grid", [
        pretrain("a", {"model": "base", "dataset": "data/pt.jsonl", "output_dir": "out/a"}),
        pretrain("b", {"model": "base", "dataset": "data/pt.jsonl", "output_dir": "out/b"}),
        sft("c", {"model": checkpoint("a"), "adapters": checkpoint("b"), "dataset": "data/sft.jsonl",
                  "learning_rate": lr, "output_dir": "out/c"}),
    ])
'''


def test_in_a_grid_a_stage_waits_for_every_stage_it_reads_and_shared_copies_keep_their_names(
        chain: Path, write_recipe, fake_swift: Path) -> None:
    write_recipe(GRID, name="grid.py")
    result = CliRunner().invoke(main, ["run", "grid.py", "--vary", "a.learning_rate=1,2", "--vary",
                                       "b.learning_rate=3,4", "--dry-run"])
    assert result.exit_code == 0, result.output
    plan = [line.strip() for line in result.output.splitlines() if line.startswith("  c@")]
    assert plan[0] == "c@a.lr-1_b.lr-3: run (after b@b.lr-3 and a@a.lr-1)"  # b's copy is the chain's gate; a it reads
    assert "--output_dir out/a/a.lr-1 " in result.output.replace("\\\n", "")
    more = CliRunner().invoke(main, ["run", "grid.py", "--vary", "a.learning_rate=1,2", "--vary",
                                     "b.learning_rate=3,4,5", "--dry-run"])
    names = [line.strip().split(":")[0] for line in more.output.splitlines() if line.startswith("  a@")]
    assert names == ["a@a.lr-1", "a@a.lr-2"]  # a value more for b renames no copy of a


def test_a_sweep_of_a_parameter_reuses_the_chain_alone_run_with_that_value(chain: Path, write_recipe,
                                                                           fake_swift: Path) -> None:
    write_recipe(GRID, name="grid.py")
    assert CliRunner().invoke(main, ["run", "grid.py", "-p", "lr=5e-5", "--quiet"]).exit_code == 0
    before = len(_calls(fake_swift))
    swept = CliRunner().invoke(main, ["run", "grid.py", "--vary", "lr=1e-4,5e-5", "--quiet"])
    assert swept.exit_code == 0, swept.output
    assert [c["argv"][1] for c in _calls(fake_swift)[before:]] == ["sft", "sft"]  # a and b were the chain's
    states = {n: s["state"] for n, s in latest_record(Path(".swiftpipe"))["stages"].items()}
    assert states == {"a": "reused", "b": "reused", "c@lr-1e-4": "done", "c@lr-5e-5": "done"}


@pytest.mark.parametrize(("args", "said"), [
    (["--vary", "sft.hub_token=abc,def"], "--vary: --vary sft.hub_token: a secret is not varied"),
    (["-p", "out=x", "--vary", "out=y,z"], "--vary: --vary out: also given with -p"),
    (["--set", "sft.learning_rate=1", "--vary", LR], "--vary: --vary sft.learning_rate: also given with --set"),
])
def test_a_secret_or_a_setting_given_twice_is_refused_in_one_line(chain: Path, fake_swift: Path, args: list[str],
                                                                   said: str) -> None:
    result = CliRunner().invoke(main, ["run", str(chain), *args, "--quiet"])
    assert result.exit_code == 2 and result.output.startswith(f"error: {said}"), result.output
    assert result.output.count("\n") == 1 and "abc" not in result.output and not fake_swift.exists()


def test_resolve_by_a_name_that_a_sweep_runs_per_variant_says_which_to_choose(chain: Path, fake_swift: Path) -> None:
    assert CliRunner().invoke(main, ["run", str(chain), "--vary", LR, "--quiet"]).exit_code == 0
    result = CliRunner().invoke(main, ["resolve", str(chain), "sft", "--vary", LR])
    assert result.exit_code == 2 and result.output == (
        "error: chain.py: sft names 2 stages: sft@lr-1e-4, sft@lr-5e-5; resolve one of them\n")


def test_folder_names_stay_distinct_and_quotes_outside_a_list_are_text() -> None:
    found = variants.expand(["sft.seed=a b,a-b,a-b-2"])
    assert len({v.folder for v in found}) == 3
    paired = variants.expand(['sft.x=a"b,c; sft.y=1,2'])
    assert [v.sets for v in paired] == [('sft.x=a"b', "sft.y=1"), ("sft.x=c", "sft.y=2")]


def _declaring(chain: Path, variants_line: str) -> Path:
    """The test chain with a module-level `variants` of its own."""
    text = chain.read_text().replace("def recipe(", f"{variants_line}\n\n\ndef recipe(", 1)
    declared = Path("declared.py")
    declared.write_text(text)
    return declared


def test_a_recipe_declares_its_variants_and_the_command_line_replaces_them(chain: Path, fake_swift: Path) -> None:
    declared = _declaring(chain, 'variants = {"sft.learning_rate": ["1e-4", "5e-5"]}')
    done = CliRunner().invoke(main, ["run", str(declared), "--quiet"])
    assert done.exit_code == 0, done.output
    assert [out for sub, out in _launched(fake_swift) if sub == "sft"] == ["out/sft/lr-1e-4", "out/sft/lr-5e-5"]
    assert latest_record(Path(".swiftpipe"))["recipe"]["varies"] == ['sft.learning_rate=["1e-4", "5e-5"]']
    replaced = CliRunner().invoke(main, ["run", str(declared), "--vary", "sft.learning_rate=1e-3,2e-3",
                                         "--dry-run"])
    assert "sft@lr-1e-3" in replaced.output and "sft@lr-1e-4" not in replaced.output
    alone = CliRunner().invoke(main, ["run", str(declared), "--vary", "none", "--quiet"])
    assert alone.exit_code == 0, alone.output
    assert _launched(fake_swift)[-4:][1] == ("sft", "out/sft")  # the chain as written, once
    assert latest_record(Path(".swiftpipe"))["recipe"]["varies"] == ["none"]  # its --resume runs it alone too


@pytest.mark.parametrize(("line", "said"), [
    ("variants = 3", "declared.py:1: `variants` must be a list of --vary texts"),
    ('variants = {"sft.learning_rate": 5e-3}', "declared.py:1: variants['sft.learning_rate'] must list the "
                                              "setting's values, e.g. [1e-4, 5e-5], not float"),
    ('variants = ["sft.learning_rate"]', "declared.py:1: variants: 'sft.learning_rate': expected NAME=V1,V2"),
])
def test_a_bad_declared_variants_is_one_line_at_its_line(chain: Path, fake_swift: Path, line: str, said: str) -> None:
    declared = _declaring(chain, line)
    declared.write_text(declared.read_text().replace(f"{line}\n", "").replace("from swiftpipe import *\n",
                                                                               f"{line}\nfrom swiftpipe import *\n"))
    refused = CliRunner().invoke(main, ["run", str(declared)])
    assert refused.exit_code == 2 and said in refused.output, refused.output
    assert not fake_swift.exists()


WRITERS = '''
def recipe():
    return make_recipe("writers", [
        sft("sft", {"model": "base", "dataset": "data/sft.jsonl", "output_dir": "out/sft", "logging_dir": "logs/sft"}),
        infer("infer", {"model": checkpoint("sft"), "val_dataset": "data/q.jsonl", "result_path": "out/answers.jsonl"}),
    ])
'''


def test_every_folder_and_file_a_variant_writes_is_its_own(chain: Path, write_recipe) -> None:
    write_recipe(WRITERS, name="writers.py")
    shown = CliRunner().invoke(main, ["render", "writers.py", "--vary", LR])
    assert shown.exit_code == 0, shown.output
    text = shown.output.replace("\\\n", "")
    for lr in ("1e-4", "5e-5"):
        assert f"--output_dir out/sft/lr-{lr} " in text and f"--logging_dir logs/sft/lr-{lr}" in text
        assert f"--result_path out/lr-{lr}/answers.jsonl" in text


def test_a_misspelled_flag_in_set_or_vary_is_refused_before_the_first_stage_runs(chain: Path,
                                                                                 fake_swift: Path) -> None:
    swept = CliRunner().invoke(main, ["run", str(chain), "--vary", "sft.learning_rat=1e-4,5e-5"])
    assert swept.exit_code == 2 and not fake_swift.exists()  # the pretraining did not run first
    assert swept.output.startswith("error: --set/--vary: sft.learning_rat: ms-swift ")
    assert "`swift sft` has no flag --learning_rat (did you mean sft.learning_rate?)" in swept.output
    given = CliRunner().invoke(main, ["run", str(chain), "--set", "merge.output_dri=x"])
    assert given.exit_code == 2 and "merge.output_dri: ms-swift" in given.output and "merge.output_dir?" in given.output
    assert CliRunner().invoke(main, ["run", str(chain), "--set", "sft.train_type=full", "--dry-run"]).exit_code == 0
