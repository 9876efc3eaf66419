"""Training throughput of every registered model on this machine, and edgesign's tf.data pipeline
against a plain ``model.fit`` on in-memory arrays of the same data, in the same run.

    python bench/train_bench.py [--steps 20] [--models resnet18,cnn]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("EDGESIGN_DATA", ROOT.parent / "shared" / "data"))
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from edgesign.data import load_dataset  # noqa: E402
from edgesign.preprocess import normalize  # noqa: E402
from edgesign.training import create_model, get_spec, list_models  # noqa: E402
from edgesign.training.augment import Augment  # noqa: E402
from edgesign.training.pipeline import make_dataset  # noqa: E402
from edgesign.training.tf_env import keras  # noqa: E402


def size_of(name: str) -> int:
    """Each model is timed at its registry's default input size (the size `edgesign train` uses)."""
    return get_spec(name).default_size


def _compile(name, pre, n_classes, weights: str | None = None):
    opts = {"weights": weights or "none"} if get_spec(name).transfer else {}
    model = create_model(name, pre.shape, n_classes, **opts)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    return model


def throughput(name: str, ds, batch: int, steps: int, augment: bool, weights: str | None = None) -> float:
    pre = get_spec(name).preprocess(size_of(name), 3)
    model = _compile(name, pre, len(ds.class_names), weights)
    data = make_dataset(ds, pre, batch, training=True, augment=Augment() if augment else None).repeat()
    t0 = time.perf_counter()
    model.fit(data, steps_per_epoch=3, epochs=1, verbose=0)  # warm-up (graph building)
    t0 = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    return steps * batch / (time.perf_counter() - t0)


def pipeline_vs_plain_fit(name: str, ds, batch: int, steps: int, rounds: int = 3) -> dict:
    """One model, fed alternately by in-memory float arrays (plain fit) and by edgesign's pipeline.

    Rounds alternate the two so both see the same machine state; the medians are compared.
    """
    pre = get_spec(name).preprocess(size_of(name), 3)
    model = _compile(name, pre, len(ds.class_names))
    n = steps * batch
    x = normalize(ds.images[:n], pre)
    y = keras.utils.to_categorical(ds.labels[:n], len(ds.class_names))
    part = ds.subset(np.arange(n))
    pipe = make_dataset(part, pre, batch, training=True).repeat()
    pipe_aug = make_dataset(part, pre, batch, training=True, augment=Augment()).repeat()
    model.fit(x[: 3 * batch], y[: 3 * batch], batch_size=batch, epochs=1, verbose=0)  # warm-up
    model.fit(pipe, steps_per_epoch=3, epochs=1, verbose=0)
    model.fit(pipe_aug, steps_per_epoch=3, epochs=1, verbose=0)
    times: dict[str, list[float]] = {"plain": [], "pipeline": [], "augmented": []}
    for _ in range(rounds):
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=True)
        times["plain"].append(n / (time.perf_counter() - t0))
        for key, data in (("pipeline", pipe), ("augmented", pipe_aug)):
            t0 = time.perf_counter()
            model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
            times[key].append(n / (time.perf_counter() - t0))
    med = {k: float(np.median(v)) for k, v in times.items()}
    return {"model": name, "plain_fit_arrays": round(med["plain"], 1), "edgesign_pipeline": round(med["pipeline"], 1),
            "edgesign_pipeline_augmented": round(med["augmented"], 1),
            "ratio": round(med["pipeline"] / med["plain"], 3), "rounds": rounds}


def _base_weights(name: str, size: int) -> str:
    """A local weights file for a transfer base (the same compute as ImageNet weights, no download)."""
    app = keras.applications.VGG16 if name.startswith("vgg16") else keras.applications.ResNet50
    path = Path(tempfile.mkdtemp()) / f"{name}_base.weights.h5"
    app(include_top=False, weights=None, input_shape=(size, size, 3)).save_weights(str(path))
    return str(path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--models", default=",".join(list_models(inputs="image")),
                    help="image models (the landmark classifier trains on cached landmarks: bench/signer_bench.py)")
    ap.add_argument("--compare", default="resnet18,cnn", help="models for the pipeline vs plain fit comparison")
    args = ap.parse_args()
    if not_images := [m for m in args.models.split(",") if get_spec(m).inputs != "image"]:
        ap.error(f"--models: {', '.join(not_images)} train on hand landmarks, not images")
    train_dir = DATA / "asl-photos" / "train"
    cache: dict[int, object] = {}

    def data_at(size: int):
        if size not in cache:
            cache[size] = load_dataset(train_dir, get_spec("cnn").preprocess(size, 3), progress=False)
        return cache[size]

    rows = []
    for name in args.models.split(","):
        ds = data_at(size_of(name))
        variants = [(name, None)]
        if get_spec(name).transfer:  # from scratch (--weights none), and frozen as with ImageNet weights
            variants = [(f"{name} (from scratch)", None), (f"{name} (frozen base)", _base_weights(name, size_of(name)))]
        for label, weights in variants:
            ips = throughput(name, ds, args.batch, args.steps, augment=True, weights=weights)
            rows.append({"model": label, "input": f"{size_of(name)}x{size_of(name)}x3", "train_images_per_s": round(ips, 1)})
            print(json.dumps(rows[-1]), file=sys.stderr)
    comparisons = []
    for name in args.compare.split(","):
        ds = data_at(size_of(name))
        steps = min(args.steps * 3, len(ds) // args.batch)
        comparisons.append(pipeline_vs_plain_fit(name, ds, args.batch, steps))
        print(json.dumps(comparisons[-1]), file=sys.stderr)
    print(json.dumps({"throughput": rows, "pipeline_vs_plain_fit": comparisons, "cpu_count": os.cpu_count()},
                     indent=2))


if __name__ == "__main__":
    main()
