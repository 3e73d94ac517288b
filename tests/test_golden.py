"""Golden files: every stage of every recipe in recipes/, for ms-swift 3 and 4.

A change to a recipe or a template that changes a rendered command fails here until the golden files are
regenerated on purpose: `make golden` (pytest --update-golden).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from swiftpipe.msswift import dialects as dialect
from swiftpipe.recipe import loading as loader
from swiftpipe.render.commands import render_recipe

GOLDEN = Path(__file__).parent / "golden"
REPO = Path(__file__).resolve().parent.parent

# recipe file -> parameter variants worth pinning (name -> -p values)
VARIANTS = {
    "medical.py": {"default": [], "sft-full": ["sft=full"], "sft-lisa": ["sft=lisa"], "dpo-full": ["dpo=full"]},
}


def _cases() -> list[tuple[str, str, list[str], str]]:
    cases = []
    for recipe in sorted(p.name for p in (REPO / "recipes").glob("*.py")):
        for variant, params in VARIANTS.get(recipe, {"default": []}).items():
            for major in ("3", "4"):
                cases.append((recipe, variant, params, major))
    return cases


@pytest.mark.parametrize("recipe,variant,params,major", _cases(),
                         ids=[f"{r}-{v}-swift{m}" for r, v, _, m in _cases()])
def test_rendered_stages_match_golden_files(monkeypatch: pytest.MonkeyPatch, recipe: str, variant: str,
                                            params: list[str], major: str, update_golden: bool) -> None:
    monkeypatch.chdir(REPO)  # recipe paths in headers are shown relative to the working directory
    loaded = loader.load(f"recipes/{recipe}", params=params)
    folder = GOLDEN / Path(recipe).stem / variant / f"swift{major}"
    rendered = render_recipe(loaded.recipe, loaded.source, dialect=dialect.target(major))
    expected_files = {f"{r.command.stage}.sh": r.script for r in rendered}
    if update_golden:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.sh"):
            stale.unlink()
        for name, text in expected_files.items():
            (folder / name).write_text(text)
    assert folder.is_dir(), f"no golden files in {folder}: run `make golden`"
    assert sorted(p.name for p in folder.glob("*.sh")) == sorted(expected_files)
    for name, text in expected_files.items():
        assert text == (folder / name).read_text(), f"{folder / name} differs: run `make golden` if intended"


def test_every_recipe_file_has_golden_files() -> None:
    for recipe in (REPO / "recipes").glob("*.py"):
        assert (GOLDEN / recipe.stem).is_dir(), f"recipes/{recipe.name} has no golden files"
