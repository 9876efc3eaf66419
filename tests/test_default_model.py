"""The shipped models: certified, small enough for git, described by their cards, and the first command works.

The default is the hand pipeline (``asl29-hands.tflite``, tested further in test_hands.py); the image
model ``asl29.tflite`` still ships and is named by its bare file name."""

from __future__ import annotations

import json
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


def test_cards_name_the_data_beside_the_project_not_one_machines_folders(tmp_path):
    from edgesign.converters.card import shown_path

    project = tmp_path / "edgesign"
    assert shown_path(str(tmp_path / "shared" / "data" / "asl-photos" / "test"), project) == \
        "../shared/data/asl-photos/test"
    assert shown_path("/mnt/photos/test", project) == "/mnt/photos/test"  # far away: the path as it was
    assert shown_path("data/test", project) == "data/test"  # relative already: as the user wrote it
    cards = [*ROOT.glob("models/*.md"), *ROOT.glob("models/cards/*.md")]
    assert len(cards) >= 10
    for card in cards:
        assert "`/" not in card.read_text(), card  # no absolute path in backquotes


def test_regenerating_a_card_keeps_what_was_written_into_it_by_hand():
    """`bench/model_cards.py` rewrites every card from its run; a section the generator does not write (a card's
    per-signer figures, measured with `edgesign evaluate`) stays where it was, and a generated one is replaced."""
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    from model_cards import with_hand_written

    card = (ROOT / "models" / "cards" / "asl29-hands-resnet18-32.md").read_text()
    generated, hand = card.split("## Per signer")
    assert "(`edgesign evaluate`" in hand  # the hand-written section this test is about
    assert with_hand_written(generated.rstrip("\n") + "\n", card) == card
    renewed = generated.replace("| best validation accuracy (float) | 96.99 % |", "| best validation accuracy (float) | 97.50 % |")
    kept = with_hand_written(renewed.rstrip("\n") + "\n", card)
    assert "| 97.50 % |" in kept and "| 96.99 % |" not in kept and kept.count("## Per signer") == 1
    assert with_hand_written(card, card) == card and with_hand_written(renewed, "") == renewed
    # a hand-written section stays where it was written: after the section it followed
    middle = generated.rstrip("\n").replace("## Known weaknesses", "## Per signer" + hand.rstrip("\n") + "\n\n## Known weaknesses") + "\n"
    assert with_hand_written(renewed.rstrip("\n") + "\n", middle) == middle.replace("| 96.99 % |", "| 97.50 % |")


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


def test_image_model_evaluates_a_subset_of_its_classes_in_any_case(asl_test, tmp_path):
    """Issue 11 item 5 for an image model: lower-case folders of three of its 29 classes are evaluated, and
    per-class figures cover those three; a folder the model does not know is one error line."""
    data = tmp_path / "data"
    for name in ("A", "Del", "Space"):
        (data / name.lower()).mkdir(parents=True)
        for f in sorted((asl_test / name).iterdir())[:4]:
            (data / name.lower() / f.name).write_bytes(f.read_bytes())
    m = EdgeModel(image_model_path())
    expected = [m.labels.index(f.parent.name.capitalize()) == int(m.classify_file(f).argmax())
                for f in sorted(data.rglob("*.jpg"))]
    r = run_cli("evaluate", "asl29.tflite", data, "--out", tmp_path / "eval")
    assert r.returncode == 0, r.stderr
    assert f"accuracy {100 * sum(expected) / len(expected):.2f} % on 12 images" in r.stdout
    metrics = json.loads((tmp_path / "eval" / "eval_metrics.json").read_text())
    assert sorted(metrics["per_class_accuracy"]) == ["A", "Del", "Space"] and len(metrics["class_names"]) == 29
    (data / "zz").mkdir()
    (data / "zz" / "x.jpg").write_bytes(next((data / "a").iterdir()).read_bytes())
    r = run_cli("evaluate", "asl29.tflite", data, "--out", tmp_path / "eval2")
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("error:") and "zz" in r.stderr, r.stderr


def test_tensorflows_own_interpreter_answers_as_litert_quietly():
    """`--backend tensorflow` (tf.lite.Interpreter: a machine with TensorFlow and no LiteRT wheel) runs the image
    model and the hand pipeline with the answers LiteRT gives, and without TensorFlow's logs unless --verbose (it
    was an AttributeError traceback: the package tensorflow.lite is not the API tf.lite)."""
    import os
    import subprocess

    import pytest
    from conftest import EDGESIGN

    pytest.importorskip("tensorflow")
    photo = ROOT / "docs" / "examples" / "a.jpg"
    as_a_user = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # run_cli quiets TensorFlow
    for model in ("asl29.tflite", "asl29-hands.tflite"):
        litert = run_cli("predict", model, photo, "--json")
        tf = subprocess.run([*EDGESIGN, "predict", model, str(photo), "--json", "--backend", "tensorflow"],
                            capture_output=True, text=True, env=as_a_user, cwd=ROOT, timeout=300)
        assert tf.returncode == 0 and tf.stderr == "", tf.stderr[-2000:]
        assert json.loads(tf.stdout)["top"] == json.loads(litert.stdout)["top"]
