"""The gate's arithmetic: budget (drop in points) and floor (quantized accuracy)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgesign.certify import compare, enforce, format_comparison, passes, validate_floor
from edgesign.errors import EdgesignError, GateFailed


def _probs(pred, n_classes=3):
    return np.eye(n_classes, dtype=np.float32)[pred]


def test_budget_and_floor_are_both_enforced():
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    good = compare(y, _probs(y), _probs(y), ["a", "b", "c"])
    assert good["drop_points"] == 0 and passes(good, 0.0, 1.0)
    # a constant model: nothing lost to quantization, nothing learnt
    const = compare(y, _probs(np.zeros(10, int)), _probs(np.zeros(10, int)), ["a", "b", "c"])
    assert const["drop_points"] == 0 and const["quantized_accuracy"] == pytest.approx(0.4)
    assert passes(const, 1.0) and not passes(const, 1.0, 0.5) and passes(const, 1.0, 0.4)
    with pytest.raises(GateFailed, match="under --min-accuracy 50.00 %"):
        enforce(const, 1.0, "const", 0.5)
    enforce(const, 1.0, "const")  # the budget alone lets it through
    worse = compare(y, _probs(y), _probs(np.zeros(10, int)), ["a", "b", "c"])
    with pytest.raises(GateFailed, match="exceeds the budget"):
        enforce(worse, 1.0, "worse", 0.1)


def test_the_drop_comes_with_the_images_behind_it_and_its_interval():
    """ResNet-50 on the crop missed a 1-point budget by 10 of 870 images: the interval says how wide that is."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 870)
    fp = np.where(rng.random(870) < 0.64, y, (y + 1) % 3)
    qp = fp.copy()
    right, wrong = np.flatnonzero(fp == y), np.flatnonzero(fp != y)
    qp[right[:12]] = (y[right[:12]] + 1) % 3  # 12 lost
    qp[wrong[:2]] = y[wrong[:2]]  # 2 gained
    c = compare(y, _probs(fp), _probs(qp), ["a", "b", "c"])
    assert (c["lost"], c["gained"]) == (12, 2) and c["drop_points"] == pytest.approx(100 * 10 / 870, abs=1e-3)
    low, high = c["drop_interval_points"]
    # by hand: d in {-1, 0, 1}; mean 10/870; sample variance (14/870 - mean^2) * 870/869; half-width 1.96 sqrt(var/870)
    mean = 10 / 870
    half = 1.96 * ((14 / 870 - mean**2) * 870 / 869 / 870) ** 0.5
    assert (low, high) == pytest.approx((100 * (mean - half), 100 * (mean + half)), abs=1e-3)
    assert 0 < low < 1 < high  # over a 1-point budget, and not clearly so
    assert compare(y, _probs(fp), _probs(fp), ["a", "b", "c"])["drop_interval_points"] == [0.0, 0.0]
    assert "lost 12 images the float model got right and gained 2" in format_comparison(c)
    with pytest.raises(GateFailed, match="12 images lost, 2 gained"):
        enforce(c, 1.0, "resnet50")


@pytest.mark.parametrize("value, expected", [(None, None), ("0.75", 0.75), (0, 0.0), ("1", 1.0)])
def test_floor_is_a_fraction(value, expected):
    assert validate_floor(value) == expected


@pytest.mark.parametrize("value", ["75", "-0.1", "high", "nan"])
def test_floor_refuses_what_is_not_a_fraction(value):
    with pytest.raises(EdgesignError, match="--min-accuracy must be a fraction"):
        validate_floor(value)


def test_a_certificate_is_bound_to_its_model(tmp_path):
    """Edit a label, the std, the BGR flag or one weight after certification: every runtime command says so."""
    import subprocess
    import sys

    from edgesign.certify import certificate_status
    from edgesign.metadata import read_metadata, write_metadata
    from edgesign.runtime import EdgeModel, image_model_path

    content = image_model_path().read_bytes()
    meta = read_metadata(content)
    assert certificate_status(content, meta) == "valid"

    def edited(change) -> bytes:
        m = json.loads(json.dumps(meta))
        change(m)
        return write_metadata(content, m)

    cases = {
        "label": edited(lambda m: m["labels"].__setitem__(0, "a")),
        "std": edited(lambda m: m["preprocess"].__setitem__("std", [254.0])),
        "bgr": edited(lambda m: m["preprocess"].__setitem__("bgr", True)),
    }
    # one weight byte: the largest constant buffer, its first byte flipped
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    big = max(model.buffers, key=lambda b: 0 if b.data is None else len(b.data))
    big.data[0] = (int(big.data[0]) + 1) % 256
    cases["weight"] = bytes(flatbuffer_utils.convert_object_to_bytearray(model))
    assert certificate_status(write_metadata(content, meta), meta) == "valid"  # rewriting the same metadata is fine
    for name, data in cases.items():
        path = tmp_path / f"{name}.tflite"
        path.write_bytes(data)
        assert EdgeModel(path, warn=False).certificate_status == "MISMATCH", name
        info = subprocess.run([sys.executable, "-m", "edgesign.cli", "info", str(path)], capture_output=True, text=True)
        assert info.returncode == 0 and "certified NO LONGER" in info.stdout, name
    photo = Path(__file__).resolve().parent.parent / "docs" / "examples" / "a.jpg"
    r = subprocess.run([sys.executable, "-m", "edgesign.cli", "predict", str(tmp_path / "weight.tflite"), str(photo)],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "certificate does not match" in r.stderr


def test_check_refuses_a_pair_that_disagrees_on_most_images():
    from edgesign.certify import pair_failure

    y = np.arange(10) % 3
    f = np.eye(3)[y]
    related = compare(y, f, f, ["a", "b", "c"])
    unrelated = compare(y, f, np.eye(3)[(y + 1) % 3], ["a", "b", "c"])
    assert pair_failure(related, "q vs f") is None
    assert "not a model and its conversion" in pair_failure(unrelated, "q vs f")
