"""What a user installs: the wheel carries the templates, and the light commands stay light."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

HEAVY = ["torch", "transformers", "modelscope", "swift", "datasets", "peft"]


@pytest.mark.parametrize("args", [["--help"], ["info", "recipes/medical.py"], ["render", "recipes/medical.py"]])
def test_light_commands_do_not_import_ms_swift_or_torch(repo: Path, args: list[str]) -> None:
    probe = ("import sys, runpy; sys.argv = ['swiftpipe', *sys.argv[1:]]\n"
             "try:\n    runpy.run_module('swiftpipe', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             f"import json; print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", probe, *args], cwd=repo, capture_output=True, text=True)
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []


def test_render_imports_no_other_command(repo: Path) -> None:
    """`render` imports its own command module and what rendering needs: not the other commands' modules (run,
    data, download, slurm, import), nor subprocess (bench/render_overhead.py measures what this costs)."""
    probe = ("import sys, runpy; sys.argv = ['swiftpipe', 'render', 'recipes/medical.py']\n"
             "try:\n    runpy.run_module('swiftpipe', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             "import json; print(json.dumps(sorted(m for m in sys.modules if m.startswith('swiftpipe.cli') "
             "or m == 'subprocess')), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=repo, capture_output=True, text=True)
    assert json.loads(done.stderr.strip().splitlines()[-1]) == ["swiftpipe.cli", "swiftpipe.cli.common",
                                                                "swiftpipe.cli.recipes"]


def test_wheel_ships_templates_and_renders_outside_the_repo(repo: Path, tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "dist"), str(repo)], check=True, capture_output=True)
    [wheel] = (tmp_path / "dist").glob("swiftpipe-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for template in ("stage.sh.j2", "_command.sh.j2", "script.sh.j2", "run_all.sh.j2", "_find_checkpoint.sh.j2"):
        assert f"swiftpipe/templates/{template}" in names
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run([sys.executable, "-m", "swiftpipe", "render", str(repo / "recipes" / "medical.py"),
                           "--stage", "merge", "--swift-version", "4"],
                          cwd=elsewhere, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(target)})
    assert done.returncode == 0, done.stderr
    assert "--adapters '<sft.last_checkpoint>'" in done.stdout
    # and it rendered from the installed copy, not from the checkout
    probe = subprocess.run([sys.executable, "-c", "import swiftpipe.render.templating as t; print(t.templates_dir())"],
                           cwd=elsewhere, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(target)})
    assert probe.stdout.strip() == str(target / "swiftpipe" / "templates")
