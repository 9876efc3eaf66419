"""Which personal head should enrolment fit? Variants selected on validation frames, then reported on the test.

Leave-one-signer-out as in `bench/enrol_bench.py`: a base pipeline trained on signer A, signer B enrolled. Per
letter, B's frames with a hand in shooting order: the first quarter gives the 10 enrolment frames (spread) and
the second quarter is the validation that chooses a variant; the row a variant is reported by is then
refitted on 10 frames spread over the whole first half and measured on the second half, as `enrol_bench`
does (the product's figure). Variants: the product's head (logistic, blended 0.8 with the base), that head on
the enrolled frames plus augmented copies (the trainer's hand augmentation: bones, 3-D turn, roll), other
blends, a nearest-neighbour vote on the enrolled frames, other L2 strengths.

    python bench/enrol_probe.py [--epochs 40] [--frames 10]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.enrol_bench import SIGNERS, base_and_enrolled, trained_base  # noqa: E402
from edgesign.enrol import BLEND, Personal, base_log_probabilities, blend_probabilities, fit_head  # noqa: E402
from edgesign.enrol_session import spread  # noqa: E402
from edgesign.handfeatures import hand_features  # noqa: E402
from edgesign.runtime import open_model  # noqa: E402
from edgesign.training.handdata import extract_folder  # noqa: E402
from edgesign.training.landmarks import augment_hand  # noqa: E402

VARIANTS = {
    "product": {},
    "augmented-x4": {"copies": 4},
    "blend-0.6": {"blend": 0.6},
    "blend-1.0": {"blend": 1.0},
    "l2-1e-2": {"l2": 1e-2},
    "l2-1e-4": {"l2": 1e-4},
    "knn-3": {"knn": 3},
    "corrects-base": {"corrects_base": True},
}


def frames_of(held, model):
    """Per letter the model knows: the held signer's (world, image xy, right) of frames with a hand, in order."""
    out = {}
    for c, name in enumerate(held.class_names):
        if name == "Nothing" or name not in model.labels:
            continue
        idx = [i for i in np.flatnonzero(held.labels == c) if held.found[i]]
        out[name] = [(held.world[i], held.image[i, :, :2], held.right[i]) for i in idx]
    return out


def fit(model, enrol: dict, v: dict, rng: np.random.Generator):
    """The variant's personal head as a function of (standardized features, base probabilities)."""
    letters = list(enrol)
    x, y = [], []
    for k, name in enumerate(letters):
        for w, im, r in enrol[name]:
            x.append(hand_features(w, im, r))
            y.append(k)
            for _ in range(v.get("copies", 0)):
                x.append(hand_features(*augment_hand(w, im, rng), r))
                y.append(k)
    z = (np.stack(x) - model.mean) / model.std
    y = np.array(y)
    classes = [model.labels.index(n) for n in letters]
    if "knn" in v:
        def knn(zq, base):
            near = np.argsort(((zq[:, None, :] - z[None]) ** 2).sum(-1), 1)[:, : v["knn"]]
            own = np.zeros_like(base)
            for row, idx in enumerate(near):
                np.add.at(own[row], np.array(classes)[y[idx]], 1.0 / v["knn"])
            return blend_probabilities(own, base, classes, BLEND)
        return knn
    offset = None
    if v.get("corrects_base"):
        offset = base_log_probabilities(np.stack([model.base_probabilities(f) for f in x]), classes)
    w, b = fit_head(z, y, len(letters), l2=v.get("l2", 1e-3), offset=offset)
    head = Personal(classes, w, b, v.get("blend", BLEND), bool(v.get("corrects_base")))
    return head.apply


def accuracy(model, head, frames: dict) -> float:
    x = np.stack([hand_features(*f) for v in frames.values() for f in v])
    truth = np.array([model.labels.index(k) for k, v in frames.items() for _ in v])
    base = np.stack([model.base_probabilities(f) for f in x])
    return float((head((x - model.mean) / model.std, base).argmax(1) == truth).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--base-on", choices=("other", "both"), default="other", help="other: the base is trained on the "
                    "other signer (a new user); both: on both signers (a user the base already reads well)")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    variants = {name: VARIANTS[name] for name in args.variants.split(",")}
    rows = {name: [] for name in variants}
    with tempfile.TemporaryDirectory() as tmp:
        for a, b in base_and_enrolled(args.base_on):
            model = open_model(trained_base(a, Path(tmp), args.epochs), threads=1)
            frames = frames_of(extract_folder(SIGNERS[b], model.settings), model)
            q = {k: len(v) // 4 for k, v in frames.items()}
            for name, v in variants.items():
                rng = np.random.default_rng(0)
                pick = {k: [f[i] for i in spread(q[k], args.frames)] for k, f in frames.items()}
                val = accuracy(model, fit(model, pick, v, rng), {k: f[q[k]: 2 * q[k]] for k, f in frames.items()})
                pick = {k: [f[i] for i in spread(len(f) // 2, args.frames)] for k, f in frames.items()}
                test = accuracy(model, fit(model, pick, v, rng), {k: f[len(f) // 2:] for k, f in frames.items()})
                rows[name].append((val, test))
                print(f"{a} -> {b} {name:13s} validation {100 * val:6.2f} %  test {100 * test:6.2f} %", flush=True)
    print(f"{'variant':13s} {'val 1->2':>9s} {'val 2->1':>9s} {'val mean':>9s} {'test 1->2':>10s} {'test 2->1':>10s}")
    for name, r in sorted(rows.items(), key=lambda kv: -np.mean([v for v, _ in kv[1]])):
        print(f"{name:13s} {100 * r[0][0]:9.2f} {100 * r[1][0]:9.2f} {50 * (r[0][0] + r[1][0]):9.2f} "
              f"{100 * r[0][1]:10.2f} {100 * r[1][1]:10.2f}")


if __name__ == "__main__":
    main()
