"""The Python API behind the runtime commands: usable on its own, no TensorFlow needed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from .certify import compare, enforce, format_comparison, validate_budget, validate_floor
from .data import Dataset, load_dataset
from .errors import EdgesignError
from .evaluate import Metrics, compute_metrics, write_metrics_files
from .runtime import EdgeModel, open_model


def _dataset_for(model: EdgeModel, data: str, split: str = "auto") -> Dataset:
    ds = load_dataset(data, model.preprocess, split=split)
    ds.check_classes(model.labels if model.metadata.get("labels") else None, len(model.labels))
    return ds


def evaluate_model(model: str | EdgeModel | None, data: str, out_dir: str | None = None, split: str = "auto",
                   backend: str = "auto", threads: int | None = None,
                   hand_models: str | None = None) -> tuple[Metrics, dict[str, Path]]:
    """Evaluate a .tflite model (or hand pipeline) on a dataset; writes metrics JSON and a confusion-matrix PNG."""
    m = model if model is not None and not isinstance(model, str) else open_model(model, backend=backend,
                                                                                 threads=threads, hand_models=hand_models)
    if isinstance(m, EdgeModel):
        ds = _dataset_for(m, data, split)
        probs = m.probabilities_batch(ds.images, progress=f"evaluating {m.path.name}")
        metrics = compute_metrics(ds.labels, probs, ds.class_names, ds.source)
    else:
        files, labels = pipeline_files(m.labels, data)
        probs = m.probabilities_files(files, progress=f"evaluating {m.path.name} (hand stage + classifier)")
        metrics = compute_metrics(labels, probs, m.labels, str(data))
    folder = Path(out_dir) if out_dir else m.path.parent / f"{m.path.stem}_eval"
    return metrics, write_metrics_files(metrics, folder)


def pipeline_files(model_labels: list[str], data: str) -> tuple[list[str], np.ndarray]:
    """Image files of a class-folder dataset and their labels as indices of the model's labels.

    Folder names match case-insensitively (``del`` is ``Del``); the data may hold a subset of the
    model's classes; a class the model does not know is an error, not a silent skip.
    """
    from .data import list_image_folder

    root = Path(data)
    if not root.is_dir():
        raise EdgesignError(f"a hand pipeline is evaluated on a folder of class folders of photos, not {data}")
    names, items = list_image_folder(root)
    lowered = [c.lower() for c in model_labels]
    unknown = [n for n in names if n.lower() not in lowered]
    if unknown:
        raise EdgesignError(f"{data} has classes the model does not know: {', '.join(unknown[:6])}")
    index = np.array([lowered.index(n.lower()) for n in names])
    return [str(f) for f, _ in items], index[np.array([c for _, c in items])]


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
