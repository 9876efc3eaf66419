"""Slow: reproduce the shipped model from its recipe and hold it to its certification (python -m pytest -m slow)."""

from __future__ import annotations

import json

import pytest
from conftest import DATA, ROOT, require_data, run_cli

from edgesign.runtime import EdgeModel, image_model_path


@pytest.mark.slow
def test_shipped_recipe_reproduces_a_certified_model(tmp_path):
    require_data(DATA / "asl-photos")
    from edgesign.training.recipe import load_recipe

    meta = EdgeModel(image_model_path()).metadata
    recipe_path = ROOT / "models" / meta["recipe"]
    recipe = load_recipe(recipe_path, data_root=str(DATA))
    run = tmp_path / "run"
    r = run_cli("train", "--recipe", recipe_path, "--data-root", DATA, "-o", run, timeout=6 * 3600)
    assert r.returncode == 0, r.stderr[-3000:]
    out = tmp_path / "model.tflite"
    c = recipe.convert
    r = run_cli("convert", run, "--int8", "--calib", c["calib_data"], "--calib-size", c["calib_size"],
                "--eval", c["eval_data"], "--max-drop", recipe.certify["max_drop"], "-o", out, timeout=3600)
    assert r.returncode == 0, r.stderr[-3000:]
    ev = json.loads(out.with_suffix(".report.json").read_text())["evaluation"]
    assert ev["quantized_accuracy"] >= recipe.certify["min_accuracy"]


def _card_commands(card: str, data: str, run: str) -> list[list[str]]:
    """The `edgesign ...` command lines of a card's Recipe section, with its data and run folders replaced."""
    import re
    import shlex

    recipe = card.split("## Recipe", 1)[1].split("\n## ", 1)[0]
    lines = re.findall(r"^- `(edgesign [^`]+)`", recipe, flags=re.M)
    return [shlex.split(line.replace("../shared/data", data).replace("runs/asl29-hands", run))[1:] for line in lines]


@pytest.mark.slow
def test_the_card_commands_reproduce_the_shipped_pipeline(tmp_path):
    """The default model's card says how it was made: its two commands, run as written (landmarks of both signers and
    their mirrored photos, about 6 minutes cold here; training 2 minutes), make a pipeline that passes the card's gate
    and reads the test split within 1.5 points of the shipped certificate (a training comes out a little otherwise
    from machine to machine: the recipe before read 92.87 and 92.53 % on two)."""
    from edgesign.runtime import default_model_path, open_model

    require_data(DATA / "asl-second-signer")
    card = (ROOT / "models" / "asl29-hands.md").read_text()
    train, convert = _card_commands(card, str(DATA), str(tmp_path / "asl29-hands"))
    assert train[:2] == ["train", "landmark-mlp"] and convert[0] == "convert"
    for args in (train, convert):
        r = run_cli(*args, timeout=3 * 3600)
        assert r.returncode == 0, r.stderr[-3000:]
    made = open_model(tmp_path / "asl29-hands" / "asl29-hands_int8.tflite").certificate
    shipped = open_model(default_model_path()).certificate
    assert made["passed"] and made["n"] == shipped["n"] == 870
    assert abs(made["quantized_accuracy"] - shipped["quantized_accuracy"]) <= 0.015, (made, shipped)
