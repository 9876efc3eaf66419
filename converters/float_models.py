"""The float model a conversion starts from, whatever it is: an edgesign run folder, a tf_keras or Keras 3
``.keras``/``.h5`` file, a SavedModel folder, or a float ``.tflite`` (quantized without TensorFlow, by
ai-edge-quantizer). One small interface: its input, its probabilities on a dataset, its TFLite bytes.

A foreign model's preprocessing is given once (:class:`edgesign.preprocess.Overrides`: input range or
mean/std, resize, labels) and written into the certified file's metadata like an edgesign run's.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgesign.data import Dataset
from edgesign.errors import EdgesignError, MissingExtra
from edgesign.preprocess import Overrides, Preprocess
from edgesign.targets import Target

FINE_TUNE_NEEDS_KERAS2 = ("pruning, QAT and --auto fine-tune a Keras 2 (tf_keras) graph; {what} is not one: use "
                          "--int8, --target dynamic/float16/float32, or export the model with tf_keras")


@dataclass
class FloatModel:
    """A float classifier to convert and to compare the converted model against."""

    kind: str  # run | keras2 | keras3 | saved_model | tflite
    path: Path
    name: str
    input_shape: tuple[int, int, int]  # H, W, C
    n_classes: int
    keras: Any = None  # the Keras model (run, keras2, keras3)
    content: bytes | None = None  # the float .tflite's bytes
    run_config: dict[str, Any] = field(default_factory=dict)

    @property
    def fine_tunable(self) -> bool:
        """Pruning, QAT and the per-layer debugger work on Keras 2 graphs (tfmot rejects Keras 3)."""
        return self.kind in ("run", "keras2")

    def describe(self) -> str:
        return {"run": "an edgesign run", "keras2": "a tf_keras model", "keras3": "a Keras 3 model",
                "saved_model": "a SavedModel", "tflite": "a float .tflite"}[self.kind] + f" ({self.path})"

    def probabilities(self, ds: Dataset, pre: Preprocess) -> np.ndarray:
        """The float model's probabilities on ``ds``, through exactly ``pre``."""
        if self.kind == "tflite":
            return _tflite_probabilities(self.content, ds, pre)
        from edgesign.training.run import predict_probs

        if self.kind == "saved_model":
            return predict_probs(_serving_function(self.path), ds, pre)
        return predict_probs(self.keras, ds, pre)

    def to_tflite(self, target: Target, calib: Dataset | None, pre: Preprocess, io_type: str) -> bytes:
        if self.kind == "tflite":
            return _quantize_tflite(self.content, target, calib, pre, io_type)
        from .tflite import convert

        return convert(str(self.path) if self.kind == "saved_model" else self.keras, target, calib, pre, io_type)


def load_float_model(source: str | os.PathLike) -> FloatModel:
    """Whatever ``source`` is, as a :class:`FloatModel`; a one-line error naming what is accepted otherwise."""
    p = Path(source)
    if not p.exists():
        raise EdgesignError(f"not found: {p}")
    if p.is_dir() and (p / "config.json").exists() and (p / "model.keras").exists():
        from edgesign.training.run import load_keras_model

        config = json.loads((p / "config.json").read_text())
        return _from_keras(load_keras_model(p / "model.keras"), "run", p, config)
    if p.is_dir() and (p / "saved_model.pb").exists():
        return _from_saved_model(p)
    if p.is_file() and p.suffix == ".tflite":
        return _from_tflite(p)
    if p.is_file() and p.suffix in (".keras", ".h5", ".hdf5"):
        return _from_keras_file(p)
    raise EdgesignError(f"{p}: convert takes an edgesign run folder, a .keras/.h5 file (tf_keras or Keras 3), "
                        "a SavedModel folder or a float .tflite")


def _from_keras(model, kind: str, path: Path, config: dict | None = None) -> FloatModel:
    shape = tuple(int(v) for v in model.input_shape[1:])
    if len(shape) != 3:
        raise EdgesignError(f"{path}: expected an image input (H, W, C), got {list(model.input_shape)}")
    return FloatModel(kind, path, getattr(model, "name", path.stem), shape, int(model.output_shape[-1]),
                      keras=model, run_config=config or {})


def _from_keras_file(path: Path) -> FloatModel:
    """tf_keras first (what edgesign trains, and what pruning and QAT need), then Keras 3; an archive that says
    it was saved by Keras 3 goes to Keras 3 straight away (tf_keras's two attempts cost it 0.8 s for nothing)."""
    from edgesign.training.run import keras_archive_version, load_keras_model

    if (keras_archive_version(path) or "").startswith("3."):
        return _from_keras(_load_keras3(path), "keras3", path)
    try:
        return _from_keras(load_keras_model(path), "keras2", path)
    except EdgesignError as first:
        try:
            model = _load_keras3(path)
        except EdgesignError:
            raise first from None  # not a Keras 3 model either: tf_keras's reason is the one to show
        return _from_keras(model, "keras3", path)


def _load_keras3(path: Path):
    """A Keras 3 model, or one line of why Keras 3 cannot load the file."""
    try:
        import keras as keras3

        return keras3.saving.load_model(str(path), compile=False)
    except Exception as exc:  # Keras raises many types for a file that is not a model
        msg = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise EdgesignError(f"{path} is not a Keras 3 model it can load: {msg}") from None


def _serving_function(path: Path):
    from edgesign.training.tf_env import tf

    loaded = tf.saved_model.load(str(path))
    fn = loaded.signatures.get("serving_default")
    if fn is None:
        raise EdgesignError(f"{path}: the SavedModel has no serving_default signature")
    out_key = next(iter(fn.structured_outputs))
    in_key = next(iter(fn.structured_input_signature[1]))

    def call(x, training=False):
        return fn(**{in_key: x})[out_key]

    call.signature = fn
    return call


def _from_saved_model(path: Path) -> FloatModel:
    fn = _serving_function(path).signature
    spec = next(iter(fn.structured_input_signature[1].values()))
    out = next(iter(fn.structured_outputs.values()))
    shape = tuple(int(v) if v is not None else -1 for v in spec.shape[1:])
    if len(shape) != 3 or min(shape) < 1:
        raise EdgesignError(f"{path}: expected a fixed image input (N, H, W, C), got {spec.shape}")
    return FloatModel("saved_model", path, path.name, shape, int(out.shape[-1]))


def _from_tflite(path: Path) -> FloatModel:
    from edgesign.interpreter import load_backend, make_interpreter

    content = path.read_bytes()
    it = make_interpreter(content, load_backend("auto"), 1)
    i, o = it.get_input_details(), it.get_output_details()
    if len(i) != 1 or len(o) != 1 or len(i[0]["shape"]) != 4 or len(o[0]["shape"]) != 2:
        raise EdgesignError(f"{path}: a classifier with one (1, H, W, C) input and one (1, classes) output is needed")
    if i[0]["dtype"] != np.float32 or o[0]["dtype"] != np.float32:
        raise EdgesignError(f"{path} is already quantized ({np.dtype(i[0]['dtype']).name} input): convert takes a "
                            "float .tflite; 'edgesign check' compares two existing models")
    shape = tuple(int(v) for v in i[0]["shape"][1:])
    return FloatModel("tflite", path, path.stem, shape, int(o[0]["shape"][-1]), content=content)


def _tflite_probabilities(content: bytes, ds: Dataset, pre: Preprocess) -> np.ndarray:
    from edgesign.metadata import read_metadata
    from edgesign.runtime import EdgeModel

    # a foreign file is read through the preprocessing convert resolved; edgesign's own float file (convert
    # --target float32) carries that preprocessing, and overrides on it are refused
    overrides = None if read_metadata(content) else Overrides(mean=pre.mean, std=pre.std, resize=pre.resize)
    model = EdgeModel("float.tflite", content=content, device="cpu", warn=False, overrides=overrides)
    return model.probabilities_batch(ds.images, progress="evaluating the float .tflite")


def _quantize_tflite(content: bytes, target: Target, calib: Dataset | None, pre: Preprocess, io_type: str) -> bytes:
    """A float .tflite to ``target`` with ai-edge-quantizer (no TensorFlow): int8 static (calibrated on real
    images) or dynamic range; float32 is the model itself."""
    if target.name == "float32":
        return content
    if target.name not in ("int8", "dynamic", "edgetpu"):
        raise EdgesignError(f"a float .tflite converts to float32, dynamic or int8, not {target.name}")
    if target.integer and io_type != "int8":
        raise EdgesignError(f"ai-edge-quantizer gives a float .tflite int8 input and output, not {io_type}: "
                            "use --io int8 (the int8 target's default)")
    try:
        from ai_edge_quantizer import quantizer, recipe
    except ImportError:
        raise MissingExtra("quantizing a float .tflite", "quantize") from None
    from edgesign.preprocess import normalize

    qt = quantizer.Quantizer(bytearray(content))
    qt.load_quantization_recipe(recipe.static_wi8_ai8() if target.integer else recipe.dynamic_wi8_afp32())
    result = None
    if target.integer:
        if calib is None:
            raise EdgesignError(f"target {target.name} needs calibration images: pass --calib DIR")
        from edgesign.interpreter import load_backend, make_interpreter

        signatures = make_interpreter(content, load_backend("auto"), 1).get_signature_list()
        key = next(iter(signatures))
        name = signatures[key]["inputs"][0]
        samples = [{name: normalize(img[None], pre).astype(np.float32)} for img in calib.images]
        result = qt.calibrate({key: samples})
    return bytes(qt.quantize(result).quantized_model)
