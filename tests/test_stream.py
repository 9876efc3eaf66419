"""Smoothing and the fingerspelling reader."""

from __future__ import annotations

import numpy as np

from edgesign.stream import Smoother, Speller


def test_smoother_is_the_mean_of_the_window():
    s = Smoother(3)
    vecs = [np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([0.0, 1.0]), np.array([0.0, 1.0])]
    outs = [s(v) for v in vecs]
    np.testing.assert_allclose(outs[0], [1, 0])
    np.testing.assert_allclose(outs[2], [1 / 3, 2 / 3], rtol=1e-6)
    np.testing.assert_allclose(outs[3], [0, 1], atol=1e-6)


def feed(speller, labels, p=0.9):
    for label in labels:
        speller.feed(label, p)
    return speller.text


def test_speller_types_stable_letters_once_and_edits():
    sp = Speller(stable=3)
    assert feed(sp, ["H"] * 10) == "H"  # held: typed once
    assert feed(sp, ["I"] * 2) == "H"  # not stable yet
    assert feed(sp, ["I"]) == "HI"
    assert feed(sp, ["Space"] * 3 + ["Y"] * 3) == "HI Y"
    assert feed(sp, ["Del"] * 3) == "HI "
    assert feed(sp, ["Nothing"] * 3 + ["Del"] * 3) == "HI"  # Del again after a pause


def test_speller_double_letters_need_a_pause_and_low_confidence_resets():
    sp = Speller(stable=2)
    assert feed(sp, ["L", "L", "Nothing", "Nothing", "L", "L"]) == "LL"
    sp2 = Speller(stable=2, threshold=0.6)
    sp2.feed("A", 0.9)
    sp2.feed("A", 0.3)  # below threshold: the count restarts
    sp2.feed("A", 0.9)
    assert sp2.text == ""
    sp2.feed("A", 0.9)
    assert sp2.text == "A"
