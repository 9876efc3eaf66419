"""What letter likely comes next in a word: the fingerspelling reader's letter model (numpy only).

The shipped model (``models/letters-en.json``, built by ``python -m training.letter_counts``) holds letter
trigram counts over an English word list. ``next_probabilities`` interpolates trigram, bigram and unigram
estimates and a uniform share (Jelinek-Mercer); ``weigh`` multiplies a classifier's probabilities by
``(27 p(letter | the word so far)) ** weight`` and normalizes: weight 0 leaves them as they are. ``Space`` takes
the probability that the word ends; ``Del``, ``Nothing`` and any other class keep factor 1.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import EdgesignError

EDGE = "_"  # a word's edge
SYMBOLS = EDGE + "abcdefghijklmnopqrstuvwxyz"
FORMAT = "letter-trigrams-v1"
# trigram, bigram, unigram, uniform: the uniform share keeps every letter's factor at 0.1 or more (weight 1), so a
# letter the classifier is sure of is typed even where the words counted never had it
MIX = (0.55, 0.25, 0.1, 0.1)
DEFAULT_NAME = "letters-en.json"
_INDEX = {s: i for i, s in enumerate(SYMBOLS)}
_UNIFORM = np.full(len(SYMBOLS), 1 / len(SYMBOLS))


class LetterModel:
    """p(next symbol | the two before) from letter trigram counts (``{"_ca": 12, ...}``)."""

    def __init__(self, trigrams: dict[str, int], source: str = "") -> None:
        n = len(SYMBOLS)
        counts = np.zeros((n, n, n), np.float64)
        for gram, c in trigrams.items():
            counts[_INDEX[gram[0]], _INDEX[gram[1]], _INDEX[gram[2]]] = c
        bigrams = counts.sum(0)  # every symbol has two before it (words are padded), so these are all bigrams
        unigrams = bigrams.sum(0)
        self.source = source
        self._tri, self._bi, self._uni = _rows(counts), _rows(bigrams), unigrams / unigrams.sum()

    @classmethod
    def load(cls, path: str | os.PathLike) -> LetterModel:
        try:
            record = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise EdgesignError(f"letter model {path}: cannot be read ({e})") from None
        if not isinstance(record, dict) or record.get("format") != FORMAT or record.get("symbols") != SYMBOLS:
            raise EdgesignError(f"letter model {path}: not a {FORMAT} file")
        try:
            return cls(record["trigrams"], record.get("source", ""))
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            raise EdgesignError(f"letter model {path}: its trigram counts are not three symbols of "
                                f"{SYMBOLS!r} with a count each") from None

    def next_probabilities(self, text: str) -> np.ndarray:
        """p(next symbol | the last two letters of the word being typed), over :data:`SYMBOLS` (``_``: it ends)."""
        word = text.rsplit(" ", 1)[-1].lower()
        context = (EDGE * 2 + "".join(c for c in word if c in _INDEX))[-2:]
        a, b = _INDEX[context[0]], _INDEX[context[1]]
        parts = [(self._tri[a, b], MIX[0]), (self._bi[b], MIX[1]), (self._uni, MIX[2]), (_UNIFORM, MIX[3])]
        known = [(p, w) for p, w in parts if p.sum() > 0]
        total = sum(w for _, w in known)
        return sum(p * (w / total) for p, w in known)

    def weigh(self, labels: list[str], probs: np.ndarray, text: str, weight: float) -> np.ndarray:
        """The classifier's ``probs`` (over ``labels``) weighed by what is likely to come next after ``text``."""
        if weight == 0:
            return probs
        rows, symbols = _symbol_rows(tuple(labels))
        factor = np.ones(len(labels))
        factor[rows] = (self.next_probabilities(text) * len(SYMBOLS))[symbols] ** weight
        weighed = np.asarray(probs, np.float64) * factor
        total = weighed.sum()
        return (weighed / total).astype(np.float32) if total > 0 else np.asarray(probs, np.float32)


@lru_cache(maxsize=8)
def _symbol_rows(labels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(the indices of the labels that are a letter or ``Space``, their symbols' indices): worked out once per label
    list, not per frame."""
    pairs = [(i, _INDEX[s]) for i, s in enumerate(EDGE if x.lower() == "space" else x.lower() for x in labels)
             if len(s) == 1 and s in _INDEX]
    return np.array([i for i, _ in pairs], np.intp), np.array([k for _, k in pairs], np.intp)


def _rows(counts: np.ndarray) -> np.ndarray:
    """Counts normalized over the last axis (rows without counts stay zero)."""
    total = counts.sum(-1, keepdims=True)
    return np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)


@lru_cache(maxsize=4)
def letter_model(path: str | None = None) -> LetterModel:
    """The letter model at ``path``, or the shipped English one."""
    if path is None:
        from .runtime import shipped_models_folder

        path = str(shipped_models_folder() / DEFAULT_NAME)
    return LetterModel.load(path)


def letters_option(value: str) -> LetterModel | None:
    """``--letters``: ``en`` (the shipped English model), ``none``, or a letter model file."""
    if value == "none":
        return None
    if value == "en":
        return letter_model()
    if not Path(value).is_file():
        raise EdgesignError(f"--letters {value}: no such file (en, none, or a .json from python -m "
                            "training.letter_counts --words FILE)")
    return letter_model(value)
