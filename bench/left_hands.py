"""Left-handed signers, measured side by side: each model on each dataset as photographed and mirrored.

A left-handed signer's letters are a right-handed signer's mirrored left to right, so a folder of photos
mirrored (written once as lossless PNG into a temporary folder) stands in for a left-handed person with the
same hand. Every figure is the whole pipeline's (``edgesign evaluate``'s): a photo without a found hand counts
as `Nothing`.

    python bench/left_hands.py --model models/asl29-hands.tflite [--model OTHER.tflite] \\
        --data ../shared/data/asl-photos/test [--data ../shared/data/asl-second-signer]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageOps  # noqa: E402

from edgesign.api import evaluate_model  # noqa: E402
from edgesign.data import list_image_folder  # noqa: E402
from edgesign.runtime import open_model  # noqa: E402


def mirror_folder(src: Path, dst: Path) -> Path:
    """Every photo of a class-folder dataset, mirrored left to right, as PNG under ``dst``."""
    class_names, files = list_image_folder(src)
    for path, label in files:
        out = dst / class_names[label] / (path.stem + ".png")
        out.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(path) as img:
            ImageOps.mirror(img.convert("RGB")).save(out)
    return dst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--data", action="append", required=True)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        mirrored = {d: mirror_folder(Path(d), Path(tmp) / str(i)) for i, d in enumerate(args.data)}
        for model in args.model:
            opened = open_model(model)
            for d in args.data:
                plain = evaluate_model(opened, d)[0].accuracy
                left = evaluate_model(opened, str(mirrored[d]))[0].accuracy
                rows.append((model, d, plain, left))
    print(f"{'model':40s} {'data':40s} {'as photographed':>16s} {'mirrored':>9s} {'difference':>11s}")
    for model, d, plain, left in rows:
        print(f"{model:40s} {d:40s} {100 * plain:15.2f} % {100 * left:7.2f} % {100 * (left - plain):+9.2f} pt")


if __name__ == "__main__":
    main()
