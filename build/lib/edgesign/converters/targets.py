"""The table of conversion targets: the single source of truth read by convert, benchmark and the gate.

Adding a target is one row here (plus, if it needs a new step, one function in convert.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from edgesign.errors import EdgesignError


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
    description: str


TARGETS: tuple[Target, ...] = (
    Target("float32", "_float32", "float32", "float32", False, False, False, False, "no quantization"),
    Target("float16", "_float16", "float16", "float32", False, False, False, False, "float16 weights, float compute"),
    Target("dynamic", "_dynamic", "int8", "float32", False, False, False, False,
           "dynamic range: int8 weights, float activations"),
    Target("int8", "_int8", "int8", "int8", True, False, False, False,
           "full integer, calibrated on real images (post-training)"),
    Target("int8-pruned", "_pruned_int8", "int8", "int8", True, True, False, False,
           "magnitude pruning to a target sparsity, then full integer"),
    Target("qat-int8", "_qat_int8", "int8", "int8", True, False, True, False,
           "quantization-aware training, then full integer"),
    Target("pqat-int8", "_pqat_int8", "int8", "int8", True, True, True, False,
           "pruning, then prune-preserving QAT (sparsity survives), then full integer"),
    Target("edgetpu", "_edgetpu", "int8", "int8", True, False, False, True,
           "full integer (uint8 I/O), then the Edge TPU compiler"),
)

_BY_NAME = {t.name: t for t in TARGETS}


def get_target(name: str) -> Target:
    if name not in _BY_NAME:
        raise EdgesignError(f"unknown target {name!r}: one of {', '.join(_BY_NAME)}")
    return _BY_NAME[name]


def target_names() -> list[str]:
    return [t.name for t in TARGETS]


def resolve_target(target: str | None, *, int8: bool, prune: float | None, qat: bool, edgetpu: bool) -> Target:
    """The target named by ``--target`` or implied by the shortcut flags (--int8, --prune, --qat, --edgetpu)."""
    if target:
        return get_target(target)
    if edgetpu:
        if not int8:
            raise EdgesignError("--edgetpu needs a full-int8 model: add --int8")
        return get_target("edgetpu")
    if prune and qat:
        return get_target("pqat-int8")
    if qat:
        return get_target("qat-int8")
    if prune:
        return get_target("int8-pruned") if int8 else _pruned_float()
    return get_target("int8" if int8 else "float32")


def _pruned_float() -> Target:
    raise EdgesignError("--prune without --int8 or --qat is not a target: use --prune X --int8 "
                        "(pruned + int8) or --prune X --qat (prune-preserving QAT)")
