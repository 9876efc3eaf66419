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
