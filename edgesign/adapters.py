"""Tensors in, classes out: the small pure functions between an interpreter and its caller.

As pycoral's ``adapters.classify``: quantize an input, dequantize an output, run one vector through an
interpreter, take the top classes. No state, no model files, no printing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Prediction:
    label: str
    index: int
    probability: float


def quantize(values: np.ndarray, scale: float, zero_point: int, dtype: np.dtype) -> np.ndarray:
    """Float values to an int8/uint8 tensor with the tensor's scale and zero point."""
    info = np.iinfo(dtype)
    q = np.round(values / scale) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(values: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """An int8/uint8 tensor to float32 with the tensor's scale and zero point."""
    if not scale:
        return values.astype(np.float32)
    return (values.astype(np.float32) - zero_point) * np.float32(scale)


def to_input(values: np.ndarray, details: dict[str, Any]) -> np.ndarray:
    """Float values as the input tensor described by ``details`` (quantized when it is integer)."""
    if details["dtype"] == np.float32:
        return values.astype(np.float32)
    return quantize(values, *details["quantization"], details["dtype"])


def from_output(raw: np.ndarray, details: dict[str, Any]) -> np.ndarray:
    """An output tensor as float32 (dequantized when it is integer)."""
    return raw if raw.dtype == np.float32 else dequantize(raw, *details["quantization"])


def invoke_vector(interpreter, values: np.ndarray, details: tuple[dict, dict] | None = None) -> np.ndarray:
    """One float vector through a single-input, single-output interpreter; the float output row.

    ``details``: the interpreter's (input, output) details, when the caller keeps them: LiteRT builds them
    anew on every ``get_*_details()`` call (about 5 us each here, more than the landmark classifier's invoke)."""
    i, o = details or (interpreter.get_input_details()[0], interpreter.get_output_details()[0])
    interpreter.set_tensor(i["index"], to_input(values[None], i))
    interpreter.invoke()
    return from_output(interpreter.get_tensor(o["index"]), o)[0]


def top_k(probs: np.ndarray, k: int, threshold: float = 0.0) -> list[tuple[int, float]]:
    """The k largest entries of a probability vector as (index, probability), best first.

    Entries under ``threshold`` are dropped, but the best one is always kept: a result is never empty.
    """
    k = max(1, min(k, probs.shape[-1]))
    # a stable sort: tied classes come out in index order on every platform (argpartition's order differs)
    idx = np.argsort(-probs, kind="stable")[:k]
    return [(int(i), float(probs[i])) for n, i in enumerate(idx) if n == 0 or probs[i] >= threshold]
