"""Few-shot enrolment: learn the user's own hand on the device, with numpy only.

The base hand pipeline stays as it is; enrolment adds a small softmax head fitted on the user's own
landmark features (standardized by the base model's own scaling) as a correction to the base classifier's
log-probabilities, and blends it with the base classifier for the letters the user enrolled. Everything lives
in ONE personal model file: the base classifier's bytes with its metadata extended by a ``personal`` entry
(the head, the enrolment frames' landmarks so it can be resumed and extended, the base's weights hash, the
user's held-back check).
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any, Callable

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
             lr: float = 0.5, offset: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression by full-batch gradient descent (x: standardized features). ``offset``: fixed
    logits added to each row's (the base model's log-probabilities: the head then learns a correction to them)."""
    w = np.zeros((x.shape[1], n_classes), np.float32)
    b = np.zeros(n_classes, np.float32)
    onehot = np.eye(n_classes, dtype=np.float32)[y]
    offset = np.zeros((len(x), n_classes), np.float32) if offset is None else offset
    for _ in range(steps):
        p = softmax(x @ w + b + offset)
        g = (p - onehot) / len(x)
        w -= lr * (x.T @ g + l2 * w)
        b -= lr * g.sum(0)
        w[np.abs(w) < 1e-30] = 0.0  # subnormal floats slow every later step several times over
    return w, b


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


# The least base probability a correcting head starts from: half the step of an int8 softmax output (1/256), below
# which the quantized base cannot tell values apart (its zeros would be log(0)).
BASE_FLOOR = 1 / 512


def base_log_probabilities(base_probs: np.ndarray, classes: list[int]) -> np.ndarray:
    """The base model's log-probabilities over the enrolled ``classes``, floored: a correcting head's offset."""
    return np.log(np.maximum(base_probs[..., classes], BASE_FLOOR)).astype(np.float32)


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
    corrects_base: bool = False  # the head's logits are added to the base's log-probabilities (a correction)

    def apply(self, standardized: np.ndarray, base_probs: np.ndarray) -> np.ndarray:
        own = np.zeros_like(base_probs)
        logits = standardized @ self.w + self.b
        if self.corrects_base:
            logits = logits + base_log_probabilities(base_probs, self.classes)
        own[..., self.classes] = softmax(logits)
        return blend_probabilities(own, base_probs, self.classes, self.blend)

    @classmethod
    def from_metadata(cls, meta: dict[str, Any]) -> Personal:
        return cls(list(meta["classes"]), decode(meta["w"]), decode(meta["b"]), float(meta.get("blend", BLEND)),
                   meta.get("head") == "corrects-base")


def pack_hand(world: np.ndarray, image_xy: np.ndarray, right: float) -> np.ndarray:
    """One frame as enrolment keeps it: the world landmarks, the image landmarks from the wrist (all the features
    read of them) and the handedness score, in float16 as the personal file stores them (features are always taken
    of the stored values, so a file's figures reproduce from it)."""
    v = np.concatenate([np.ravel(world), np.ravel(image_xy - image_xy[0]), [right]])
    return v.astype(np.float16).astype(np.float32)


def unpack_hand(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(world (21, 3), image x/y from the wrist (21, 2), handedness score) of a :func:`pack_hand` frame."""
    return v[:63].reshape(21, 3), v[63:105].reshape(21, 2), float(v[105])


def frame_features(frames: list[np.ndarray], featurize) -> list[np.ndarray]:
    """The features of :func:`pack_hand` frames: ``featurize(world, image_xy, right)`` of each (a pipeline's
    ``landmark_features``, which knows the signing hand)."""
    return [featurize(*unpack_hand(v)) for v in frames]


@dataclass
class Enrolment:
    """The user's frames so far, as landmarks (:func:`pack_hand`): per letter to fit and held back (check), and
    how many frames had no hand. Landmarks, not features, so every frame can be read again as another signing hand
    or by another feature version."""

    labels: list[str]
    fit: dict[str, list[np.ndarray]] = field(default_factory=dict)
    check: dict[str, list[np.ndarray]] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)

    def add(self, letter: str, frames: list[np.ndarray], holdback: int, dropped: int = 0) -> None:
        """Record one letter's frames (replacing an earlier take): the last ``holdback`` are the user's check."""
        if len(frames) < MIN_FRAMES + holdback:
            raise EdgesignError(f"too few frames with a hand for {letter}: {len(frames)} (need at least "
                                f"{MIN_FRAMES + holdback}: {MIN_FRAMES} to learn from, {holdback} to check)")
        cut = len(frames) - holdback
        self.fit[letter], self.check[letter] = list(frames[:cut]), list(frames[cut:])
        self.dropped[letter] = dropped

    def features(self, part: str, featurize) -> dict[str, list[np.ndarray]]:
        """Per letter of ``part`` (fit or check), its frames' features: ``featurize(world, image_xy, right)``."""
        return {letter: frame_features(frames, featurize) for letter, frames in getattr(self, part).items()}

    def to_metadata(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dropped_no_hand": dict(self.dropped)}
        for part in ("fit", "check"):
            frames = getattr(self, part)
            rows = [f for letter in frames for f in frames[letter]]
            names = [letter for letter in frames for _ in frames[letter]]
            out[part] = {"letters": names, "landmarks": encode(np.stack(rows), "float16") if rows else None}
        return out

    @classmethod
    def from_metadata(cls, labels: list[str], meta: dict[str, Any]) -> Enrolment:
        if "landmarks" not in meta["fit"]:
            raise EdgesignError("this personal file was enrolled by an earlier edgesign, which kept features, not "
                                "landmarks: enrol again from its base model")
        e = cls(labels, dropped=dict(meta.get("dropped_no_hand", {})))
        for part in ("fit", "check"):
            block = meta[part]
            if block["landmarks"] is None:
                continue
            target = getattr(e, part)
            for letter, v in zip(block["letters"], decode(block["landmarks"])):
                target.setdefault(letter, []).append(v)
        return e


MIN_LETTERS = 2  # a head needs two letters to tell apart


def refit(fit: dict[str, list[np.ndarray]], labels: list[str], mean: np.ndarray, std: np.ndarray,
          base: Callable[[np.ndarray], np.ndarray] | None = None) -> tuple[Personal, float]:
    """Fit the personal head on the enrolled letters' frames (``fit``: features per letter, of the model's
    ``labels``); returns it and the seconds it took. ``base``: the base model's probabilities of one frame's
    features; given, the head learns a correction to the base's log-probabilities rather than the letters from
    scratch, so frames the base already reads right leave it as it is (``python bench/enrol_probe.py``: a base that
    reads the user well stays there, 98.55 against 89.52 % for a head of its own on signer 2; a new user's
    validation +1.5 points)."""
    t0 = time.perf_counter()
    letters = [name for name in labels if name in fit]
    if len(letters) < MIN_LETTERS:
        raise EdgesignError(f"enrol at least {MIN_LETTERS} letters (have {', '.join(letters) or 'none'})")
    x = np.stack([f for name in letters for f in fit[name]])
    y = np.array([i for i, name in enumerate(letters) for _ in fit[name]])
    classes = [labels.index(name) for name in letters]
    offset = None if base is None else base_log_probabilities(np.stack([base(f) for f in x]), classes)
    w, b = fit_head((x - mean) / std, y, len(letters), offset=offset)
    return Personal(classes, w, b, corrects_base=base is not None), time.perf_counter() - t0
