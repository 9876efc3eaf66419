"""Leave-one-signer-out probes: which change to the landmark features or their augmentation moves cross-signer accuracy?

A quick numpy MLP (256-128, Adam, 30 epochs, no dropout: not the product's Keras trainer, which
`bench/signer_bench.py` measures) trained on one signer's landmarks (the cached extraction), measured as a
pipeline (no hand = `Nothing`) on every photo of the other signer whose class it knows, both ways. Variants:
the augmentation's strength, the handedness rule (MediaPipe's score is unsure for some letters, and a wrong
mirror flips the palm-normal axis of every landmark), subsets of the feature vector, and an unsupervised
adaptation (the held-out signer's features standardized with its own statistics; labels only pick which frames). Compare rows within
one run: the probe's absolute figures sit a few points under the Keras trainer's.

    python bench/signer_probe.py [--variants baseline,strong-aug,...] [--palm lite|full] [--landmarks lite|full] [--zoom-out 0.5]

(the defaults: the recipe's hand stage; the figures in RESULTS before it changed were taken with
`--landmarks lite --zoom-out 0`)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.signer_bench import add_hand_stage_options, hand_stage  # noqa: E402
from edgesign.enrol import softmax  # noqa: E402
from edgesign.handfeatures import N_FEATURES, hand_features  # noqa: E402
from edgesign.training.handdata import extract_folder  # noqa: E402
from edgesign.training.landmarks import augment_hand, block_split, relabel, union_classes  # noqa: E402

DATA = Path(os.environ.get("EDGESIGN_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SIGNERS = {"signer1": DATA / "asl-photos" / "train", "signer2": DATA / "asl-second-signer"}
ORIENTATION = np.r_[63:74]  # the palm frame's rotation (9) and its direction in the image (2)
VARIANTS = {
    "baseline": {},
    "strong-aug": {"aug": (0.2, 25.0, 20.0)},
    "strong-aug-x8": {"aug": (0.2, 25.0, 20.0), "copies": 8},
    # the recipe's augmentation plus every joint bent a little more or less (degrees: flex_fingers)
    "flex-8": {"aug": (0.1, 10.0, 8.0, 8.0)},
    "flex-12": {"aug": (0.1, 10.0, 8.0, 12.0)},
    "flex-15": {"aug": (0.1, 10.0, 8.0, 15.0)},
    "flex-15-seed-1": {"aug": (0.1, 10.0, 8.0, 15.0), "seeds": (1,)},
    "flex-15-x8": {"aug": (0.1, 10.0, 8.0, 15.0), "copies": 8},
    "flex-12-x8": {"aug": (0.1, 10.0, 8.0, 12.0), "copies": 8},
    "flex-12-tta-8": {"aug": (0.1, 10.0, 8.0, 12.0), "tta": 8},  # ... and the held-out hands classified 9 times
    "flex-12-bones-20": {"aug": (0.2, 10.0, 8.0, 12.0)},
    "flex-12-turn-20": {"aug": (0.1, 20.0, 8.0, 12.0)},
    "flex-12-thumb-6": {"aug": (0.1, 10.0, 8.0, 12.0, 6.0)},  # ... the thumb's joints bent by another angle
    "flex-12-thumb-24": {"aug": (0.1, 10.0, 8.0, 12.0, 24.0)},
    # the features from the image landmarks (x, y in pixels, the model's relative depth) instead of the world ones
    "image-points": {"aug": (0.1, 10.0, 8.0, 12.0), "points": "image"},
    "flex-25": {"aug": (0.1, 10.0, 8.0, 25.0)},
    "flex-12-in-drop": {"aug": (0.1, 10.0, 8.0, 12.0), "in_drop": 0.2},  # dropout on the input features
    "flex-12-mixup": {"aug": (0.1, 10.0, 8.0, 12.0), "mixup": 0.4},  # hands of two letters blended, labels alike
    "flex-12-epochs-10": {"aug": (0.1, 10.0, 8.0, 12.0), "epochs": 10},
    "always-right": {"right": lambda r: 1.0},
    "flex-12-always-right": {"aug": (0.1, 10.0, 8.0, 12.0), "right": lambda r: 1.0},  # both signers sign right-handed
    # the training signer's frames all learned as right hands (it signs right-handed), the held-out ones as called
    "flex-12-train-right": {"aug": (0.1, 10.0, 8.0, 12.0), "train_right": True},
    # the held-out signer's handedness as a stream would see it: each letter's frames in shooting order, the score
    # a running mean (weight of the new frame) from the letter's first frame with a hand
    "flex-12-stream-right-0.2": {"aug": (0.1, 10.0, 8.0, 12.0), "stream_right": 0.2},
    "flex-12-stream-right-0.1": {"aug": (0.1, 10.0, 8.0, 12.0), "stream_right": 0.1},
    "mirror-if-sure": {"right": lambda r: 0.0 if r < 0.2 else 1.0},
    "no-orientation": {"drop": ORIENTATION},
    "invariant-only": {"keep": np.r_[74:N_FEATURES]},
    "local-only": {"keep": np.r_[0:63]},
    "seed-1": {"seeds": (1,)},  # the baseline with another seed: the run-to-run noise
    "ensemble-5": {"seeds": (0, 1, 2, 3, 4)},  # the mean of five MLPs' probabilities
    # unsupervised adaptation to the held-out signer: its features standardized with its own statistics, taken
    # from some of its frames with a hand (no labels): all of them, 300 at random, or only 5 letters' frames
    # the training signer's `Nothing` photos that show a hand (signer 1's: a hand at rest, open or closed) left
    # out: `Nothing` is then only "no hand found"
    "nothing-is-no-hand": {"nothing_hands": False},
    "adapt-all": {"adapt": lambda y, rng: np.arange(len(y))},
    "adapt-mean-all": {"adapt": lambda y, rng: np.arange(len(y)), "adapt_std": False},
    "adapt-300": {"adapt": lambda y, rng: rng.choice(len(y), min(300, len(y)), replace=False)},
    "adapt-5-letters": {"adapt": lambda y, rng: np.flatnonzero(np.isin(y, rng.choice(np.unique(y), 5, replace=False)))},
}

VARIANTS["flex-12-seed-1"] = {"aug": (0.1, 10.0, 8.0, 12.0), "seeds": (1,)}
for _decay in (0.02, 0.05, 0.1, 0.2, 0.5, 1.0):  # AdamW-style weight decay on the MLP's weights, two seeds
    VARIANTS[f"flex-12-decay-{_decay}"] = {"aug": (0.1, 10.0, 8.0, 12.0), "decay": _decay}
    VARIANTS[f"flex-12-decay-{_decay}-seed-1"] = {"aug": (0.1, 10.0, 8.0, 12.0), "decay": _decay, "seeds": (1,)}


def points(s, v):
    """The 3-D landmarks the features are taken from: the world landmarks (metres), or the image landmarks (pixels,
    depth in the same scale)."""
    return s.image if v.get("points") == "image" else s.world


def features(s, idx, v, copies=0, rng=None):
    right = v.get("right", lambda r: r)
    rows = [np.stack([hand_features(points(s, v)[i], s.image[i, :, :2], right(s.right[i])) for i in idx])]
    rows += [features_augmented(s, idx, v, rng) for _ in range(copies)]
    x = np.concatenate(rows)
    if "keep" in v:
        x = x[:, v["keep"]]
    if "drop" in v:
        x = np.delete(x, v["drop"], axis=1)
    return x


def features_augmented(s, idx, v, rng):
    """One augmented copy of each hand in ``idx`` (the variant's augmentation), as features."""
    right = v.get("right", lambda r: r)
    return np.stack([hand_features(*augment_hand(points(s, v)[i], s.image[i, :, :2], rng, *v.get("aug", ())), right(s.right[i]))
                     for i in idx])


def train_mlp(x, y, n_classes, epochs=30, lr=2e-3, batch=256, seed=0, decay=0.0, in_drop=0.0, mixup=0.0):
    """A 256-128 ReLU MLP by Adam; ``decay``: decoupled weight decay (AdamW, per step, times lr), ``in_drop``: dropout
    on the input features, ``mixup``: pairs of hands blended with a Beta(mixup, mixup) weight, their labels alike."""
    rng = np.random.default_rng(seed)
    dims = [x.shape[1], 256, 128, n_classes]
    p = [(rng.normal(size=(a, b)) * np.sqrt(2 / a)).astype(np.float32) for a, b in zip(dims[:-1], dims[1:])]
    p += [np.zeros(b, np.float32) for b in dims[1:]]
    m, v, t, onehot = [np.zeros_like(w) for w in p], [np.zeros_like(w) for w in p], 0, np.eye(n_classes, dtype=np.float32)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for s in range(0, len(x), batch):
            i = order[s:s + batch]
            xb, target = x[i], onehot[y[i]]
            if mixup:
                lam = rng.beta(mixup, mixup, (len(i), 1)).astype(np.float32)
                j = rng.permutation(len(i))
                xb, target = lam * xb + (1 - lam) * xb[j], lam * target + (1 - lam) * target[j]
            if in_drop:
                xb = xb * (rng.random(xb.shape) >= in_drop) / (1 - in_drop)
            h1p = xb @ p[0] + p[3]
            h1 = np.maximum(h1p, 0)
            h2p = h1 @ p[1] + p[4]
            h2 = np.maximum(h2p, 0)
            g = (softmax(h2 @ p[2] + p[5]) - target) / len(i)
            g2 = g @ p[2].T * (h2p > 0)
            g1 = g2 @ p[1].T * (h1p > 0)
            grads = [xb.T @ g1, h1.T @ g2, h2.T @ g, g1.sum(0), g2.sum(0), g.sum(0)]
            t += 1
            for k, gk in enumerate(grads):
                m[k] = 0.9 * m[k] + 0.1 * gk
                v[k] = 0.999 * v[k] + 0.001 * gk ** 2
                p[k] -= lr * (m[k] / (1 - 0.9 ** t)) / (np.sqrt(v[k] / (1 - 0.999 ** t)) + 1e-8)
                if decay and k < 3:
                    p[k] -= lr * decay * p[k]
    return lambda z: softmax(np.maximum(np.maximum(z @ p[0] + p[3], 0) @ p[1] + p[4], 0) @ p[2] + p[5])


def streamed_handedness(s, weight: float) -> np.ndarray:
    """Each class's handedness scores, in file (shooting) order, as a running mean over its frames with a hand."""
    right = s.right.astype(np.float64)
    for c in np.unique(s.labels):
        mean = None
        for i in np.flatnonzero((s.labels == c) & s.found):
            mean = right[i] if mean is None else (1 - weight) * mean + weight * right[i]
            right[i] = mean
    return right.astype(s.right.dtype)


def cross_signer(train, held, v) -> float:
    classes = union_classes([train])
    la, lb = relabel(train, classes), relabel(held, classes)
    tr, _ = block_split(la, 0.15)
    tr = tr[train.found[tr]]
    if not v.get("nothing_hands", True):
        tr = tr[la[tr] != classes.index("Nothing")]
    copies = v.get("copies", 4)
    x = features(train, tr, {**v, "right": lambda r: 1.0} if v.get("train_right") else v, copies, np.random.default_rng(0))
    y = np.tile(la[tr], copies + 1)
    mean, std = x.mean(0), x.std(0) + 1e-6
    net_options = {k: v[k] for k in ("decay", "in_drop", "mixup", "epochs") if k in v}
    nets = [train_mlp((x - mean) / std, y, len(classes), seed=seed, **net_options) for seed in v.get("seeds", (0,))]

    def predict(z):
        return np.mean([net(z) for net in nets], axis=0)
    if "stream_right" in v:
        held = replace(held, right=streamed_handedness(held, v["stream_right"]))
    hand = np.flatnonzero((lb >= 0) & held.found)
    no_hand = np.flatnonzero((lb >= 0) & ~held.found)
    z = features(held, hand, v)
    if "adapt" in v:  # the training signer's statistics are replaced by the held-out signer's own
        pick = z[v["adapt"](lb[hand], np.random.default_rng(1))]
        mean, std = pick.mean(0), (pick.std(0) + 1e-6 if v.get("adapt_std", True) else std)
    probs = predict((z - mean) / std)
    if "tta" in v:  # test-time augmentation: the mean over the hand and that many augmented copies of it
        zs = features(held, hand, v, v["tta"], np.random.default_rng(2)).reshape(v["tta"] + 1, len(hand), -1)
        probs = np.mean([predict((zk - mean) / std) for zk in zs], axis=0)
    right = (probs.argmax(1) == lb[hand]).sum()
    right += (lb[no_hand] == classes.index("Nothing")).sum()
    return float(right / (lb >= 0).sum())


def thumb_side_report(args) -> None:
    """Does the hand's 3-D shape tell its handedness where the landmark model's score is wrong? Per signer and view
    (photographed: right hands; mirrored: left hands): how often the score is right, how often the thumb's knuckle
    lies on the side of the palm's normal (index x little-finger knuckle, from the wrist), and how often on the frames
    the score gets wrong."""
    for name, folder in SIGNERS.items():
        for mirror in (False, True):
            s = extract_folder(folder, hand_stage(args), mirror=mirror)
            idx = np.flatnonzero(s.found)
            p = s.world[idx] - s.world[idx, :1]
            side = np.einsum("ij,ij->i", np.cross(p[:, 5], p[:, 17]), p[:, 2]) > 0
            wrong = (s.right[idx] >= 0.5) == mirror
            print(f"{name} {'mirrored' if mirror else 'photographed'}: score right {100 * (1 - wrong.mean()):.2f} %, "
                  f"thumb on the normal's side {100 * side.mean():.2f} %, on the wrongly scored frames "
                  f"{100 * side[wrong].mean():.2f} %")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    add_hand_stage_options(ap)
    ap.add_argument("--thumb-side", action="store_true", help="only the handedness-geometry report (RESULTS)")
    args = ap.parse_args()
    if args.thumb_side:
        return thumb_side_report(args)
    sets = {k: extract_folder(v, hand_stage(args)) for k, v in SIGNERS.items()}  # extracted once, cached
    print(f"{'variant':16s} {'1 -> 2 %':>9s} {'2 -> 1 %':>9s} {'mean %':>7s} {'seconds':>8s}", flush=True)
    for name in args.variants.split(","):
        t0 = time.perf_counter()
        a = cross_signer(sets["signer1"], sets["signer2"], VARIANTS[name])
        b = cross_signer(sets["signer2"], sets["signer1"], VARIANTS[name])
        print(f"{name:16s} {100 * a:9.2f} {100 * b:9.2f} {50 * (a + b):7.2f} {time.perf_counter() - t0:8.0f}", flush=True)


if __name__ == "__main__":
    main()
