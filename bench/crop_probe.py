"""Leave-one-signer-out probe of the image models on hand crops, alone and fused with the landmark classifier.

The issue's open lead: does the hand's picture, cropped by the hand stage, carry what the landmarks miss
across signers? For each direction: crops of every photo with a hand (square box around the 21 image
landmarks, 20 % padding, left hands mirrored to right like the landmark features), the registry's `cnn`
trained on one signer's crops (colour or grayscale, brightness/contrast/zoom/rotation augmentation, best epoch
by the last 15 % of each class in shooting order), measured as a pipeline on every photo of the other signer
(no hand = `Nothing`); then the mean of its probabilities and the landmark probe's (`bench/signer_probe.py`).

    python bench/crop_probe.py [--size 64] [--epochs 15] [--gray] [--landmarks lite --zoom-out 0 (the old stage)]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.signer_bench import add_hand_stage_options, hand_stage  # noqa: E402
from bench.signer_probe import VARIANTS, features, train_mlp  # noqa: E402
from edgesign.handcrop import hand_crop  # noqa: E402
from edgesign.preprocess import open_image  # noqa: E402
from edgesign.training.handdata import extract_folder  # noqa: E402
from edgesign.training.landmarks import block_split, relabel, union_classes  # noqa: E402

DATA = Path(os.environ.get("EDGESIGN_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SIGNERS = {"signer1": DATA / "asl-photos" / "train", "signer2": DATA / "asl-second-signer"}


def crop_pixels(path: str, landmarks: np.ndarray, right: float, size: int, gray: bool) -> np.ndarray:
    crop = hand_crop(open_image(path).convert("RGB"), landmarks, right, size)  # the product's crop
    a = np.asarray(crop.convert("L") if gray else crop, np.uint8)
    return a[..., None] if gray else a


def crops(s, idx, size, gray):
    return np.stack([crop_pixels(s.files[i], s.image[i], s.right[i], size, gray) for i in idx])


def train_cnn(x, y, x_val, y_val, n_classes, epochs):
    from edgesign.training.registry import create_model
    from edgesign.training.tf_env import keras, tf

    tf.keras.utils.set_random_seed(0)
    augment = keras.Sequential([keras.layers.RandomRotation(0.05), keras.layers.RandomZoom(0.15),
                                keras.layers.RandomTranslation(0.08, 0.08), keras.layers.RandomContrast(0.4),
                                keras.layers.RandomBrightness(0.3, value_range=(0, 1))])
    base = create_model("cnn", x.shape[1:], n_classes)
    inp = keras.Input(x.shape[1:])
    model = keras.Model(inp, base(augment(inp)))
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    with tempfile.TemporaryDirectory() as tmp:
        weights = str(Path(tmp) / "best.weights.h5")
        best = keras.callbacks.ModelCheckpoint(weights, monitor="val_accuracy", save_best_only=True,
                                               save_weights_only=True)
        model.fit(x / 255.0, y, validation_data=(x_val / 255.0, y_val), epochs=epochs, batch_size=64, verbose=2,
                  callbacks=[best])
        model.load_weights(weights)
    return lambda z: model.predict(z / 255.0, batch_size=256, verbose=0)


def direction(train, held, args) -> dict[str, float]:
    classes = union_classes([train])
    la, lb = relabel(train, classes), relabel(held, classes)
    tr, va = block_split(la, 0.15)
    tr, va = tr[train.found[tr]], va[train.found[va]]
    cnn = train_cnn(crops(train, tr, args.size, args.gray), la[tr], crops(train, va, args.size, args.gray), la[va],
                    len(classes), args.epochs)
    x = features(train, tr, VARIANTS["baseline"], 4, np.random.default_rng(0))
    mean, std = x.mean(0), x.std(0) + 1e-6
    mlp = train_mlp((x - mean) / std, np.tile(la[tr], 5), len(classes))
    hand = np.flatnonzero((lb >= 0) & held.found)
    no_hand_right = int((lb[(lb >= 0) & ~held.found] == classes.index("Nothing")).sum())
    p_crop = cnn(crops(held, hand, args.size, args.gray))
    p_marks = mlp((features(held, hand, VARIANTS["baseline"]) - mean) / std)
    n = int((lb >= 0).sum())
    score = lambda p: float(((p.argmax(1) == lb[hand]).sum() + no_hand_right) / n)  # noqa: E731
    return {"crop": score(p_crop), "landmarks": score(p_marks), "fused": score(p_crop + p_marks)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--gray", action="store_true")
    add_hand_stage_options(ap)
    args = ap.parse_args()
    sets = {k: extract_folder(v, hand_stage(args)) for k, v in SIGNERS.items()}
    rows = []
    for a, b in (("signer1", "signer2"), ("signer2", "signer1")):
        t0 = time.perf_counter()
        rows.append((a, b, direction(sets[a], sets[b], args), time.perf_counter() - t0))
    print(f"crops {args.size}x{args.size} {'gray' if args.gray else 'colour'}, {args.epochs} epochs")
    print(f"{'trained on':10s} {'measured on':11s} {'crop cnn %':>10s} {'landmarks %':>11s} {'fused %':>8s} {'seconds':>8s}")
    for a, b, r, sec in rows:
        print(f"{a:10s} {b:11s} {100 * r['crop']:10.2f} {100 * r['landmarks']:11.2f} {100 * r['fused']:8.2f} {sec:8.0f}")


if __name__ == "__main__":
    main()
