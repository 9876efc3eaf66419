"""Raw probability vectors of models on photos, for comparing one machine's runtime with another's.

Run by ``bench/arm_verify.py`` with the same arguments on x86 and inside the emulated Pi:

    python bench/arm_probe.py --photos DIR --out probs.npz asl29-hands.tflite asl29.tflite

Uses the runtime only (numpy, Pillow, LiteRT or tflite-runtime): no TensorFlow, nothing from bench/.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np

from edgesign.data import IMAGE_SUFFIXES
from edgesign.runtime import open_model


def probe(model_name: str, photos: list[Path]) -> dict[str, np.ndarray]:
    """Probabilities (photos x classes), and for hand pipelines which photos had a hand found."""
    model = open_model(model_name, warn=False)
    rows, found = [], []
    for path in photos:
        rows.append(np.asarray(model.classify_file(path), np.float32))
        last = getattr(model, "last", None)
        found.append(last is None or last.hand is not None)
    out = {"probs": np.stack(rows), "hand_found": np.asarray(found)}
    details = model.interpreter.get_output_details()[0]
    out["output_scale"] = np.float32(details["quantization"][0] or 0.0)
    out["labels"] = np.asarray(model.labels)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--photos", required=True, help="folder of photos (searched recursively)")
    ap.add_argument("--out", required=True, help=".npz to write")
    args = ap.parse_args(argv)
    root = Path(args.photos)
    photos = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    arrays: dict[str, np.ndarray] = {"photos": np.asarray([str(p.relative_to(root)) for p in photos])}
    for name in args.models:
        for key, value in probe(name, photos).items():
            arrays[f"{name}:{key}"] = value
    import edgesign.interpreter as interp

    arrays["machine"] = np.asarray(json.dumps({
        "machine": platform.machine(), "python": platform.python_version(), "numpy": np.__version__,
        "backend": interp.load_backend("auto").name}))
    np.savez(args.out, **arrays)
    print(f"probed {len(photos)} photos with {len(args.models)} models on {platform.machine()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
