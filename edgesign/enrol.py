"""Few-shot enrolment: learn the user's own hand on the device, with numpy only.

The base hand pipeline stays as it is; enrolment adds a small softmax head fitted on the user's own
landmark features (standardized by the base model's own scaling) and blends it with the base
classifier for the letters the user enrolled. Everything lives in ONE personal model file: the base
classifier's bytes with its metadata extended by a ``personal`` entry (the head, the enrolment
features so it can be resumed and extended, the base's weights hash, the user's held-back check).
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import EdgesignError

BLEND = 0.8  # weight of the personal head for enrolled letters (fixed a priori, not tuned on the check frames)
MIN_FRAMES = 3


def encode(a: np.ndarray, dtype: str = "float32") -> dict[str, Any]:
    a = np.ascontiguousarray(a, dtype=dtype)
    return {"dtype": dtype, "shape": list(a.shape), "data": base64.b64encode(a.tobytes()).decode("ascii")}


def decode(d: dict[str, Any]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(d["data"]), dtype=d["dtype"]).reshape(d["shape"]).astype(np.float32)


def fit_head(x: np.ndarray, y: np.ndarray, n_classes: int, l2: float = 1e-3, steps: int = 300,
             lr: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression by full-batch gradient descent (x: standardized features)."""
    w = np.zeros((x.shape[1], n_classes), np.float32)
    b = np.zeros(n_classes, np.float32)
    onehot = np.eye(n_classes, dtype=np.float32)[y]
    for _ in range(steps):
        p = softmax(x @ w + b)
        g = (p - onehot) / len(x)
        w -= lr * (x.T @ g + l2 * w)
        b -= lr * g.sum(0)
        w[np.abs(w) < 1e-30] = 0.0  # subnormal floats slow every later step several times over
    return w, b


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def blend_probabilities(own: np.ndarray, base_probs: np.ndarray, classes: list[int], weight: float) -> np.ndarray:
    """The user's probabilities (``own``, over the model's classes) mixed in at ``weight`` for the enrolled
    ``classes``; the other classes keep the base model's share; renormalized."""
    enrolled = np.zeros(base_probs.shape[-1], bool)
    enrolled[classes] = True
    mix = np.where(enrolled, (1 - weight) * base_probs + weight * own, (1 - weight) * base_probs)
    return (mix / mix.sum(-1, keepdims=True)).astype(np.float32)


# The share of a user's enrolment frames that must read as one hand before every frame is taken as that hand. The
# two shared signers' whole alphabets read 94 % and 99 % right; signer 2's A, M, N and R alone 79 % (R and M are the
# letters the model calls left most); a person switching hands gives about half.
SURE_HAND = 0.7


def signing_hand(right_scores: list[float] | np.ndarray) -> tuple[str, float]:
    """(the hand the user signs with, the share of frames read as a right hand): right or left when at least
    ``SURE_HAND`` of the frames agree, else auto (each frame's own score decides, as for the base model). A person
    signs with one hand; the landmark model's per-frame score is unsure for some letters (signer 2 of the shared
    data: 4.5 % of frames read as a left hand, R 25 %, Del 28 %, M 11 %), and a wrong one mirrors every feature.
    Enrolling signer 2 with 10 frames a letter: 84.30 -> 85.49 % (bench/enrol_bench.py --hands auto,decided)."""
    share = float(np.mean(np.asarray(right_scores, np.float64) >= 0.5)) if len(right_scores) else 0.5
    return ("right" if share >= SURE_HAND else "left" if share <= 1 - SURE_HAND else "auto"), share


@dataclass
class Personal:
    """The personal head: which of the model's classes it knows, and how to blend it in."""

    classes: list[int]  # indices into the model's labels
    w: np.ndarray
    b: np.ndarray
    blend: float = BLEND

    def apply(self, standardized: np.ndarray, base_probs: np.ndarray) -> np.ndarray:
        own = np.zeros_like(base_probs)
        own[..., self.classes] = softmax(standardized @ self.w + self.b)
        return blend_probabilities(own, base_probs, self.classes, self.blend)

    @classmethod
    def from_metadata(cls, meta: dict[str, Any]) -> Personal:
        return cls(list(meta["classes"]), decode(meta["w"]), decode(meta["b"]), float(meta.get("blend", BLEND)))


@dataclass
class Enrolment:
    """The user's frames so far: features per letter (fit) and held back (check), and what was dropped."""

    labels: list[str]
    fit: dict[str, list[np.ndarray]] = field(default_factory=dict)
    check: dict[str, list[np.ndarray]] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)

    def add(self, letter: str, features: list[np.ndarray], holdback: int, dropped: int = 0) -> None:
        """Record one letter's frames (replacing an earlier take): the last ``holdback`` are the user's check."""
        if len(features) < MIN_FRAMES + holdback:
            raise EdgesignError(f"too few frames with a hand for {letter}: {len(features)} (need at least "
                                f"{MIN_FRAMES + holdback}: {MIN_FRAMES} to learn from, {holdback} to check)")
        cut = len(features) - holdback
        self.fit[letter], self.check[letter] = list(features[:cut]), list(features[cut:])
        self.dropped[letter] = dropped

    def to_metadata(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dropped_no_hand": dict(self.dropped)}
        for part in ("fit", "check"):
            frames = getattr(self, part)
            rows = [f for letter in frames for f in frames[letter]]
            names = [letter for letter in frames for _ in frames[letter]]
            out[part] = {"letters": names, "features": encode(np.stack(rows), "float16") if rows else None}
        return out

    @classmethod
    def from_metadata(cls, labels: list[str], meta: dict[str, Any]) -> Enrolment:
        e = cls(labels, dropped=dict(meta.get("dropped_no_hand", {})))
        for part in ("fit", "check"):
            block = meta[part]
            if block["features"] is None:
                continue
            feats = decode(block["features"])
            target = getattr(e, part)
            for letter, f in zip(block["letters"], feats):
                target.setdefault(letter, []).append(f)
        return e


def refit(enrolment: Enrolment, mean: np.ndarray, std: np.ndarray) -> tuple[Personal, float]:
    """Fit the personal head on the enrolled letters' frames; returns it and the seconds it took."""
    t0 = time.perf_counter()
    letters = [name for name in enrolment.labels if name in enrolment.fit]
    if len(letters) < 2:
        raise EdgesignError(f"enrol at least 2 letters (have {', '.join(letters) or 'none'})")
    x = np.stack([f for name in letters for f in enrolment.fit[name]])
    y = np.array([i for i, name in enumerate(letters) for _ in enrolment.fit[name]])
    w, b = fit_head((x - mean) / std, y, len(letters))
    classes = [enrolment.labels.index(name) for name in letters]
    return Personal(classes, w, b), time.perf_counter() - t0
