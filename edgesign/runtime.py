"""A deployed model on the device: load a .tflite file, classify images and frames.

Everything the model needs (labels, preprocessing, certificate) comes from its metadata;
input quantization and output dequantization come from its tensors.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import preprocess as pp
from .adapters import Prediction, from_output, quantize, top_k
from .certify import MISMATCH_WARNING, certificate_status
from .errors import EdgesignError
from .interpreter import load_backend, make_interpreter
from .metadata import is_tflite, read_metadata
from .targets import for_model_file

DEFAULT_MODEL_NAME = "asl29-hands.tflite"


def default_model_path() -> Path:
    """The certified model shipped with edgesign: the hand pipeline ``models/asl29-hands.tflite``."""
    return shipped_models_folder() / DEFAULT_MODEL_NAME


IMAGE_MODEL_NAME = "asl29.tflite"


def image_model_path() -> Path:
    """The shipped image-only model (``models/asl29.tflite``): one stage, runs on an Edge TPU too."""
    return shipped_models_folder() / IMAGE_MODEL_NAME


def shipped_models_folder() -> Path:
    from edgesign import models

    return Path(models.__file__).parent


def resolve_model_path(path: str | os.PathLike | None) -> Path:
    """``path``, the shipped default when None, or a shipped model named by its bare file name."""
    if path is None:
        return default_model_path()
    p = Path(path)
    if not p.exists() and p.name == str(path) and (shipped_models_folder() / p.name).is_file():
        return shipped_models_folder() / p.name
    return p


def existing_model_file(path: str | os.PathLike | None, shown: str | None = None) -> Path:
    """``path`` resolved (:func:`resolve_model_path`) when it names a model file; a folder (a run folder, say) or a
    missing file is one line, naming ``shown`` (what the user typed; default: the path)."""
    p = resolve_model_path(path)
    name = p if shown is None else shown
    if p.is_dir():
        raise EdgesignError(f"{name} is a folder, not a .tflite model (a run folder becomes one with edgesign convert)")
    if not p.is_file():
        raise EdgesignError(f"model not found: {name}")
    return p


def read_model_file(path: Path) -> bytes:
    """A model file's bytes; one that cannot be read (permissions, a folder) is one line, not a traceback."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise EdgesignError(f"cannot read the model {path}: {exc.strerror or exc}") from None


def open_model(path: str | os.PathLike | None = None, *, backend: str = "auto", threads: int | None = None,
               device: str = "auto", warn: bool = True, hand_models: str | os.PathLike | None = None,
               overrides: pp.Overrides | None = None):
    """An :class:`EdgeModel`, or a hand pipeline (:mod:`edgesign.pipeline`: landmark or crop classifier) when
    the model's metadata names a hand stage: the one door through which every runtime command opens a model."""
    p = resolve_model_path(path)
    content = None
    if p.is_file():
        content = read_model_file(p)
        meta = read_metadata(content) if is_tflite(content) else None
        if meta and "hand_stage" in meta:
            if overrides:
                raise EdgesignError(f"{p.name} is a certified hand pipeline: its preprocessing and labels travel in it")
            if device == "edgetpu":
                raise EdgesignError(f"{p.name} is a hand pipeline: its hand models run on the CPU, not the Edge TPU")
            from .pipeline import pipeline_class

            return pipeline_class(meta["hand_stage"])(p, content, meta, backend=backend, threads=threads,
                                                      hand_models=hand_models)
    if hand_models is not None:
        raise EdgesignError(f"--hand-models {hand_models}: {p.name} has no hand stage (an image model reads the "
                            f"whole picture)")
    return EdgeModel(p, backend=backend, threads=threads, device=device, warn=warn, content=content, overrides=overrides)


class Classifier:
    """What every runnable model shares: its labels, top-k over them, probabilities over many inputs."""

    labels: list[str]

    def top(self, probs: np.ndarray, k: int = 3, threshold: float = 0.0) -> list[Prediction]:
        """The ``k`` most probable classes at or above ``threshold``; the best class is always kept."""
        return [Prediction(self.label(i), i, p) for i, p in top_k(probs, k, threshold)]

    def label(self, index: int) -> str:
        return self.labels[index] if 0 <= index < len(self.labels) else str(index)

    def _rows(self, classify, items, progress: str | None) -> np.ndarray:
        """``classify(item)`` for each item, one probability row each, with progress when labelled."""
        from .progress import Progress

        out = np.zeros((len(items), len(self.labels)), np.float32)
        with Progress(progress or "", len(items), enabled=bool(progress) and None) as bar:
            for i, item in enumerate(items):
                out[i] = classify(item)
                bar.update()
        return out


def describe(path: Path, content: bytes, metadata: dict[str, Any], shape: list[int], n_out: int,
             overrides: pp.Overrides) -> tuple[pp.Preprocess, list[str], str]:
    """(preprocessing, labels, what described them): edgesign's metadata, else the standard TFLite metadata
    (Model Maker, MediaPipe, TF Hub) with the user's overrides on top, else the overrides alone, else nothing."""
    if metadata:
        if overrides:
            raise EdgesignError(f"{path.name} carries edgesign metadata (the preprocessing and labels it was certified "
                                "with): --labels, --input-range, --mean/--std and --resize are for models without it")
        try:
            pre = pp.Preprocess.from_dict(metadata["preprocess"]) if metadata.get("preprocess") else \
                pp.Preprocess(shape[1], shape[2], shape[3])
        except (TypeError, ValueError) as exc:
            raise EdgesignError(f"{path}: its edgesign metadata is invalid ({exc})") from None
        labels = metadata.get("labels")
        return pre, list(labels) if labels else [str(i) for i in range(n_out)], "edgesign"
    from .tflite_metadata import read_standard_metadata

    std_meta = read_standard_metadata(content)
    mean = overrides.mean or (std_meta.mean if std_meta else None)
    std = overrides.std or (std_meta.std if std_meta else None)
    labels = list(overrides.labels or (std_meta.labels if std_meta and std_meta.labels else []))
    if labels and len(labels) != n_out:
        raise EdgesignError(f"{len(labels)} labels for a model with {n_out} outputs")
    channels = shape[3]
    pre = pp.Preprocess(shape[1], shape[2], channels, resize=overrides.resize or "center_crop",
                        mean=_per_channel(mean, channels) if mean else (), std=_per_channel(std, channels) if std else ())
    source = "overrides" if overrides else ("standard" if std_meta else "nothing")
    return pre, labels or [str(i) for i in range(n_out)], source


def _per_channel(values: tuple[float, ...], channels: int) -> tuple[float, ...]:
    if len(values) not in (1, channels):
        raise EdgesignError(f"{len(values)} normalization values for a {channels}-channel input")
    return tuple(values)


class EdgeModel(Classifier):
    """A TFLite classifier with its preprocessing and labels, ready to run on images or frames."""

    def __init__(self, path: str | os.PathLike | None = None, *, backend: str = "auto",
                 threads: int | None = None, device: str = "auto", warn: bool = True,
                 content: bytes | None = None, overrides: pp.Overrides | None = None) -> None:
        """Load ``path`` (the shipped model when None); ``content``, when given, is the file's bytes
        (a model not yet written: the converter's candidates are evaluated from memory)."""
        self.path = resolve_model_path(path)
        if content is None:
            content = read_model_file(existing_model_file(self.path))
        if not is_tflite(content):
            raise EdgesignError(f"{self.path} is not a TFLite model")
        self.size_bytes = len(content)
        self.metadata: dict[str, Any] = read_metadata(content) or {}
        if device not in ("auto", "cpu", "edgetpu"):
            raise EdgesignError(f"unknown device {device!r}: auto, cpu or edgetpu")
        compiled = for_model_file(self.path)
        self.edgetpu = device == "edgetpu" or (device == "auto" and compiled is not None and compiled.edgetpu)
        self.backend = load_backend(backend)
        self.interpreter = make_interpreter(content, self.backend, threads, self.edgetpu)
        self._in = self.interpreter.get_input_details()[0]
        self._out = self.interpreter.get_output_details()[0]
        shape = [int(v) for v in self._in["shape"]]
        n_in, n_outs = len(self.interpreter.get_input_details()), len(self.interpreter.get_output_details())
        out_shape = [int(v) for v in self._out["shape"]]
        if n_in != 1 or n_outs != 1 or len(out_shape) != 2:
            raise EdgesignError(f"{self.path}: edgesign runs classifiers with one image input and one [1, classes] "
                                f"output; this model has {n_in} input(s), {n_outs} output(s), output shape {out_shape}")
        if len(shape) != 4:
            raise EdgesignError(f"{self.path}: expected an image input (N,H,W,C), got shape {shape}")
        self.preprocess, self.labels, self.described_by = describe(
            self.path, content, self.metadata, shape, int(self._out["shape"][-1]), overrides or pp.Overrides())
        if self.described_by == "nothing" and warn:
            print(f"warning: {self.path.name} has no edgesign metadata and no standard TFLite metadata: labels are "
                  "indices, input scaled to [0, 1] (say otherwise with --labels, --input-range or --mean/--std)",
                  file=sys.stderr)
        self.certificate_status = certificate_status(content, self.metadata)
        if self.certificate_status == "MISMATCH" and warn:
            print(MISMATCH_WARNING.format(name=self.path.name), file=sys.stderr)
        self._table = self._input_table()
        self._shared_table = bool((self._table == self._table[:, :1]).all())
        self._input_shape = tuple(shape[1:])
        self.first_inference_seconds: float | None = None

    # --- tensors ------------------------------------------------------------------------------

    @property
    def input_details(self) -> dict[str, Any]:
        return self._in

    @property
    def output_details(self) -> dict[str, Any]:
        return self._out

    @property
    def certificate(self) -> dict[str, Any] | None:
        return self.metadata.get("certificate")

    def _input_table(self) -> np.ndarray:
        """A 256 x C lookup table: pixel value -> model input value (scaling and input quantization folded in).

        Pixels are uint8, so the whole input transform is a table lookup: the same numbers as
        ``normalize`` then ``quantize``, at a fraction of the cost per frame.
        """
        a, b = self.preprocess.affine()
        values = np.arange(256, dtype=np.float32)[:, None] * a[None, :] + b[None, :]
        scale, zero = self._in["quantization"]
        dtype = self._in["dtype"]
        if dtype in (np.int8, np.uint8):
            if not scale:
                raise EdgesignError(f"{self.path}: {np.dtype(dtype).name} input without quantization parameters")
            return quantize(values, scale, zero, dtype)
        return values.astype(dtype)

    def _lookup(self, pixels: np.ndarray, out: np.ndarray) -> None:
        """Write the model input for uint8 HxWxC ``pixels`` into ``out`` (HxWxC, the input dtype)."""
        if pixels.shape != self._input_shape:
            raise EdgesignError(f"expected pixels of shape {self._input_shape}, got {pixels.shape}")
        if self.preprocess.bgr:
            pixels = pixels[..., ::-1]
        if self._shared_table:
            np.take(self._table[:, 0], pixels, out=out)
        else:
            for c in range(pixels.shape[-1]):
                np.take(self._table[:, c], pixels[..., c], out=out[..., c])

    def to_input(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 HxWxC pixels at the model's size to the model's input tensor (1,H,W,C)."""
        tensor = np.empty((1, *self._input_shape), self._table.dtype)
        self._lookup(pixels, tensor[0])
        return tensor

    def from_output(self, raw: np.ndarray) -> np.ndarray:
        return from_output(raw, self._out)[0]

    def invoke(self, tensor: np.ndarray) -> np.ndarray:
        """Run one prepared input tensor and return the raw output tensor."""
        self.interpreter.set_tensor(self._in["index"], tensor)
        return self._run()

    def _run(self) -> np.ndarray:
        """invoke() on the input already in place; the first one is timed on its own (Edge TPU loading)."""
        t0 = time.perf_counter()
        self.interpreter.invoke()
        if self.first_inference_seconds is None:
            self.first_inference_seconds = time.perf_counter() - t0
        return self.interpreter.get_tensor(self._out["index"])

    # --- classification ---------------------------------------------------------------------------

    def probabilities(self, pixels: np.ndarray) -> np.ndarray:
        """Class probabilities for uint8 pixels already at the model's input size."""
        # The lookup table writes straight into the interpreter's input buffer: no intermediate
        # tensor and no set_tensor copy. The view is dropped before invoke(), as the API requires.
        buf = self.interpreter.tensor(self._in["index"])()[0]
        self._lookup(pixels, buf)
        del buf
        return self.from_output(self._run())

    def classify_frame(self, frame: np.ndarray) -> np.ndarray:
        """Class probabilities for a decoded RGB/grayscale frame of any size."""
        return self.probabilities(pp.array_to_array(frame, self.preprocess))

    def classify_file(self, path: str | os.PathLike) -> np.ndarray:
        return self.probabilities(pp.load(path, self.preprocess))

    # The same in two halves, for a pipeline that prepares the next input on another thread
    # while this one runs (`edgesign.prefetch`): the halves share no state, and only
    # ``classify_input`` touches the interpreter.

    def frame_input(self, frame: np.ndarray, first: bool = False) -> np.ndarray:
        """The input tensor for a decoded frame of any size (thread-safe); ``first``: a stream's first frame (an
        image model keeps nothing from one frame to the next)."""
        return self.to_input(pp.array_to_array(frame, self.preprocess))

    def file_input(self, path: str | os.PathLike) -> np.ndarray:
        """The input tensor for an image file (thread-safe)."""
        return self.to_input(pp.load(path, self.preprocess))

    def classify_input(self, tensor: np.ndarray) -> np.ndarray:
        """Class probabilities for an input tensor from ``frame_input`` or ``file_input``."""
        return self.from_output(self.invoke(tensor))

    def probabilities_batch(self, images: np.ndarray, progress: str | None = None) -> np.ndarray:
        """Probabilities for N uint8 images at the model's input size, one invoke each."""
        return self._rows(self.probabilities, images, progress)
