"""Image preprocessing shared by training, calibration, evaluation and the device.

One definition of how a photo becomes a model input. It travels inside every ``.tflite`` file
as metadata, so the device applies exactly what training and calibration applied.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageFile, ImageOps

from .errors import EdgesignError

# A 100-megapixel image is refused before it is decoded (decompression-bomb guard).
MAX_IMAGE_PIXELS = 64_000_000
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
ImageFile.LOAD_TRUNCATED_IMAGES = False

# Named input scalings: value = (pixel - mean) / std, per channel, after an optional RGB->BGR flip.
SCALINGS: dict[str, dict[str, Any]] = {
    "unit": {"mean": [0.0], "std": [255.0], "bgr": False},  # [0, 1]
    "symmetric": {"mean": [127.5], "std": [127.5], "bgr": False},  # [-1, 1]
    "raw": {"mean": [0.0], "std": [1.0], "bgr": False},  # [0, 255]
    # keras.applications.{vgg16,resnet50}.preprocess_input ("caffe" mode)
    "caffe": {"mean": [103.939, 116.779, 123.68], "std": [1.0], "bgr": True},
}


@dataclass(frozen=True)
class Preprocess:
    """How an image becomes a model input: size, channels, resize mode and scaling."""

    height: int
    width: int
    channels: int = 3
    scaling: str = "unit"
    resize: str = "center_crop"  # or "stretch"
    mean: tuple[float, ...] = field(default=())
    std: tuple[float, ...] = field(default=())
    bgr: bool = False

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise EdgesignError(f"channels must be 1 or 3, got {self.channels}")
        if self.height < 1 or self.width < 1:
            raise EdgesignError(f"input size must be positive, got {self.height}x{self.width}")
        if self.resize not in ("center_crop", "stretch"):
            raise EdgesignError(f"resize must be center_crop or stretch, got {self.resize!r}")
        if not self.mean:
            if self.scaling not in SCALINGS:
                raise EdgesignError(f"unknown scaling {self.scaling!r}; one of {', '.join(SCALINGS)}")
            preset = SCALINGS[self.scaling]
            object.__setattr__(self, "mean", tuple(preset["mean"]))
            object.__setattr__(self, "std", tuple(preset["std"]))
            object.__setattr__(self, "bgr", bool(preset["bgr"]) and self.channels == 3)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, self.channels)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocess:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        for key in ("mean", "std"):
            if key in known:
                known[key] = tuple(float(v) for v in known[key])
        return cls(**known)

    def affine(self) -> tuple[np.ndarray, np.ndarray]:
        """(a, b) such that the model input is ``pixels * a + b`` per channel (after the BGR flip)."""
        mean = np.broadcast_to(np.asarray(self.mean, np.float32), (self.channels,))
        std = np.broadcast_to(np.asarray(self.std, np.float32), (self.channels,))
        return (1.0 / std).astype(np.float32), (-mean / std).astype(np.float32)


def open_image(path: str | os.PathLike) -> Image.Image:
    """Decode an image file completely; a user-readable error for anything that is not a whole image."""
    name = os.fspath(path)
    if not os.path.exists(name):
        raise EdgesignError(f"image not found: {name}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(name)
            img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise EdgesignError(
            f"image too large (over {MAX_IMAGE_PIXELS // 1_000_000} megapixels), refused: {name}"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise EdgesignError(f"cannot decode image {name}: {exc}") from None
    return _upright_8bit(img)


def _upright_8bit(img: Image.Image) -> Image.Image:
    """The image as it is meant to be seen: EXIF orientation applied (phones tag every portrait photo),
    16- and 32-bit images scaled to 8 bits (Pillow's own conversion clips them: a 16-bit PNG turns white)."""
    img = ImageOps.exif_transpose(img) or img
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        if img.mode == "F":
            top = 1.0 if arr.max() <= 1.0 else 255.0
        img = Image.fromarray(np.clip(np.round(arr * (255.0 / top)), 0, 255).astype(np.uint8), "L")
    return img


RESIZE_REDUCING_GAP = 1.0


def to_array(img: Image.Image, pre: Preprocess) -> np.ndarray:
    """Convert to the model's channels, centre-crop to its aspect ratio, resize: uint8 HxWxC."""
    mode = "L" if pre.channels == 1 else "RGB"
    if img.mode != mode:
        img = img.convert(mode)
    if pre.resize == "center_crop":
        img = _center_crop(img, pre.width / pre.height)
    if img.size != (pre.width, pre.height):
        # Bilinear after a box reduction by the integer part of the scale (Pillow's reducing_gap):
        # 0.19 ms instead of 0.31 ms for a 224x224 frame to 96x96, a third of predict's overhead
        # over invoke(); training reads its images through this same function.
        img = img.resize((pre.width, pre.height), Image.BILINEAR, reducing_gap=RESIZE_REDUCING_GAP)
    arr = np.asarray(img, dtype=np.uint8)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return arr


def array_to_array(frame: np.ndarray, pre: Preprocess) -> np.ndarray:
    """Resize a decoded frame (HxW, HxWx1, HxWx3 or HxWx4 uint8, RGB order) to the model's input."""
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.ndim == 3 and frame.shape[2] == 4:
        frame = frame[:, :, :3]
    if frame.dtype != np.uint8:
        frame = np.clip(frame, 0, 255).astype(np.uint8)
    if frame.shape[:2] == (pre.height, pre.width) and (frame.ndim == 3) == (pre.channels == 3):
        return frame if frame.ndim == 3 else frame[:, :, None]
    return to_array(Image.fromarray(frame), pre)


def load(path: str | os.PathLike, pre: Preprocess) -> np.ndarray:
    """Read an image file as the model's uint8 HxWxC input."""
    return to_array(open_image(path), pre)


def _center_crop(img: Image.Image, aspect: float) -> Image.Image:
    w, h = img.size
    if abs(w / h - aspect) < 1e-3:
        return img
    if w / h > aspect:
        new_w = max(1, round(h * aspect))
        left = (w - new_w) // 2
        return img.crop((left, 0, left + new_w, h))
    new_h = max(1, round(w / aspect))
    top = (h - new_h) // 2
    return img.crop((0, top, w, top + new_h))


def normalize(pixels: np.ndarray, pre: Preprocess) -> np.ndarray:
    """uint8 pixels (..., H, W, C) to the float32 values the model was trained on."""
    x = pixels.astype(np.float32)
    if pre.bgr:
        x = x[..., ::-1]
    a, b = pre.affine()
    return x * a + b


@dataclass(frozen=True)
class Overrides:
    """What the user says about a model that does not say it itself (a bare or foreign .tflite, a Keras file).

    ``mean``/``std`` are per channel on 0-255 pixels (value = (pixel - mean) / std), as in TFLite's standard
    metadata; ``input_range`` ("0,255", "-1,1", ...) is the short way to give them.
    """

    labels: tuple[str, ...] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    resize: str | None = None

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.labels, self.mean, self.std, self.resize))

    @classmethod
    def from_options(cls, labels: str | None = None, input_range: str | None = None, mean: str | None = None,
                     std: str | None = None, resize: str | None = None) -> Overrides:
        """From the CLI's ``--labels FILE --input-range A,B --mean M[,M,M] --std S[,S,S] --resize MODE``."""
        if input_range is not None and (mean is not None or std is not None):
            raise EdgesignError("give --input-range or --mean/--std, not both")
        if (mean is None) != (std is None):
            raise EdgesignError("--mean and --std go together")
        if resize is not None and resize not in ("center_crop", "stretch"):
            raise EdgesignError(f"--resize must be center_crop or stretch, got {resize!r}")
        m = s = None
        if input_range is not None:
            low, high = _floats(input_range, "--input-range", 2)
            if not high > low:
                raise EdgesignError(f"--input-range must be LOW,HIGH with HIGH > LOW, got {input_range!r}")
            s = (255.0 / (high - low),)
            m = (-low * s[0],)
        elif mean is not None:
            m, s = _floats(mean, "--mean"), _floats(std, "--std")
            if any(v == 0 for v in s):
                raise EdgesignError("--std must not be 0")
        return cls(_read_labels(labels) if labels else None, m, s, resize)


def _floats(text: str, option: str, count: int | None = None) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise EdgesignError(f"{option} expects comma-separated numbers, got {text!r}") from None
    if not all(np.isfinite(values)) or (count is not None and len(values) != count) or len(values) not in (1, 3, count):
        raise EdgesignError(f"{option} expects {count or '1 or 3'} finite numbers, got {text!r}")
    return values


def _read_labels(path: str) -> tuple[str, ...]:
    """A labels file: one class a line, in the model's output order (blank lines ignored)."""
    try:
        text = open(path, encoding="utf-8").read()
    except (OSError, UnicodeDecodeError) as exc:
        raise EdgesignError(f"cannot read the labels file {path}: {exc}") from None
    labels = tuple(line.strip() for line in text.splitlines() if line.strip())
    if not labels:
        raise EdgesignError(f"the labels file {path} holds no labels")
    return labels
