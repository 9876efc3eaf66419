"""The shipped models: certified, small enough for git, described by their cards, and the first command works.

The default is the hand pipeline (``asl29-hands.tflite``, tested further in test_hands.py); the image
model ``asl29.tflite`` still ships and is named by its bare file name."""

from __future__ import annotations

import re

from conftest import ROOT, run_cli

from edgesign.api import evaluate_model
from edgesign.runtime import EdgeModel, image_model_path, open_model


def test_first_command_of_the_readme_works():
    r = run_cli("predict", ROOT / "docs" / "examples" / "a.jpg")
    assert r.returncode == 0, r.stderr
    assert re.match(r"^.*a\.jpg: \w+ 0\.\d{3}, \w+ 0\.\d{3}, \w+ 0\.\d{3}$", r.stdout.strip()), r.stdout


def test_default_is_the_certified_hand_pipeline():
    m = open_model()
    cert = m.certificate
    assert cert["pipeline"] and cert["passed"] and cert["drop_points"] <= cert["max_drop"] == 0.5
    assert cert["quantized_accuracy"] >= cert["min_accuracy"] and cert["n"] == 870
    assert len(m.labels) == 29 and m.path.stat().st_size <= 1_000_000
    card = (ROOT / "models" / "asl29-hands.md").read_text()
    assert f"| test split, int8 pipeline (device runtime) | {100 * cert['quantized_accuracy']:.2f} % |" in card


def test_image_model_is_certified_and_small():
    path = image_model_path()
    assert path.stat().st_size <= 15_000_000
    m = EdgeModel(path)
    cert = m.certificate
    assert cert["passed"] and cert["drop_points"] <= cert["max_drop"] and cert["n"] == 870
    assert len(m.labels) == 29 and m.input_details["dtype"].__name__ == "int8"


def test_card_states_the_certified_figures():
    cert = EdgeModel(image_model_path()).certificate
    card = (ROOT / "models" / "asl29.md").read_text()
    assert f"| test accuracy, int8 (device runtime) | {100 * cert['quantized_accuracy']:.2f} % |" in card
    assert f"| test accuracy, float (Keras) | {100 * cert['float_accuracy']:.2f} % |" in card


def test_device_reproduces_the_certificate(asl_test, tmp_path):
    m = EdgeModel(image_model_path())
    metrics, _ = evaluate_model(m, str(asl_test), out_dir=str(tmp_path))
    assert abs(metrics.accuracy - m.certificate["quantized_accuracy"]) < 1e-6  # same count of 870 (rounded)


def test_metadata_reads_the_same_through_the_legacy_schema_package():
    """With tflite-runtime (32-bit Pis) the schema comes from the `tflite` package: same metadata."""
    import pytest

    tflite = pytest.importorskip("tflite")
    from edgesign.metadata import read_metadata

    content = image_model_path().read_bytes()
    assert read_metadata(content, schema=tflite) == read_metadata(content)
