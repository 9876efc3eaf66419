"""The gate's arithmetic: budget (drop in points) and floor (quantized accuracy)."""

from __future__ import annotations

import numpy as np
import pytest

from edgesign.certify import compare, enforce, passes, validate_floor
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


@pytest.mark.parametrize("value, expected", [(None, None), ("0.75", 0.75), (0, 0.0), ("1", 1.0)])
def test_floor_is_a_fraction(value, expected):
    assert validate_floor(value) == expected


@pytest.mark.parametrize("value", ["75", "-0.1", "high", "nan"])
def test_floor_refuses_what_is_not_a_fraction(value):
    with pytest.raises(EdgesignError, match="--min-accuracy must be a fraction"):
        validate_floor(value)
