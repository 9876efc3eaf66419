"""Read and write edgesign's entry in a TFLite model's metadata (no TensorFlow needed).

The ``.tflite`` file is the unit of deployment. Its flatbuffer ``Model.metadata`` list (the
standard TFLite mechanism for named side data) carries one entry named ``edgesign`` whose buffer
is UTF-8 JSON: labels, preprocessing and the accuracy certificate. Reading and writing go through
the flatbuffer schema classes that ai-edge-litert ships (``schema_py_generated``,
``tools.flatbuffer_utils``), not hand-written binary parsing.
"""

from __future__ import annotations

import importlib
import json
import struct
from typing import Any

from .errors import EdgesignError

METADATA_NAME = "edgesign"
METADATA_VERSION = 1
TFLITE_IDENTIFIER = b"TFL3"


def schema_module():
    """The generated TFLite flatbuffer schema: from ai-edge-litert, the ``tflite`` package
    (installed with the 'legacy' extra next to tflite-runtime), or TensorFlow."""
    for name in ("ai_edge_litert.schema_py_generated", "tflite", "tensorflow.lite.python.schema_py_generated"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def is_tflite(content: bytes) -> bool:
    return len(content) >= 8 and content[4:8] == TFLITE_IDENTIFIER


def read_metadata(content: bytes, schema: Any = None) -> dict[str, Any] | None:
    """edgesign's metadata dict from the model bytes, or None when the model has none."""
    if not is_tflite(content):
        raise EdgesignError("not a TFLite model (no TFL3 identifier)")
    schema = schema or schema_module()
    if schema is None:
        return None
    try:
        model = schema.Model.GetRootAs(content, 0)
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            if entry.Name() == METADATA_NAME.encode():
                buf = model.Buffers(entry.Buffer())
                data = buf.DataAsNumpy()
                return json.loads(bytes(data).decode("utf-8")) if not isinstance(data, int) else None
    except (IndexError, TypeError, ValueError, UnicodeDecodeError, json.JSONDecodeError, struct.error) as exc:
        raise EdgesignError(f"corrupt TFLite model (its flatbuffer cannot be read: {str(exc)[:120]})") from None
    return None


def write_metadata(content: bytes, meta: dict[str, Any]) -> bytes:
    """The model bytes with edgesign's metadata entry set to ``meta`` (replacing an older one)."""
    try:
        from ai_edge_litert import schema_py_generated as schema
        from ai_edge_litert.tools import flatbuffer_utils
    except ImportError:
        raise EdgesignError("writing model metadata needs ai-edge-litert: pip install ai-edge-litert") from None
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    _inline_external_buffers(model, content)
    data = list(json.dumps({"version": METADATA_VERSION, **meta}, sort_keys=True).encode("utf-8"))
    old = next((m for m in (model.metadata or []) if flatbuffer_name(m.name) == METADATA_NAME), None)
    if old is not None:  # rewrite the entry's own buffer: no orphaned copy of the old metadata stays behind
        model.buffers[old.buffer].data = data
    else:
        buf = schema.BufferT()
        buf.data = data
        model.buffers.append(buf)
        entry = schema.MetadataT()
        entry.name = METADATA_NAME
        entry.buffer = len(model.buffers) - 1
        model.metadata = list(model.metadata or []) + [entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _inline_external_buffers(model, content: bytes) -> None:
    """Buffers stored after the flatbuffer (offset and size, as ai-edge-quantizer and large models write them)
    move inside it: re-serializing the model moves everything, so an offset would point at the wrong bytes."""
    import numpy as np

    for buf in model.buffers or []:
        offset, size = int(getattr(buf, "offset", 0) or 0), int(getattr(buf, "size", 0) or 0)
        if offset > 1 and size > 0:
            buf.data = np.frombuffer(content[offset:offset + size], np.uint8).copy()
            buf.offset, buf.size = 0, 0


def buffer_bytes(model, index: int, content: bytes) -> bytes:
    """A buffer's bytes, inside the flatbuffer or after it (offset and size)."""
    buf = model.Buffers(index)
    if buf.Offset() > 1 and buf.Size() > 0:
        return content[buf.Offset():buf.Offset() + buf.Size()]
    data = buf.DataAsNumpy()
    return b"" if isinstance(data, int) else data.tobytes()


def flatbuffer_name(value: Any) -> str:
    """A name field of a flatbuffer object (bytes in the object API) as text."""
    return value.decode() if isinstance(value, (bytes, bytearray)) else str(value)
