"""Does the landmark model's own spread help across signers? Landmarks of each photo from several crops.

    python bench/roi_jitter_probe.py [--cache DIR]

The landmark model answers a little differently for each crop it is given. For every photo of both signers
with a hand (the recipe's stage, cached), the landmark model runs again on four regions: the region a stream's
next frame would use (``roi_from_landmarks``: what ``track`` sees), the same 15 % larger and turned +8 deg,
10 % smaller and turned -8 deg, and shifted by 5 % of its side. Then, leave-one-signer-out with the numpy
probe's MLP (``signer_probe.py``, flex 12, 4 augmented copies):

- ``baseline``: trained and measured on the detected landmarks (the probe's flex-12);
- ``tta``: the same classifier, each held-out photo the mean of its five landmark sets' probabilities;
- ``train-jitter``: also trained on the four re-run landmark sets (no augmented copies of them);
- ``train-jitter + tta``: both;
- ``tracked``: measured on the ``track`` region's landmarks only (what a stream's later frames give);
- ``--learn tracked``: trained on the ``track`` region's landmarks instead of the detected ones; ``both``: on
  both (each with its augmented copies).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.signer_probe import SIGNERS, features, train_mlp  # noqa: E402
from edgesign.hands import HandStage, Roi, as_rgb, roi_from_landmarks  # noqa: E402
from edgesign.preprocess import open_image  # noqa: E402
from edgesign.training.handdata import extract_folder  # noqa: E402
from edgesign.training.landmarks import RECIPE_HAND_STAGE, block_split, relabel, union_classes  # noqa: E402

FLEX_12 = {"aug": (0.1, 10.0, 8.0, 12.0)}
_STAGE: HandStage | None = None


def regions(landmarks: np.ndarray) -> list[Roi]:
    r = roi_from_landmarks(landmarks)
    return [r, Roi(r.cx, r.cy, r.size * 1.15, r.rotation + math.radians(8)),
            Roi(r.cx, r.cy, r.size * 0.9, r.rotation - math.radians(8)),
            Roi(r.cx + 0.05 * r.size, r.cy - 0.05 * r.size, r.size, r.rotation)]


def _init() -> None:
    global _STAGE
    _STAGE = HandStage(RECIPE_HAND_STAGE, threads=1)


def _rerun(job: tuple[str, np.ndarray]) -> np.ndarray:
    """(4, 21 world + 21 image + handedness) for one photo."""
    path, landmarks = job
    image = as_rgb(open_image(path))
    light = _STAGE.light_for(image)
    out = np.zeros((4, 21 * 6 + 1), np.float32)
    for k, roi in enumerate(regions(landmarks)):
        hand = _STAGE.landmarks.run(image, roi, "track", light)
        out[k] = np.concatenate([hand.world.ravel(), hand.landmarks.ravel(), [hand.right]])
    return out


def rerun_sets(name: str, cache: Path):
    """The signer's detected HandSet and its four re-run sets (same photos; only those with a hand)."""
    s = extract_folder(SIGNERS[name], RECIPE_HAND_STAGE)
    path = cache / f"{name}.npy"
    found = np.flatnonzero(s.found)
    if not path.exists():
        t0 = time.perf_counter()
        with get_context("spawn").Pool(2, initializer=_init) as pool:
            rows = pool.map(_rerun, [(s.files[i], s.image[i]) for i in found], chunksize=32)
        np.save(path, np.stack(rows))
        print(f"{name}: {len(found)} photos re-run on 4 regions in {time.perf_counter() - t0:.0f} s", flush=True)
    rows = np.load(path)
    reruns = []
    for k in range(4):
        world, image = s.world.copy(), s.image.copy()
        right = s.right.copy()
        world[found] = rows[:, k, :63].reshape(-1, 21, 3)
        image[found] = rows[:, k, 63:126].reshape(-1, 21, 3)
        right[found] = rows[:, k, 126]
        reruns.append(replace(s, world=world, image=image, right=right))
    return s, reruns


def cross(train, train_reruns, held, held_reruns, learn: str, seed: int = 0) -> dict[str, float]:
    classes = union_classes([train])
    la, lb = relabel(train, classes), relabel(held, classes)
    tr, _ = block_split(la, 0.15)
    tr = tr[train.found[tr] & (la[tr] != classes.index("Nothing"))]
    x = features(train_reruns[0] if learn == "tracked" else train, tr, FLEX_12, 4, np.random.default_rng(0))
    y = np.tile(la[tr], 5)
    if learn == "both":
        x = np.concatenate([x, features(train_reruns[0], tr, FLEX_12, 4, np.random.default_rng(1))])
        y = np.tile(y, 2)
    if learn == "jitter":
        x = np.concatenate([x, *[features(r, tr, FLEX_12) for r in train_reruns]])
        y = np.concatenate([y, np.tile(la[tr], len(train_reruns))])
    mean, std = x.mean(0), x.std(0) + 1e-6
    net = train_mlp((x - mean) / std, y, len(classes), seed=seed)
    hand = np.flatnonzero((lb >= 0) & held.found)
    no_hand = ((lb >= 0) & ~held.found & (lb == classes.index("Nothing"))).sum()
    probs = [net((features(s, hand, FLEX_12) - mean) / std) for s in [held, *held_reruns]]

    def accuracy(p: np.ndarray) -> float:
        return float(((p.argmax(1) == lb[hand]).sum() + no_hand) / (lb >= 0).sum())
    return {"detected": accuracy(probs[0]), "tta": accuracy(np.mean(probs, 0)), "tracked": accuracy(probs[1])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "edgesign-roi-jitter"))
    ap.add_argument("--learn", default="detected,jitter,tracked", help="what the classifier learns from")
    ap.add_argument("--seed", type=int, default=0, help="the MLP's seed")
    args = ap.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    sets = {name: rerun_sets(name, cache) for name in SIGNERS}
    print(f"{'trained on':36s} {'measured':10s} {'1 -> 2 %':>9s} {'2 -> 1 %':>9s} {'mean %':>7s}")
    names = {"detected": "detected landmarks", "jitter": "detected + 4 re-run regions",
             "tracked": "the tracked region's", "both": "detected + tracked"}
    for learn in args.learn.split(","):
        a = cross(*sets["signer1"], *sets["signer2"], learn, args.seed)
        b = cross(*sets["signer2"], *sets["signer1"], learn, args.seed)
        for key in ("detected", "tta", "tracked"):
            name = f"{names[learn]}, seed {args.seed}"
            print(f"{name:36s} {key:10s} {100 * a[key]:9.2f} {100 * b[key]:9.2f} {50 * (a[key] + b[key]):7.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
