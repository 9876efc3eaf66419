"""A run folder, read back: the Keras model, its preprocessing and classes, its history, its probabilities.

What converters and the gate need from a trained model, without the training loop.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from edgesign.data import Dataset
from edgesign.errors import EdgesignError
from edgesign.preprocess import Preprocess

from .pipeline import make_dataset
from .tf_env import keras


def load_keras_model(path: str | os.PathLike):
    p = Path(path)
    if not p.exists():
        raise EdgesignError(f"model not found: {p}")
    try:
        model = _load_keras_archive(p)
    except Exception:  # what the archive holds is not for the quick path: tf-keras's loader decides, and says why
        model = None
    try:
        return model or keras.models.load_model(str(p), compile=False)
    except Exception as exc:  # Keras raises many types for a file that is not a model
        msg = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise EdgesignError(f"{p} is not a Keras model: {msg}") from None


def keras_archive_version(path: str | os.PathLike) -> str | None:
    """The Keras version a ``.keras`` archive was saved with (its metadata.json), or None when it does not say."""
    try:
        with zipfile.ZipFile(path) as zf:
            return str(json.loads(zf.read("metadata.json"))["keras_version"])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


def _load_keras_archive(p: Path):
    """A ``.keras`` archive loaded with its weights file extracted first; None when it is not one.

    tf-keras reads the weights with h5py straight from the zip member, and before Python 3.12 every backward
    seek in a zip member reads it again from its start: a ResNet-50's ``model.keras`` took 103-111 s to load here
    (the same weights from a plain file: seconds). The model is built from the archive's config and the
    weights read by tf-keras's own ``load_weights`` (the same state loader as ``load_model``)."""
    if p.suffix != ".keras" or not zipfile.is_zipfile(p):
        return None
    from tf_keras.src.saving.serialization_lib import ObjectSharingScope

    with zipfile.ZipFile(p) as zf, tempfile.TemporaryDirectory() as tmp:
        if sorted(zf.namelist()) != ["config.json", "metadata.json", "model.weights.h5"]:
            return None  # assets or another weights format: tf-keras's own loader
        config = json.loads(zf.read("config.json"))
        config["compile_config"] = None
        with ObjectSharingScope():
            model = keras.saving.deserialize_keras_object(config)
        model.load_weights(zf.extract("model.weights.h5", tmp))
    return model


def load_run(path: str | os.PathLike) -> tuple[Any, Preprocess, list[str], dict]:
    """(Keras model, preprocessing, class names, config) of a run folder or a bare model file."""
    p = Path(path)
    if p.is_dir():
        cfg_path, model_path = p / "config.json", p / "model.keras"
        if not cfg_path.exists() or not model_path.exists():
            raise EdgesignError(f"{p} is not a run folder (needs model.keras and config.json)")
        config = json.loads(cfg_path.read_text())
        model = load_keras_model(model_path)
        return model, Preprocess.from_dict(config["preprocess"]), list(config["classes"]), config
    model = load_keras_model(p)
    shape = model.input_shape[1:]
    pre = Preprocess(int(shape[0]), int(shape[1]), int(shape[2]))
    return model, pre, [], {}


def predict_probs(model, ds: Dataset, pre: Preprocess, batch_size: int = 64) -> np.ndarray:
    """Float (Keras) model probabilities over a dataset, through the training pipeline's scaling."""
    data = make_dataset(ds, pre, batch_size, training=False)
    return np.concatenate([model(x, training=False).numpy() for x, _ in data]).astype(np.float32)


def read_history(path: Path) -> dict[str, list[float]]:
    """``history.csv`` as columns (epoch excluded); empty when there is none yet."""
    out: dict[str, list[float]] = {}
    if not path.exists():
        return out
    with path.open() as f:
        for row in csv.DictReader(f):
            for k, v in row.items():
                if k != "epoch" and v not in (None, ""):
                    out.setdefault(k, []).append(float(v))
    return out
