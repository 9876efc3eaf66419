"""Small hands: the whole pipeline on photos shrunk (and framed wider), side by side with the photos as taken.

A photo is placed in the middle of a grey canvas ``pad`` times its side (the hand becomes a smaller part of the
scene) and the canvas shrunk to ``side`` x ``side`` pixels: ``64x1`` is the photo at 64 px, ``64x2`` a hand about
a quarter of a 64-px frame. Reported per dataset: hands found (the letters' photos; `Nothing` apart) and the
pipeline's accuracy (no hand found = `Nothing`, as in `edgesign evaluate`). Every ``--step``-th photo of each class.

    python bench/small_hands.py --model models/asl29-hands.tflite --data ../shared/data/asl-photos/test \\
        --data ../shared/data/asl-second-signer --size 224x1 --size 96x1 --size 64x1 --size 32x1 --size 64x2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from edgesign.data import list_image_folder, model_class_index  # noqa: E402
from edgesign.runtime import open_model  # noqa: E402


def shrunk(path: Path, side: int, pad: float) -> Image.Image:
    """The photo framed ``pad`` times wider on grey, shrunk to ``side`` x ``side``."""
    with Image.open(path) as img:
        img = img.convert("RGB")
    if pad > 1:
        canvas = Image.new("RGB", (round(img.width * pad), round(img.height * pad)), (40, 40, 40))
        canvas.paste(img, ((canvas.width - img.width) // 2, (canvas.height - img.height) // 2))
        img = canvas
    return img.resize((side, side), Image.BILINEAR)


def measure(model, data: Path, side: int, pad: float, step: int) -> tuple[float, float, int]:
    """(hands found among the letters' photos, pipeline accuracy, photos) at one size."""
    names, files = list_image_folder(data)
    index = model_class_index(names, model.labels, str(data))
    by_class = [[(path, label) for path, label in files if label == c] for c in range(len(names))]
    files = [item for members in by_class for item in members[::step]]  # every step-th photo of each class
    found, correct, letters = 0, 0, 0
    for path, label in files:
        prepared = model.prepare(shrunk(path, side, pad))
        correct += int(np.argmax(model.classify_input(prepared))) == index[label]
        if index[label] != model.no_hand:
            letters += 1
            found += prepared.hand is not None
    return found / max(letters, 1), correct / len(files), len(files)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/asl29-hands.tflite")
    ap.add_argument("--data", action="append", required=True)
    ap.add_argument("--size", action="append", required=True, help="SIDExPAD, e.g. 64x1 or 64x2")
    ap.add_argument("--step", type=int, default=3, help="every STEP-th photo of each class")
    args = ap.parse_args()
    model = open_model(args.model)
    print(f"{'data':40s} {'size':>6s} {'frame':>6s} {'hands found':>12s} {'accuracy':>9s} {'photos':>7s}")
    for d in args.data:
        for spec in args.size:
            side, pad = spec.split("x")
            found, acc, n = measure(model, Path(d), int(side), float(pad), args.step)
            print(f"{d:40s} {int(side):4d}px {float(pad):5.1f}x {100 * found:10.2f} % {100 * acc:7.2f} % {n:7d}",
                  flush=True)


if __name__ == "__main__":
    main()
