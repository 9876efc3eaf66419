"""Fingerspelled words across signers: the reader (`predict --spell`) with and without the letter model.

    python bench/spelling_bench.py [--runs DIR] [--weights 0,0.5,1,1.5,2] [--words 400] [--frames 15] [--gap 4]
        [--moves 6] [--stable 8] [--threshold 0.5]

Leave-one-signer-out, both ways: a landmark classifier trained with the recipe on one signer (40 epochs, as
``bench/signer_bench.py``; kept in ``--runs`` and reused), and words "signed" by the other signer's photos.
Each letter of a word is ``--frames`` consecutive photos of that letter (shooting order, a random start),
then ``--gap`` frames without a hand; the pipeline's probabilities go through predict's smoothing (5 frames)
and the reader (``--stable``, ``--threshold``: the reader's defaults), exactly as ``edgesign predict --spell`` runs
them. With
``--moves N`` the hand moves from one letter to the next instead: N frames whose landmarks are interpolated
between the last photo of a letter and the first of the next (the frames a real hand passes through, roughly;
the gap then only between two same letters).

Words come from the word list the shipped letter model counts (``models/letters-en.json``'s source), split in
two by a hash of the word: the letter model used here is counted from the first half only, and the words
spelled are drawn from the second, so no spelled word was counted. Dev words choose the weight (both
directions' mean), test words report it; names (the list's capitalized entries) are a set of their own.
Words with Z are left out (signer 2 has no Z).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.signer_bench import SIGNERS  # noqa: E402
from edgesign.handfeatures import hand_features  # noqa: E402
from edgesign.letters import LetterModel  # noqa: E402
from edgesign.pipeline import NO_HAND_LABEL, class_index  # noqa: E402
from edgesign.stream import Smoother, Speller  # noqa: E402
from edgesign.training.handdata import HandSet, extract_folder  # noqa: E402
from edgesign.training.landmarks import (  # noqa: E402
    RECIPE_HAND_STAGE,
    LandmarkConfig,
    feature_probabilities,
    load_config,
    pipeline_probabilities,
    standardize,
    train_landmarks,
)
from edgesign.training.letter_counts import debian_word_list, trigram_counts  # noqa: E402


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def counted_half(word: str) -> bool:
    return hashlib.sha256(word.encode()).digest()[0] % 2 == 0


def word_sets(lines: list[str], n: int, rng: np.random.Generator) -> tuple[LetterModel, dict[str, list[str]]]:
    """The letter model of the counted half, and dev / test / names words drawn from the other half."""
    plain = sorted({w for w in (s.strip() for s in lines) if re.fullmatch(r"[a-z]{3,8}", w)})
    names = sorted({w.lower() for w in (s.strip() for s in lines) if re.fullmatch(r"[A-Z][a-z]{2,7}", w)})
    everything = sorted({w.lower() for w in (s.strip() for s in lines) if re.fullmatch(r"[A-Za-z]+", w)})
    model = LetterModel({k: v for k, v in trigram_counts(w for w in everything if counted_half(w)).items()})
    spelled = [w for w in plain if not counted_half(w) and "z" not in w]
    pick = rng.choice(len(spelled), 2 * n, replace=False)
    named = [w for w in names if not counted_half(w) and "z" not in w]
    return model, {"dev": [spelled[i] for i in pick[:n]], "test": [spelled[i] for i in pick[n:]],
                   "names": [named[i] for i in rng.choice(len(named), n, replace=False)]}


def trained_run(runs: Path, signer: str) -> Path:
    run = runs / signer
    if load_config(run) is None:
        cfg = LandmarkConfig(data=[str(SIGNERS[signer])], out=str(run), epochs=40)
        train_landmarks(cfg)
    return run


@dataclass
class HeldOut:
    """The other signer's photos as one run reads them."""

    classes: list[str]
    probs: np.ndarray  # the pipeline's probabilities for every photo
    order: dict[str, np.ndarray]  # each letter's photo indices in shooting order
    hands: HandSet
    scaling: dict
    predict: Callable[[np.ndarray], np.ndarray]

    def moving(self, i: int, j: int, n: int) -> list[np.ndarray]:
        """``n`` frames of the hand moving from photo ``i``'s handshape to photo ``j``'s: their landmarks (world,
        image, handedness score) interpolated, read by the classifier; no-hand frames when either has no hand."""
        h = self.hands
        if not n or not (h.found[i] and h.found[j]):
            return [self.no_hand] * n
        steps = np.arange(1, n + 1) / (n + 1)
        x = np.stack([hand_features((1 - a) * h.world[i] + a * h.world[j],
                                    (1 - a) * h.image[i, :, :2] + a * h.image[j, :, :2],
                                    float((1 - a) * h.right[i] + a * h.right[j])) for a in steps])
        return list(self.predict(standardize(x, self.scaling)))

    @cached_property
    def no_hand(self) -> np.ndarray:
        """A frame without a hand, as the pipeline answers it (``Nothing``, probability 1)."""
        p = np.zeros(len(self.classes), np.float32)
        p[class_index(self.classes, NO_HAND_LABEL)] = 1.0
        return p


def held_out_frames(run: Path, held: str) -> HeldOut:
    config = load_config(run)
    s = extract_folder(SIGNERS[held], RECIPE_HAND_STAGE)
    predict = feature_probabilities(run)
    probs = pipeline_probabilities(None, s, config["classes"], config["feature_scaling"], predict=predict)

    def number(i: int) -> int:
        digits = re.findall(r"\d+", Path(s.files[i]).stem)
        return int(digits[-1]) if digits else 0
    order = {name.lower(): np.array(sorted(np.flatnonzero(s.labels == k), key=number))
             for k, name in enumerate(s.class_names) if len(name) == 1}
    return HeldOut(config["classes"], probs, order, s, config["feature_scaling"], predict)


def spell(word: str, held: HeldOut, args, rng: np.random.Generator, letters: LetterModel,
          weights: list[float]) -> list[str]:
    """What the reader types for ``word`` signed this way, at each weight (the same frames for every weight). Between
    two letters: ``--moves`` frames of the hand moving from one to the next (then ``--gap`` frames without a hand
    only between two same letters), or, without moves, ``--gap`` frames without a hand."""
    frames, last = [], None
    for k, c in enumerate(word):
        photos = held.order[c]
        start = int(rng.integers(0, len(photos) - args.frames + 1))
        shown = photos[start:start + args.frames]
        if last is not None and args.moves:
            frames += held.moving(last, shown[0], args.moves)
            frames += [held.no_hand] * (args.gap if word[k - 1] == c else 0)
        elif last is not None:
            frames += [held.no_hand] * args.gap
        frames += [held.probs[i] for i in shown]
        last = shown[-1]
    frames += [held.no_hand] * args.gap
    typed = []
    for w in weights:
        smoother, reader = Smoother(5), Speller(stable=args.stable, threshold=args.threshold, letters=letters, weight=w)
        for p in frames:
            reader.feed_probabilities(held.classes, smoother(p))
        typed.append(reader.text.lower())
    return typed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default=str(Path(tempfile.gettempdir()) / "edgesign-spelling-runs"))
    ap.add_argument("--weights", default="0,0.5,1,1.5,2")
    ap.add_argument("--words", type=int, default=400, help="words in each set (dev, test, names)")
    ap.add_argument("--frames", type=int, default=15)
    ap.add_argument("--gap", type=int, default=4, help="frames without a hand between letters")
    ap.add_argument("--moves", type=int, default=0, help="frames of the hand moving between letters (landmarks "
                    "interpolated); the gap then only between two same letters")
    ap.add_argument("--stable", type=int, default=Speller.stable, help="the reader's stable frames (predict's --stable)")
    ap.add_argument("--threshold", type=float, default=Speller.threshold, help="the reader's least probability")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    weights = [float(w) for w in args.weights.split(",")]
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        lines, version = debian_word_list(Path(tmp))
    letters, sets = word_sets(lines, args.words, rng)
    print(f"word list: wamerican {version}; {args.words} words a set; {args.frames} frames a letter, gap {args.gap}, "
          f"moves {args.moves}; "
          f"reader: stable {args.stable}, threshold {args.threshold:g}")
    print(f"{'train -> held':16s} {'words':6s} " + " ".join(f"{'w=' + format(w, 'g'):>17s}" for w in weights))
    for train, held in (("signer1", "signer2"), ("signer2", "signer1")):
        read = held_out_frames(trained_run(Path(args.runs), train), held)
        for name, words in sets.items():
            typed = [spell(w, read, args, rng, letters, weights) for w in words]
            cells = []
            for k in range(len(weights)):
                cer = sum(edit_distance(t[k], w) for t, w in zip(typed, words)) / sum(map(len, words))
                exact = np.mean([t[k] == w for t, w in zip(typed, words)])
                cells.append(f"{100 * (1 - cer):6.2f} / {100 * exact:6.2f}")
            print(f"{train[-1]} -> {held[-1]:12s} {name:6s} " + " ".join(f"{c:>17s}" for c in cells), flush=True)
    print("cells: letters right (1 - character error rate) % / words exactly right %")


if __name__ == "__main__":
    main()
