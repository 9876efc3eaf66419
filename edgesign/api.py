"""The Python API behind the runtime commands: usable on its own, no TensorFlow needed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .certify import compare, gate_failure, pair_failure, validate_budget, validate_floor
from .data import Dataset, load_dataset
from .errors import EdgesignError
from .evaluate import Metrics, compute_metrics, write_metrics_files
from .preprocess import Overrides, Preprocess
from .runtime import EdgeModel, open_model


def _dataset_for(model: EdgeModel, data: str, split: str = "auto") -> Dataset:
    """The data at the model's input, its labels as the model's classes (a subset, any case, any order).
    A model that names no classes only needs as many data classes as it has outputs."""
    ds = load_dataset(data, model.preprocess, split=split)
    if model.described_by == "nothing":
        ds.check_classes(None, len(model.labels))
        return ds
    return ds.in_model_classes(model.labels)


def evaluate_model(model: str | EdgeModel | None, data: str, out_dir: str | None = None, split: str = "auto",
                   backend: str = "auto", threads: int | None = None,
                   hand_models: str | None = None, overrides: Overrides | None = None) -> tuple[Metrics, dict[str, Path]]:
    """Evaluate a .tflite model (or hand pipeline) on a dataset; writes metrics JSON and a confusion-matrix PNG."""
    m = model if model is not None and not isinstance(model, str) else open_model(model, backend=backend,
                                                                                 threads=threads, hand_models=hand_models,
                                                                                 overrides=overrides)
    if isinstance(m, EdgeModel):
        ds = _dataset_for(m, data, split)
        probs = m.probabilities_batch(ds.images, progress=f"evaluating {m.path.name}")
        metrics = compute_metrics(ds.labels, probs, ds.class_names, ds.source)
        metrics.skipped = list(ds.skipped)
    else:
        photos = pipeline_data(m.labels, data, split)
        probs, bad = m.probabilities_items(photos.items, progress=f"evaluating {m.path.name} (hand stage + classifier)")
        keep = photos.readable(bad)
        metrics = compute_metrics(photos.labels[keep], probs[keep], m.labels, str(data))
        metrics.skipped = sorted(photos.items[i] for i in bad)
    folder = Path(out_dir) if out_dir else Path("runs") / "eval" / m.path.stem
    return metrics, write_metrics_files(metrics, folder)


@dataclass
class PipelineData:
    """What a hand pipeline is measured on: photo files, or a .csv/.h5 file's images as stored, and their labels
    as indices of the model's labels."""

    items: list
    labels: np.ndarray
    stored_digest: str = ""  # a .csv/.h5 file's; a folder's is its files' bytes, read only when asked for

    def readable(self, unreadable: list[int]) -> np.ndarray:
        """A mask of the items that are not in ``unreadable`` (indices)."""
        keep = np.ones(len(self.items), bool)
        keep[list(unreadable)] = False
        return keep

    def digest(self) -> str:
        from .pipeline import files_digest

        return self.stored_digest or files_digest(self.items)


def pipeline_data(model_labels: list[str], data: str, split: str = "auto") -> PipelineData:
    """A folder of class folders gives its photo files; a Sign Language MNIST .csv or a SIGNS-style .h5 file its
    images as stored (a 28x28 grey row stays one: the hand stage takes any size)."""
    if Path(data).is_dir():
        return PipelineData(*pipeline_files(model_labels, data))
    ds = load_dataset(data, None, split=split).in_model_classes(model_labels)
    return PipelineData(list(ds.images), ds.labels, ds.digest)


def pipeline_files(model_labels: list[str], data: str) -> tuple[list[str], np.ndarray]:
    """Image files of a class-folder dataset and their labels as indices of the model's labels.

    Folder names match case-insensitively (``del`` is ``Del``); the data may hold a subset of the
    model's classes; a class the model does not know is an error, not a silent skip.
    """
    from .data import list_image_folder, model_class_index

    root = Path(data)
    if not root.is_dir():
        raise EdgesignError(f"a hand pipeline is evaluated on a folder of class folders of photos, not {data}")
    names, items = list_image_folder(root)
    index = model_class_index(names, model_labels, data)
    return [str(f) for f, _ in items], index[np.array([c for _, c in items])]


def check_pair(model: str, against: str, data: str, max_drop: Any, min_accuracy: Any = None,
               reference: Callable[[Dataset, Preprocess], np.ndarray] | None = None,
               feature_reference: Callable[[np.ndarray], np.ndarray] | None = None,
               reference_shape: tuple[tuple[int, ...] | None, int] | None = None) -> dict[str, Any]:
    """The CI gate for an existing (converted, float) pair; returns the comparison with ``passed`` and,
    when it fails, ``failure`` (one line). Nothing is printed.

    ``against`` is a float .tflite run here, or anything ``reference(dataset, preprocess)`` computes
    probabilities for (a run, Keras file or SavedModel: the CLI passes TensorFlow's side in, the runtime
    never imports it). For a hand pipeline, ``against`` is a float pipeline .tflite or a landmark run whose
    ``feature_reference(standardized features)`` the CLI passes in. ``reference_shape``: that reference's (input
    height, width, channels or None, number of classes), checked against the model's before any work.
    """
    budget = validate_budget(max_drop)
    floor = validate_floor(min_accuracy)
    quant = open_model(model)
    if reference_shape is not None:
        _check_reference_fits(quant, Path(against).name, *reference_shape)
    if isinstance(quant, EdgeModel):
        if reference is None and not against.endswith(".tflite"):
            raise EdgesignError(f"--against {against}: a float .tflite, or a Keras model through 'edgesign check'")
        float_tflite = EdgeModel(against, warn=False) if reference is None else None
        if float_tflite is not None:
            fp = float_tflite.preprocess
            _check_reference_fits(quant, Path(against).name, (fp.height, fp.width, fp.channels), len(float_tflite.labels))
        ds = _dataset_for(quant, data)
        q = quant.probabilities_batch(ds.images, progress=f"evaluating {quant.path.name}")
        if float_tflite is not None:
            f = float_tflite.probabilities_batch(ds.images, progress=f"evaluating {Path(against).name}")
        else:
            f = reference(ds, quant.preprocess)
        labels, classes, source, digest = ds.labels, ds.class_names, ds.source, ds.digest
    else:
        labels, f, q, digest = _pipeline_pair(quant, against, data, feature_reference, reference)
        classes, source = quant.labels, str(data)
    result = compare(labels, f, q, classes)
    result.update({"data": source, "digest": digest, "max_drop": budget, "min_accuracy": floor,
                   "model": quant.path.name, "against": Path(against).name})
    what = f"{quant.path.name} vs {Path(against).name}"
    result["failure"] = gate_failure(result, budget, what, floor) or pair_failure(result, what)
    result["passed"] = result["failure"] is None
    return result


def _check_reference_fits(quant, against: str, input_shape: tuple[int, ...] | None, n_classes: int) -> None:
    """The float model a converted one is checked against takes its input and gives its classes: else one line."""
    if n_classes != len(quant.labels):
        raise EdgesignError(f"--against {against} is not {quant.path.name}'s float model: it has {n_classes} classes, "
                            f"{quant.path.name} {len(quant.labels)}")
    pre = getattr(quant, "preprocess", None)
    if input_shape is not None and pre is not None and tuple(input_shape) != (pre.height, pre.width, pre.channels):
        shape = "x".join(map(str, input_shape))
        raise EdgesignError(f"--against {against} is not {quant.path.name}'s float model: it takes {shape} images, "
                            f"{quant.path.name} {pre.height}x{pre.width}x{pre.channels}")


def _pipeline_pair(quant, against: str, data: str, feature_reference, reference) -> tuple[np.ndarray, np.ndarray,
                                                                                        np.ndarray, str]:
    """(labels, float, converted, data digest): both classifiers on the same hands. The hand stage runs once a
    photo (no hand: the no-hand class on both sides), so the comparison is the classifiers' alone. The float
    side: a float pipeline .tflite of the same kind, or the run (a landmark run's ``feature_reference``, an
    image run's ``reference`` on the crops)."""
    from .pipeline import CropPipeline
    from .progress import Progress

    if quant.personal is not None:
        raise EdgesignError(f"{quant.path.name} is a personal file: it has no float counterpart (check its base)")
    crops = isinstance(quant, CropPipeline)
    other = open_model(against) if against.endswith(".tflite") else None
    if (other is None and (reference if crops else feature_reference) is None) or (
            other is not None and (type(other) is not type(quant) or other.labels != quant.labels)):
        raise EdgesignError(f"--against {against}: a hand pipeline is checked against its run folder or a float "
                            "pipeline .tflite of the same kind with the same classes")
    photos = pipeline_data(quant.labels, data)
    feats: list[np.ndarray | None] = []
    with Progress(f"hand stage on {len(photos.items)} images", len(photos.items), enabled=None) as bar:
        for item in photos.items:
            feats.append(quant.item_input(item).features)
            bar.update()
    found = [i for i, x in enumerate(feats) if x is not None]
    f_probs = np.zeros((len(photos.items), len(quant.labels)), np.float32)
    f_probs[:, quant.no_hand] = 1.0
    q_probs = f_probs.copy()
    if found:
        x = np.stack([feats[i] for i in found])
        q_probs[found] = np.stack([quant.base_probabilities(row) for row in x])
        if other is not None:
            f_probs[found] = np.stack([other.base_probabilities(row) for row in x])
        elif crops:
            f_probs[found] = reference(Dataset(x, np.zeros(len(x), np.int64), quant.labels, data), quant.preprocess)
        else:
            f_probs[found] = feature_reference((x - quant.mean) / quant.std)
    return photos.labels, f_probs, q_probs, photos.digest()
