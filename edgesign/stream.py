"""Stream post-processing: probability smoothing and the fingerspelling reader."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from .letters import LetterModel


class Smoother:
    """Mean of the last ``window`` probability vectors (a running sum: O(classes) per frame)."""

    def __init__(self, window: int = 5) -> None:
        self.window = max(1, int(window))
        self._buf: deque[np.ndarray] = deque()
        self._sum: np.ndarray | None = None

    def __call__(self, probs: np.ndarray) -> np.ndarray:
        probs = np.asarray(probs, np.float64)
        if self._sum is None:
            self._sum = np.zeros_like(probs)
        self._buf.append(probs)
        self._sum += probs
        if len(self._buf) > self.window:
            self._sum -= self._buf.popleft()
        return (self._sum / len(self._buf)).astype(np.float32)


@dataclass
class Speller:
    """Turns a stream of top classes into text.

    A class is accepted once it has been the top class (above ``threshold``) for ``stable``
    consecutive frames. An accepted letter is appended; ``Space`` appends a space, ``Del`` removes
    the last character, ``Nothing`` appends nothing. The same sign is accepted again only after
    another class (``Nothing`` included) has been accepted in between, so holding a sign types once.

    With a ``letters`` model, :meth:`feed_probabilities` first weighs each frame's probabilities by what is likely
    to come next in the word being typed (``weight``: how much; 0 is the classifier alone).
    """

    stable: int = 8
    # chosen leave-one-signer-out with the letter model on words of their own, the hand moving between letters
    # (bench/spelling_bench.py --moves 6, letters right on dev words, both directions' mean, weight 1: threshold 0.5
    # 58.81 %, 0.4 62.62, 0.3 64.30 %); it was 0.5
    threshold: float = 0.3
    space: str = "space"
    delete: str = "del"
    nothing: str = "nothing"
    text: str = ""
    letters: LetterModel | None = None
    # how much the letter model weighs: chosen leave-one-signer-out on words of their own (bench/spelling_bench.py,
    # the mean of both directions' letters right on dev words at threshold 0.5: 0 49.3 %, 0.5 56.7, 1 57.4, 1.5 54.9,
    # 2 50.1 %; at 0.3 with the hand moving between letters: 0 62.7 %, 1 64.3 %)
    weight: float = 1.0
    _candidate: str | None = field(default=None, repr=False)
    _count: int = field(default=0, repr=False)
    _last_accepted: str | None = field(default=None, repr=False)

    def restart(self) -> None:
        """A new stream (the next video): new text, nothing held."""
        self.text, self._candidate, self._count, self._last_accepted = "", None, 0, None

    def feed_probabilities(self, labels: list[str], probs: np.ndarray) -> str | None:
        """Feed one frame's class probabilities (weighed by the letter model, when there is one)."""
        if self.letters is not None:
            probs = self.letters.weigh(labels, probs, self.text, self.weight)
        best = int(np.argmax(probs))
        return self.feed(labels[best], float(probs[best]))

    def feed(self, label: str, probability: float) -> str | None:
        """Feed one frame's top class; returns the class accepted at this frame, if any."""
        if probability < self.threshold:
            self._candidate, self._count = None, 0
            return None
        if label == self._candidate:
            self._count += 1
        else:
            self._candidate, self._count = label, 1
        if self._count != self.stable or label == self._last_accepted:
            return None
        self._last_accepted = label
        key = label.lower()
        if key == self.space:
            self.text += " "
        elif key == self.delete:
            self.text = self.text[:-1]
        elif key != self.nothing:
            self.text += label
        return label
