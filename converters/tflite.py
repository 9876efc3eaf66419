"""Keras model -> TFLite bytes for each target, with a representative dataset of real images."""

from __future__ import annotations

import contextlib
import signal
import threading

from edgesign.data import Dataset
from edgesign.errors import EdgesignError
from edgesign.interpreter import quiet_native_stderr
from edgesign.preprocess import Preprocess, normalize
from edgesign.progress import Progress
from edgesign.targets import Target
from edgesign.training.tf_env import tf

IO_TYPES = {"int8": "int8", "uint8": "uint8", "float32": "float32"}


class _Interrupt:
    hit = False


@contextlib.contextmanager
def converter_call():
    """Around a call into TensorFlow's converter or debugger: its C++ prints ("fully_quantize: ...", XNNPACK's
    INFO) hidden unless --verbose, and Ctrl-C honoured. The calibrator calls our generator from C++ and swallows
    a KeyboardInterrupt raised there (the conversion went on and wrote its model): the first Ctrl-C is
    remembered, calibration stops feeding images, and the interrupt is raised when the call returns; a second
    Ctrl-C raises at once."""
    if threading.current_thread() is not threading.main_thread():
        with quiet_native_stderr():
            yield
        return

    def remember(signum, frame):
        if _Interrupt.hit:
            raise KeyboardInterrupt
        _Interrupt.hit = True

    previous = signal.signal(signal.SIGINT, remember)
    try:
        with quiet_native_stderr():
            yield
    except Exception:
        if _Interrupt.hit:  # the converter failed because calibration stopped: the interrupt is the cause
            raise KeyboardInterrupt from None
        raise
    finally:
        signal.signal(signal.SIGINT, previous)
        hit, _Interrupt.hit = _Interrupt.hit, False
    if hit:
        raise KeyboardInterrupt


def calibration_inputs(rows):
    """Yield ``[row]`` for TensorFlow's calibrator until the rows end or Ctrl-C was pressed."""
    for row in rows:
        if _Interrupt.hit:
            return
        yield [row]


def representative_dataset(calib: Dataset, pre: Preprocess, progress: bool = True):
    """Yield calibration inputs one by one, through exactly the model's preprocessing."""

    def gen():
        with Progress(f"calibrating on {len(calib)} images", len(calib), enabled=None if progress else False) as bar:
            for row in calibration_inputs(normalize(img[None], pre) for img in calib.images):
                yield row
                bar.update()

    return gen


def make_converter(model, target: Target, calib: Dataset | None, pre: Preprocess, io_type: str = "int8"):
    """A converter for a Keras model (tf_keras or Keras 3), or a SavedModel folder given by its path."""
    converter = (tf.lite.TFLiteConverter.from_saved_model(model) if isinstance(model, str)
                 else tf.lite.TFLiteConverter.from_keras_model(model))
    if target.weights == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif target.weights == "int8" and target.activations == "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif target.activations == "int8":
        if calib is None:
            raise EdgesignError(f"target {target.name} needs calibration images: pass --calib DIR")
        if io_type not in IO_TYPES:
            raise EdgesignError(f"--io must be int8, uint8 or float32, got {io_type!r}")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative_dataset(calib, pre)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if io_type != "float32":
            converter.inference_input_type = getattr(tf, io_type)
            converter.inference_output_type = getattr(tf, io_type)
    return converter


def convert(model, target: Target, calib: Dataset | None, pre: Preprocess, io_type: str = "int8") -> bytes:
    """Convert; a model with operations that cannot be int8 ends in one line naming them."""
    converter = make_converter(model, target, calib, pre, io_type)
    try:
        with converter_call():
            return bytes(converter.convert())
    except Exception as exc:  # the converter raises ConverterError, RuntimeError, ValueError...
        text = str(exc)
        lines = [ln.strip() for ln in text.splitlines() if "error" in ln.lower() or "op" in ln.lower()]
        raise EdgesignError(f"conversion to {target.name} failed: {(lines or [text or type(exc).__name__])[0][:300]}") from None


def kernel_sparsity(model) -> dict[str, float]:
    """Fraction of zero weights per Conv/Dense kernel, and in total."""
    per_layer: dict[str, float] = {}
    zeros = total = 0
    for layer in _flat_layers(model):
        for w in getattr(layer, "weights", []):
            if "kernel" in w.name:
                v = w.numpy()
                per_layer[layer.name] = float((v == 0).mean())
                zeros += int((v == 0).sum())
                total += v.size
    per_layer["total"] = zeros / total if total else 0.0
    return per_layer


def _flat_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            yield from _flat_layers(layer)
        else:
            yield layer
