"""The accuracy gate's arithmetic: a float model against its converted twin on the same data.

Pure numpy, so the gate can run on the device too (``edgesign check`` with a float .tflite).
"""

from __future__ import annotations

import gzip
from typing import Any

import numpy as np

from .errors import EdgesignError, GateFailed


def compare(y_true: np.ndarray, float_probs: np.ndarray, quant_probs: np.ndarray,
            class_names: list[str]) -> dict[str, Any]:
    """Accuracy of each, drop in points, top-1 agreement, per-class change, mean output difference."""
    if float_probs.shape != quant_probs.shape:
        raise EdgesignError(f"the two models disagree on the output shape: {float_probs.shape} vs {quant_probs.shape}")
    fp, qp = float_probs.argmax(1), quant_probs.argmax(1)
    f_acc, q_acc = float((fp == y_true).mean()), float((qp == y_true).mean())
    per_class = {}
    for c, name in enumerate(class_names):
        m = y_true == c
        if m.any():
            per_class[name] = {"float": float((fp[m] == c).mean()), "quantized": float((qp[m] == c).mean()),
                               "change_points": round(100 * float((qp[m] == c).mean() - (fp[m] == c).mean()), 3)}
    return {
        "n": int(len(y_true)),
        "float_accuracy": f_acc,
        "quantized_accuracy": q_acc,
        "drop_points": round(100 * (f_acc - q_acc), 4),
        "top1_agreement": float((fp == qp).mean()),
        "mean_abs_output_diff": float(np.abs(float_probs - quant_probs).mean()),
        "per_class": per_class,
    }


def gzip_size(content: bytes) -> int:
    return len(gzip.compress(content, compresslevel=9))


def check_budget(drop_points: float, max_drop: float | None) -> bool:
    return max_drop is None or drop_points <= max_drop + 1e-9


def check_floor(accuracy: float, min_accuracy: float | None) -> bool:
    return min_accuracy is None or accuracy >= min_accuracy - 1e-12


def passes(c: dict[str, Any], max_drop: float | None, min_accuracy: float | None = None) -> bool:
    """Both halves of the gate: the drop within the budget, the quantized accuracy above the floor."""
    return check_budget(c["drop_points"], max_drop) and check_floor(c["quantized_accuracy"], min_accuracy)


def validate_budget(value: Any) -> float | None:
    """``--max-drop``: accuracy points, zero or more."""
    return _number(value, "--max-drop", "a number of accuracy points, zero or more", lambda v: v >= 0)


def validate_floor(value: Any) -> float | None:
    """``--min-accuracy``: a fraction (0.75), as in ``edgesign benchmark``; a percentage is refused, not guessed."""
    return _number(value, "--min-accuracy", "a fraction between 0 and 1 (0.75 for 75 %)", lambda v: 0 <= v <= 1)


def _number(value: Any, option: str, expected: str, valid) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if not (np.isfinite(v) and valid(v)):
        raise EdgesignError(f"{option} must be {expected}, got {value!r}")
    return v


def format_comparison(c: dict[str, Any], float_name: str = "float", quant_name: str = "int8",
                      sizes: dict[str, int] | None = None) -> str:
    rows = [("model", "accuracy", "size MB", "gzip MB")]
    for key, name in (("float", float_name), ("quantized", quant_name)):
        s = (sizes or {}).get(key)
        g = (sizes or {}).get(f"{key}_gzip")
        rows.append((name, f"{100 * c[f'{key}_accuracy']:.2f} %", f"{s / 1e6:.2f}" if s else "-",
                     f"{g / 1e6:.2f}" if g else "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in rows]
    worst = sorted(c["per_class"].items(), key=lambda kv: kv[1]["change_points"])[:3]
    lines.append(f"drop {c['drop_points']:.2f} points, top-1 agreement {100 * c['top1_agreement']:.2f} %, "
                 f"mean |output diff| {c['mean_abs_output_diff']:.4f}, n={c['n']}")
    if worst and worst[0][1]["change_points"] < 0:
        lines.append("largest per-class losses: " + ", ".join(
            f"{k} {v['change_points']:+.1f}" for k, v in worst if v["change_points"] < 0))
    return "\n".join(lines)


def enforce(c: dict[str, Any], max_drop: float | None, what: str, min_accuracy: float | None = None) -> None:
    """Raise :class:`GateFailed` when the drop exceeds the budget or the accuracy is under the floor.

    The budget alone passes a model that is useless in both forms (a model at chance loses nothing
    to quantization); the floor catches it.
    """
    accuracies = f"float {100 * c['float_accuracy']:.2f} %, quantized {100 * c['quantized_accuracy']:.2f} %"
    if not check_budget(c["drop_points"], max_drop):
        raise GateFailed(f"{what}: accuracy drop {c['drop_points']:.2f} points exceeds the budget of {max_drop} "
                         f"({accuracies})")
    if not check_floor(c["quantized_accuracy"], min_accuracy):
        raise GateFailed(f"{what}: quantized accuracy {100 * c['quantized_accuracy']:.2f} % is under "
                         f"--min-accuracy {100 * min_accuracy:.2f} % ({accuracies})")


def format_certificate(cert: dict[str, Any] | None) -> str:
    """The certificate as one line, for ``edgesign info`` and the model cards."""
    if not cert:
        return "certified no"
    what = "pipeline (hand stage + classifier) " if cert.get("pipeline") else ""
    floor = f", floor {100 * cert['min_accuracy']:.2f} %" if cert.get("min_accuracy") is not None else ""
    return (f"certified {what}float {100 * cert['float_accuracy']:.2f} %, int8 {100 * cert['quantized_accuracy']:.2f} %, "
            f"drop {cert['drop_points']:.2f} points (budget {cert.get('max_drop')}{floor}), agreement "
            f"{100 * cert['top1_agreement']:.2f} % on {cert['n']} images of {cert['data']} "
            f"(sha256 {cert['data_digest'][:12]})")
