"""The model registry: name -> builder, default input size and channels, preprocessing.

Adding a model is one decorated builder function in ``training/models.py``; the CLI, the recipes
and the tests (parametrized over :func:`list_models`) pick it up with no other change. The package's
``__init__`` imports the builders after this module, as timm's does: the registry imports no model.
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass
from typing import Any, Callable

from edgesign.errors import EdgesignError
from edgesign.preprocess import Preprocess


@dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Callable[..., Any]
    default_size: int
    default_channels: int
    scaling: str
    min_size: int
    description: str
    transfer: bool = False  # an ImageNet base: two-stage training, --weights
    inputs: str = "image"  # or "hand-landmarks": a classifier behind the hand stage (training/landmarks.py)

    def preprocess(self, size: int | None = None, channels: int | None = None) -> Preprocess:
        size = size or self.default_size
        channels = channels or self.default_channels
        if size < self.min_size:
            raise EdgesignError(f"input size {size} is too small for {self.name} (minimum {self.min_size})")
        if self.transfer and channels != 3:
            raise EdgesignError(f"{self.name} has an ImageNet base and needs 3 channels, got {channels}")
        return Preprocess(size, size, channels, self.scaling)


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(name: str, *, default_size: int, default_channels: int = 3, scaling: str = "unit",
                   min_size: int = 28, transfer: bool = False, inputs: str = "image") -> Callable:
    """Decorator: record a builder ``fn(input_shape, num_classes, **options) -> keras.Model``."""

    def wrap(fn: Callable) -> Callable:
        doc = (fn.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = ModelSpec(name, fn, default_size, default_channels, scaling, min_size,
                                    doc[0] if doc else "", transfer, inputs)
        return fn

    return wrap


def list_models(pattern: str = "*", inputs: str | None = None) -> list[str]:
    """Registered names matching ``pattern``; ``inputs="image"`` or ``"hand-landmarks"`` filters by input."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern) and inputs in (None, _REGISTRY[n].inputs))


def get_spec(name: str) -> ModelSpec:
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=1, cutoff=0.3)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise EdgesignError(f"unknown model {name!r}{hint} (models: {', '.join(sorted(_REGISTRY))})")
    return _REGISTRY[name]


def create_model(name: str, input_shape: tuple[int, int, int], num_classes: int, **options: Any):
    """Build a registered model (tf-keras) for an input shape and a number of classes."""
    spec = get_spec(name)
    spec.preprocess(input_shape[0], input_shape[2])  # validates size and channels
    if min(input_shape[:2]) < spec.min_size:
        raise EdgesignError(f"input size {input_shape[0]}x{input_shape[1]} is too small for {name} "
                            f"(minimum {spec.min_size})")
    if num_classes < 2:
        raise EdgesignError(f"a classifier needs at least 2 classes, got {num_classes}")
    return spec.builder(tuple(input_shape), num_classes, **options)
