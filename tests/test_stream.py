"""Smoothing and the fingerspelling reader."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgesign.errors import EdgesignError
from edgesign.letters import MIX, SYMBOLS, LetterModel, letter_model
from edgesign.stream import Smoother, Speller
from edgesign.training.letter_counts import letter_model_record, trigram_counts, words_of


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


LABELS = [*"ABCDEFGHIJKLMNOPQRSTUVWXYZ", "Del", "Nothing", "Space"]


def frame(**probs):
    """A probability vector over LABELS (the rest spread evenly)."""
    p = np.full(len(LABELS), (1.0 - sum(probs.values())) / (len(LABELS) - len(probs)), np.float32)
    for label, v in probs.items():
        p[LABELS.index(label)] = v
    return p


def test_the_shipped_letter_model_knows_what_comes_next():
    letters = letter_model()
    assert "wamerican" in letters.source
    after_q = letters.next_probabilities("HELLO Q")  # only the word being typed counts
    assert after_q.sum() == pytest.approx(1.0) and SYMBOLS[int(after_q.argmax())] == "u" and after_q.max() > 0.5
    start = letters.next_probabilities("")
    assert start[SYMBOLS.index("_")] < start[SYMBOLS.index("s")] / 5  # a word does not end before its first letter
    p = frame(R=0.5, U=0.4)
    np.testing.assert_array_equal(letters.weigh(LABELS, p, "Q", 0.0), p)  # weight 0: the classifier alone
    weighed = letters.weigh(LABELS, p, "Q", 1.0)
    assert weighed.sum() == pytest.approx(1.0, abs=1e-5) and LABELS[int(weighed.argmax())] == "U"
    # Del and Nothing keep their share relative to each other
    assert weighed[LABELS.index("Del")] == pytest.approx(weighed[LABELS.index("Nothing")])


def test_the_reader_types_the_likely_letter_when_the_classifier_is_torn():
    """U read as R is a cross-signer confusion; after a Q the letter model tips it to U. The classifier alone types
    what it says; with the letter model a clear answer still wins (a Q followed by an X stays X)."""
    frames = [frame(Q=0.9)] * 3 + [frame(Nothing=0.9)] * 3 + [frame(R=0.5, U=0.4)] * 3
    alone, weighed = Speller(stable=3), Speller(stable=3, letters=letter_model(), weight=1.0)
    for p in frames:
        alone.feed_probabilities(LABELS, p)
        weighed.feed_probabilities(LABELS, p)
    assert (alone.text, weighed.text) == ("QR", "QU")
    clear = Speller(stable=3, letters=letter_model(), weight=1.0)
    for p in [frame(Q=0.9)] * 3 + [frame(Nothing=0.9)] * 3 + [frame(X=0.95)] * 3:
        clear.feed_probabilities(LABELS, p)
    assert clear.text == "QX"


def test_letter_counts_pad_each_word_and_keep_only_plain_words(tmp_path):
    assert words_of(["Cat", "cat's", "café", "dog", "", "DOG"]) == ["cat", "dog"]
    assert trigram_counts(["cat", "at"]) == {"__c": 1, "_ca": 1, "cat": 1, "at_": 2, "__a": 1, "_at": 1}
    record = letter_model_record(["cat", "cab"], "test")
    path = tmp_path / "letters.json"
    path.write_text(json.dumps(record))
    model = LetterModel.load(path)
    after_ca = model.next_probabilities("CA")
    assert after_ca[SYMBOLS.index("t")] == pytest.approx(after_ca[SYMBOLS.index("b")])
    # z was never counted: only the uniform share is left to it
    assert after_ca[SYMBOLS.index("t")] > 0.3 and after_ca[SYMBOLS.index("z")] == pytest.approx(MIX[-1] / len(SYMBOLS))


def test_a_broken_letter_model_is_one_error(tmp_path):
    path = tmp_path / "letters.json"
    path.write_text('{"format": "something else"}')
    with pytest.raises(EdgesignError, match="not a letter-trigrams-v1 file"):
        LetterModel.load(path)
    path.write_text("{")
    with pytest.raises(EdgesignError, match="cannot be read"):
        LetterModel.load(path)
    for trigrams in ({"ab": 3}, {"a1b": 3}, {"abc": "many"}, ["abc"]):
        path.write_text(json.dumps({"format": "letter-trigrams-v1", "symbols": SYMBOLS, "trigrams": trigrams}))
        with pytest.raises(EdgesignError, match="not three symbols"):
            LetterModel.load(path)


@pytest.mark.slow
def test_the_shipped_letter_model_is_the_pinned_word_list_counted(tmp_path):
    """models/letters-en.json is exactly what `python -m training.letter_counts` makes from the pinned package."""
    import shutil
    import subprocess
    import sys

    from edgesign.runtime import shipped_models_folder

    if shutil.which("apt-get") is None:
        pytest.skip("apt-get (Debian's client) is not on this machine")
    out = tmp_path / "letters.json"
    r = subprocess.run([sys.executable, "-m", "edgesign.training.letter_counts", "-o", str(out)], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert out.read_text() == (shipped_models_folder() / "letters-en.json").read_text()
