"""The standard TFLite metadata that Model Maker, MediaPipe and TF Hub models carry (``TFLITE_METADATA``).

Read with the ``flatbuffers`` runtime that ai-edge-litert and tflite-runtime install, by the field slots of
``metadata_schema.fbs`` (tflite-support's schema): the input's normalization (mean and std per channel) and
the output's label file (``TENSOR_AXIS_LABELS``), which the model carries as a zip appended to the
flatbuffer. No tflite-support, no TensorFlow.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import flatbuffers
from flatbuffers.table import Table

from .errors import EdgesignError
from .metadata import flatbuffer_name, schema_module

ENTRY_NAME = "TFLITE_METADATA"
NORMALIZATION_OPTIONS = 1  # ProcessUnitOptions.NormalizationOptions
TENSOR_AXIS_LABELS = 2  # AssociatedFileType.TENSOR_AXIS_LABELS

# field slots (vtable offsets) of metadata_schema.fbs
MODEL_SUBGRAPHS, MODEL_NAME = 10, 4
SUBGRAPH_INPUTS, SUBGRAPH_OUTPUTS = 8, 10
TENSOR_PROCESS_UNITS, TENSOR_FILES = 12, 16
UNIT_TYPE, UNIT_OPTIONS = 4, 6
NORM_MEAN, NORM_STD = 4, 6
FILE_NAME, FILE_TYPE = 4, 8


@dataclass(frozen=True)
class StandardMetadata:
    """What edgesign uses of a model's standard metadata."""

    name: str | None
    mean: tuple[float, ...] | None  # per channel, on 0-255 pixels: value = (pixel - mean) / std
    std: tuple[float, ...] | None
    labels: list[str] | None
    label_file: str | None


def read_standard_metadata(content: bytes) -> StandardMetadata | None:
    """The model's ``TFLITE_METADATA``, or None when it carries none."""
    buf = _entry(content)
    if buf is None:
        return None
    try:
        root = Table(buf, flatbuffers.encode.Get(flatbuffers.packer.uoffset, buf, 0))
        subgraphs = _tables(root, MODEL_SUBGRAPHS)
        inputs = _tables(subgraphs[0], SUBGRAPH_INPUTS) if subgraphs else []
        outputs = _tables(subgraphs[0], SUBGRAPH_OUTPUTS) if subgraphs else []
        mean, std = _normalization(inputs[0]) if inputs else (None, None)
        label_file = _label_file(outputs[0]) if outputs else None
    except (IndexError, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise EdgesignError(f"corrupt TFLITE_METADATA in the model ({type(exc).__name__})") from None
    labels = _packed_labels(content, label_file) if label_file else None
    return StandardMetadata(_string(root, MODEL_NAME), mean, std, labels, label_file)


def _entry(content: bytes) -> bytearray | None:
    schema = schema_module()
    if schema is None:
        return None
    model = schema.Model.GetRootAs(content, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if flatbuffer_name(entry.Name()) == ENTRY_NAME:
            data = model.Buffers(entry.Buffer()).DataAsNumpy()
            return None if isinstance(data, int) else bytearray(data.tobytes())
    return None


def _offset(t: Table, slot: int) -> int:
    return t.Offset(slot)


def _string(t: Table, slot: int) -> str | None:
    o = _offset(t, slot)
    return t.String(o + t.Pos).decode("utf-8") if o else None


def _tables(t: Table, slot: int) -> list[Table]:
    o = _offset(t, slot)
    if not o:
        return []
    start = t.Vector(o)
    return [Table(t.Bytes, t.Indirect(start + 4 * i)) for i in range(t.VectorLen(o))]


def _floats(t: Table, slot: int) -> tuple[float, ...] | None:
    o = _offset(t, slot)
    if not o:
        return None
    start = t.Vector(o)
    return tuple(float(flatbuffers.encode.Get(flatbuffers.packer.float32, t.Bytes, start + 4 * i))
                 for i in range(t.VectorLen(o)))


def _byte(t: Table, slot: int) -> int:
    o = _offset(t, slot)
    return t.Get(flatbuffers.number_types.Uint8Flags, o + t.Pos) if o else 0


def _normalization(tensor: Table) -> tuple[tuple[float, ...] | None, tuple[float, ...] | None]:
    for unit in _tables(tensor, TENSOR_PROCESS_UNITS):
        if _byte(unit, UNIT_TYPE) == NORMALIZATION_OPTIONS:
            options = Table(bytearray(), 0)
            unit.Union(options, _offset(unit, UNIT_OPTIONS))
            return _floats(options, NORM_MEAN), _floats(options, NORM_STD)
    return None, None


def _label_file(tensor: Table) -> str | None:
    for f in _tables(tensor, TENSOR_FILES):
        if _byte(f, FILE_TYPE) == TENSOR_AXIS_LABELS:
            return _string(f, FILE_NAME)
    return None


def _packed_labels(content: bytes, name: str) -> list[str]:
    """The label file packed in the model (a zip appended to the flatbuffer), one label a line."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as z:
            text = z.read(name).decode("utf-8")
    except (zipfile.BadZipFile, KeyError):
        raise EdgesignError(f"the model's metadata names the label file {name!r}, but the model does not pack it") from None
    return [line.strip() for line in text.splitlines() if line.strip()]
