"""What is inside a .tflite file: tensors, an operator histogram, Edge TPU compatibility (no TensorFlow)."""

from __future__ import annotations

import functools
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from .errors import EdgesignError

_TYPE_NAMES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 9: "int8", 7: "int16"}


def _model_object(content: bytes):
    try:
        from ai_edge_litert.tools import flatbuffer_utils
    except ImportError:
        raise EdgesignError("inspecting operators needs ai-edge-litert") from None
    try:
        return flatbuffer_utils, flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    except Exception as exc:  # a corrupt flatbuffer raises anything from struct.error to IndexError
        raise EdgesignError(f"corrupt TFLite model: {type(exc).__name__}") from None


def operator_histogram(content: bytes) -> Counter:
    fb, model = _model_object(content)
    hist: Counter = Counter()
    for sg in model.subgraphs:
        for op in sg.operators or []:
            hist[fb.opcode_to_name(model, op.opcodeIndex) or f"op{op.opcodeIndex}"] += 1
    return hist


@functools.lru_cache(maxsize=1)
def edgetpu_table() -> dict[str, Any]:
    """The Edge TPU's documented supported operations (one data table, with its source)."""
    from edgesign import converters  # its __init__ imports nothing heavy: no TensorFlow

    return json.loads((Path(converters.__file__).parent / "edgetpu_ops.json").read_text())


def edgetpu_compatibility(content: bytes) -> dict[str, Any]:
    """Operators and tensors that would not map to the Edge TPU, with reasons."""
    fb, model = _model_object(content)
    spec = edgetpu_table()
    table = spec["operations"]
    problems: list[str] = []
    unmapped: Counter = Counter()
    for sg in model.subgraphs:
        tensors = sg.tensors
        for op in sg.operators or []:
            name = fb.opcode_to_name(model, op.opcodeIndex) or f"op{op.opcodeIndex}"
            reason = None
            if name not in table:
                reason = "operation not supported by the Edge TPU"
            else:
                for t in list(op.inputs) + list(op.outputs):
                    if t < 0:
                        continue
                    tensor = tensors[t]
                    ttype = tensor.type
                    shape = [int(v) for v in (tensor.shape if tensor.shape is not None else [])]
                    if ttype not in (3, 9, 2) and name not in ("QUANTIZE", "DEQUANTIZE"):
                        reason = f"tensor {_decode(tensor.name)} is {_TYPE_NAMES.get(ttype, ttype)}, not 8-bit"
                        break
                    buf = model.buffers[tensor.buffer] if tensor.buffer < len(model.buffers) else None
                    constant = buf is not None and buf.data is not None and len(buf.data) > 0
                    if not constant and len(shape) > 3 and any(d > 1 for d in shape[:-3]):
                        reason = f"tensor {_decode(tensor.name)} has shape {shape} (more than 3 dimensions > 1)"
                        break
            if reason:
                unmapped[f"{name}: {reason}"] += 1
    for key, count in unmapped.items():
        problems.append(f"{count}x {key}")
    total = sum(len(sg.operators or []) for sg in model.subgraphs)
    return {"operators": total, "unmapped": sum(unmapped.values()), "problems": problems,
            "all_supported": not problems, "source": spec["source"]}


def tensor_summary(detail: dict[str, Any]) -> str:
    scale, zero = detail.get("quantization", (0.0, 0))
    q = f", scale {scale:.6g}, zero point {zero}" if scale else ""
    return f"{detail['name']}: {list(np.asarray(detail['shape']).tolist())} {np.dtype(detail['dtype']).name}{q}"


def _decode(v: Any) -> str:
    return v.decode() if isinstance(v, (bytes, bytearray)) else str(v)
