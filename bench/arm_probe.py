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
from edgesign.handfeatures import N_FEATURES
from edgesign.runtime import open_model


def probe(model_name: str, photos: list[Path], reference: dict | None = None) -> dict[str, np.ndarray]:
    """Probabilities (photos x classes); for hand pipelines also which photos had a hand, the landmark features,
    and the classifier alone on ``reference``'s features (another machine's), which isolates the int8 stage."""
    model = open_model(model_name, warn=False)
    rows, found, features = [], [], []
    for path in photos:
        rows.append(np.asarray(model.classify_file(path), np.float32))
        last = getattr(model, "last", None)
        found.append(last is None or last.hand is not None)
        if last is not None:
            features.append(last.features if last.features is not None else np.full(N_FEATURES, np.nan, np.float32))
    out = {"probs": np.stack(rows), "hand_found": np.asarray(found)}
    if features:
        out["features"] = np.stack(features).astype(np.float32)
        ref = reference[f"{model_name}:features"] if reference is not None else out["features"]
        out["classifier_on_reference"] = np.stack([
            model.classify_features(f) if np.isfinite(f).all() else np.zeros(len(model.labels), np.float32)
            for f in ref])
    details = model.interpreter.get_output_details()[0]
    out["output_scale"] = np.float32(details["quantization"][0] or 0.0)
    out["labels"] = np.asarray(model.labels)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--photos", required=True, help="folder of photos (searched recursively)")
    ap.add_argument("--out", required=True, help=".npz to write")
    ap.add_argument("--reference", help="another machine's .npz: its landmark features go through this classifier")
    args = ap.parse_args(argv)
    reference = dict(np.load(args.reference)) if args.reference else None
    root = Path(args.photos)
    photos = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    arrays: dict[str, np.ndarray] = {"photos": np.asarray([str(p.relative_to(root)) for p in photos])}
    for name in args.models:
        for key, value in probe(name, photos, reference).items():
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
