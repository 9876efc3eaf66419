"""The table of conversion targets: the single source of truth (as Ultralytics' ``export_formats()``).

``convert`` (its flags, their rules, ``--target``'s help, the I/O types it allows), the runtime (which
files go to the Edge TPU), the benchmarks and the tests all read this table. It lives in the runtime so
that the device side can read it too; converters import it from here.

Adding a target is one row here (plus, if it needs a new step, one function in converters/convert.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import EdgesignError


@dataclass(frozen=True)
class Target:
    name: str
    suffix: str  # appended to the model name for default output files
    weights: str  # float32 | float16 | int8
    activations: str  # float32 | int8
    calibrated: bool  # needs a representative dataset of real images
    prune: bool  # magnitude pruning fine-tune before conversion
    qat: bool  # quantization-aware training before conversion
    edgetpu: bool  # compiled (or checked) for the Edge TPU
    io_types: tuple[str, ...]  # input/output types it can have; the first is the default
    description: str

    @property
    def integer(self) -> bool:
        """Full integer: int8 weights and activations (what an Edge TPU or a micro-controller runs)."""
        return self.weights == "int8" and self.activations == "int8"


_FLOAT_IO = ("float32",)
_INT_IO = ("int8", "uint8", "float32")

TARGETS: tuple[Target, ...] = (
    Target("float32", "_float32", "float32", "float32", False, False, False, False, _FLOAT_IO, "no quantization"),
    Target("float16", "_float16", "float16", "float32", False, False, False, False, _FLOAT_IO,
           "float16 weights, float compute"),
    Target("dynamic", "_dynamic", "int8", "float32", False, False, False, False, _FLOAT_IO,
           "dynamic range: int8 weights, float activations"),
    Target("int8", "_int8", "int8", "int8", True, False, False, False, _INT_IO,
           "full integer, calibrated on real images (post-training)"),
    Target("int8-pruned", "_pruned_int8", "int8", "int8", True, True, False, False, _INT_IO,
           "magnitude pruning to a target sparsity, then full integer"),
    Target("qat-int8", "_qat_int8", "int8", "int8", True, False, True, False, _INT_IO,
           "quantization-aware training, then full integer"),
    Target("pqat-int8", "_pqat_int8", "int8", "int8", True, True, True, False, _INT_IO,
           "pruning, then prune-preserving QAT (sparsity survives), then full integer"),
    # the Edge TPU takes uint8 at its boundary (int8 works, with a CPU re-quantize on each side)
    Target("edgetpu", "_edgetpu", "int8", "int8", True, False, False, True, ("uint8", "int8"),
           "full integer (uint8 I/O), then the Edge TPU compiler"),
)

_BY_NAME = {t.name: t for t in TARGETS}


def get_target(name: str) -> Target:
    if name not in _BY_NAME:
        raise EdgesignError(f"unknown target {name!r}: one of {', '.join(_BY_NAME)}")
    return _BY_NAME[name]


def target_help() -> str:
    """``--target``'s help, from the table."""
    return "; ".join(f"{t.name}: {t.description}" for t in TARGETS)


def for_model_file(path: str | os.PathLike) -> Target | None:
    """The target a model's file name ends with (``m_edgetpu.tflite``: edgetpu), or None.

    The name, not the metadata, decides where ``--device auto`` runs a model: the Edge TPU compiler
    writes ``*_edgetpu.tflite``, and a converted model it has not compiled yet must still run on the CPU.
    """
    stem = Path(path).stem
    return next((t for t in sorted(TARGETS, key=lambda t: -len(t.suffix)) if stem.endswith(t.suffix)), None)


def resolve_target(target: str | None, *, int8: bool, prune: float | None, qat: bool, edgetpu: bool) -> Target:
    """The target named by ``--target`` or implied by the shortcut flags (--int8, --prune, --qat, --edgetpu).

    The one place that says --edgetpu needs a full-integer model.
    """
    if target:
        chosen = get_target(target)
        if edgetpu and not chosen.edgetpu:
            raise EdgesignError(f"--edgetpu needs a full-int8 model: use --int8 (not --target {target})")
        return chosen
    if edgetpu:
        if not int8:
            raise EdgesignError("--edgetpu needs a full-int8 model: add --int8")
        return get_target("edgetpu")
    if prune and qat:
        return get_target("pqat-int8")
    if qat:
        return get_target("qat-int8")
    if prune:
        if not int8:
            raise EdgesignError("--prune without --int8 or --qat is not a target: use --prune X --int8 "
                                "(pruned + int8) or --prune X --qat (prune-preserving QAT)")
        return get_target("int8-pruned")
    return get_target("int8" if int8 else "float32")


def resolve_io(target: Target, io: str | None) -> str:
    """``--io`` for ``target``: its default when not given; refused when the target cannot have it."""
    if io is None:
        return target.io_types[0]
    if io not in target.io_types:
        raise EdgesignError(f"--io {io} is not possible for target {target.name}: one of {', '.join(target.io_types)}")
    return io
