"""What is inside a .tflite file: tensors, an operator histogram, Edge TPU compatibility (no TensorFlow)."""

from __future__ import annotations

import functools
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from .errors import EdgesignError
from .metadata import flatbuffer_name, schema_module


@functools.lru_cache(maxsize=1)
def _tensor_types() -> tuple[dict[int, str], set[int]]:
    """Names of the schema's ``TensorType`` values, and the types the Edge TPU maps (8-bit, int32 biases)."""
    T = schema_module().TensorType
    names = {getattr(T, n): n.lower() for n in dir(T) if n.isupper()}
    return names, {T.UINT8, T.INT8, T.INT32}


class InspectUnavailable(EdgesignError):
    """Reading a model's operators needs ai-edge-litert's flatbuffer tools (tflite-runtime has none)."""


def _model_object(content: bytes):
    try:
        from ai_edge_litert.tools import flatbuffer_utils
    except ImportError:
        raise InspectUnavailable("listing operators needs ai-edge-litert (tflite-runtime has no flatbuffer tools)") from None
    try:
        return flatbuffer_utils, flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    except Exception as exc:  # a corrupt flatbuffer raises anything from struct.error to IndexError
        raise EdgesignError(f"corrupt TFLite model: {type(exc).__name__}") from None


def operator_histogram(content: bytes) -> Counter:
    """Operator name -> count; empty when this install cannot read operators (tflite-runtime)."""
    try:
        fb, model = _model_object(content)
    except InspectUnavailable:
        return Counter()
    hist: Counter = Counter()
    for sg in model.subgraphs:
        for op in sg.operators or []:
            hist[fb.opcode_to_name(model, op.opcodeIndex) or f"op{op.opcodeIndex}"] += 1
    return hist


def tensor_type_histogram(content: bytes) -> Counter:
    """How many tensors of each type (float32, float16, int8, ...) the model holds."""
    _, model = _model_object(content)
    names, _ = _tensor_types()
    return Counter(names.get(t.type, str(t.type)) for sg in model.subgraphs for t in sg.tensors)


@functools.lru_cache(maxsize=1)
def edgetpu_table() -> dict[str, Any]:
    """The Edge TPU's documented supported operations (one data table, with its source)."""
    return json.loads((Path(__file__).parent / "edgetpu_ops.json").read_text())


def edgetpu_compatibility(content: bytes) -> dict[str, Any]:
    """Operators and tensors that would not map to the Edge TPU, with reasons."""
    fb, model = _model_object(content)
    spec = edgetpu_table()
    table = spec["operations"]
    type_names, eight_bit = _tensor_types()
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
                    if ttype not in eight_bit and name not in ("QUANTIZE", "DEQUANTIZE"):
                        reason = f"tensor {flatbuffer_name(tensor.name)} is {type_names.get(ttype, ttype)}, not 8-bit"
                        break
                    buf = model.buffers[tensor.buffer] if tensor.buffer < len(model.buffers) else None
                    constant = buf is not None and buf.data is not None and len(buf.data) > 0
                    if not constant and len(shape) > 3 and any(d > 1 for d in shape[:-3]):
                        reason = f"tensor {flatbuffer_name(tensor.name)} has shape {shape} (more than 3 dimensions > 1)"
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


def weight_sparsity(content: bytes) -> float:
    """Fraction of zeros among the weights of Conv/Dense ops (int8, float16 or float32) in a .tflite file."""
    fb, model = _model_object(content)
    names, _ = _tensor_types()
    views = {"float32": np.float32, "float16": np.float16, "int8": np.int8}
    zeros = total = 0
    for sg in model.subgraphs:
        for op in sg.operators or []:
            if fb.opcode_to_name(model, op.opcodeIndex) not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
                continue
            if len(op.inputs) < 2:
                continue
            tensor = sg.tensors[op.inputs[1]]
            buf = model.buffers[tensor.buffer]
            if buf.data is None or not len(buf.data):
                continue
            arr = np.asarray(buf.data, np.uint8).view(views.get(names.get(tensor.type), np.int8))
            zeros += int((arr == 0).sum())
            total += arr.size
    return zeros / total if total else 0.0
