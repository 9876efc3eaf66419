"""The Python API behind the runtime commands: usable on its own, no TensorFlow needed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from .certify import compare, enforce, format_comparison, validate_budget, validate_floor
from .data import Dataset, load_dataset
from .evaluate import Metrics, compute_metrics, write_metrics_files
from .runtime import EdgeModel


def _dataset_for(model: EdgeModel, data: str, split: str = "auto") -> Dataset:
    ds = load_dataset(data, model.preprocess, split=split)
    ds.check_classes(model.labels if model.metadata.get("labels") else None, len(model.labels))
    return ds


def evaluate_model(model: str | EdgeModel | None, data: str, out_dir: str | None = None, split: str = "auto",
                   backend: str = "auto", threads: int | None = None) -> tuple[Metrics, dict[str, Path]]:
    """Evaluate a .tflite model on a dataset; writes metrics JSON and a confusion-matrix PNG."""
    m = model if isinstance(model, EdgeModel) else EdgeModel(model, backend=backend, threads=threads)
    ds = _dataset_for(m, data, split)
    probs = m.probabilities_batch(ds.images, progress=f"evaluating {m.path.name}")
    metrics = compute_metrics(ds.labels, probs, ds.class_names, ds.source)
    folder = Path(out_dir) if out_dir else m.path.parent / f"{m.path.stem}_eval"
    return metrics, write_metrics_files(metrics, folder)


def float_probabilities(against: str, ds: Dataset) -> np.ndarray:
    """Probabilities of the float model: a float .tflite (runtime) or a Keras model/run folder (TensorFlow)."""
    if against.endswith(".tflite"):
        ref = EdgeModel(against, warn=False)
        return ref.probabilities_batch(ds.images, progress=f"evaluating {Path(against).name}")
    from .extras import require_train

    require_train(f"checking against the Keras model {against}")
    from edgesign.training.train import load_run, predict_probs

    model, pre, _, _ = load_run(against)
    return predict_probs(model, ds, pre)


def check_pair(model: str, against: str, data: str, max_drop: Any, min_accuracy: Any = None) -> dict[str, Any]:
    """The CI gate for an existing pair: raises GateFailed when the drop exceeds ``max_drop`` points
    or the quantized accuracy is under ``min_accuracy`` (a fraction)."""
    budget = validate_budget(max_drop)
    floor = validate_floor(min_accuracy)
    quant = EdgeModel(model)
    ds = _dataset_for(quant, data)
    q = quant.probabilities_batch(ds.images, progress=f"evaluating {quant.path.name}")
    f = float_probabilities(against, ds)
    result = compare(ds.labels, f, q, ds.class_names)
    print(format_comparison(result, Path(against).name, quant.path.name), file=sys.stderr)
    result.update({"data": ds.source, "digest": ds.digest, "max_drop": budget, "min_accuracy": floor})
    enforce(result, budget, f"{quant.path.name} vs {Path(against).name}", floor)
    floor_note = f", accuracy {100 * result['quantized_accuracy']:.2f} % >= {100 * floor:.2f} %" if floor is not None else ""
    print(f"pass: drop {result['drop_points']:.2f} points within the budget of {budget}{floor_note}", file=sys.stderr)
    return result
