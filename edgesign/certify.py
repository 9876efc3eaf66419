"""The accuracy gate's arithmetic: a float model against its converted twin on the same data.

Pure numpy, so the gate can run on the device too (``edgesign check`` with a float .tflite).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from typing import Any

import numpy as np

from .errors import EdgesignError, GateFailed


def compare(y_true: np.ndarray, float_probs: np.ndarray, quant_probs: np.ndarray,
            class_names: list[str]) -> dict[str, Any]:
    """Accuracy of each, drop in points, top-1 agreement, per-class change, mean output difference."""
    if float_probs.shape != quant_probs.shape:
        raise EdgesignError(f"the two models disagree on the output shape: {float_probs.shape} vs {quant_probs.shape}")
    for what, probs in (("float", float_probs), ("converted", quant_probs)):
        if not np.isfinite(probs).all():
            raise EdgesignError(f"the {what} model outputs NaN or infinity: it cannot be certified (a diverged training?)")
    fp, qp = float_probs.argmax(1), quant_probs.argmax(1)
    f_acc, q_acc = float((fp == y_true).mean()), float((qp == y_true).mean())
    per_class = {}
    for c, name in enumerate(class_names):
        m = y_true == c
        if m.any():
            per_class[name] = {"float": float((fp[m] == c).mean()), "quantized": float((qp[m] == c).mean()),
                               "change_points": round(100 * float((qp[m] == c).mean() - (fp[m] == c).mean()), 3)}
    lost, gained = int(((fp == y_true) & (qp != y_true)).sum()), int(((fp != y_true) & (qp == y_true)).sum())
    return {
        "n": int(len(y_true)),
        "float_accuracy": f_acc,
        "quantized_accuracy": q_acc,
        "drop_points": round(100 * (f_acc - q_acc), 4),
        "lost": lost,
        "gained": gained,
        "drop_interval_points": drop_interval(lost, gained, len(y_true)),
        "top1_agreement": float((fp == qp).mean()),
        "mean_abs_output_diff": float(np.abs(float_probs - quant_probs).mean()),
        "per_class": per_class,
    }


def drop_interval(lost: int, gained: int, n: int, z: float = 1.96) -> list[float]:
    """The drop's 95 % interval in points, from the images the conversion got wrong that the float model got right
    (``lost``) and the reverse (``gained``): each image's change is -1, 0 or +1, and the interval is the paired mean's
    normal one. Near the budget it says how many images wide the decision is (1.15 points of 870 images: 10)."""
    if n < 2:
        return [round(100 * (lost - gained) / max(n, 1), 4)] * 2
    mean = (lost - gained) / n
    variance = ((lost + gained) / n - mean**2) * n / (n - 1)
    half = z * (max(variance, 0.0) / n) ** 0.5
    return [round(100 * (mean - half), 4), round(100 * (mean + half), 4)]


def _images(n: int) -> str:
    return f"{n} image" if n == 1 else f"{n} images"


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
    return checked_number(value, "--max-drop", "a number of accuracy points, zero or more", lambda v: v >= 0)


def validate_floor(value: Any) -> float | None:
    """``--min-accuracy``: a fraction (0.75), as in ``edgesign benchmark``; a percentage is refused, not guessed."""
    return checked_number(value, "--min-accuracy", "a fraction between 0 and 1 (0.75 for 75 %)", lambda v: 0 <= v <= 1)


def checked_number(value: Any, option: str, expected: str, valid) -> float | None:
    """An option's number (None stays None): finite and ``valid``, else one line, ``OPTION must be EXPECTED``."""
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
    if "lost" in c:  # reports written before these fields have none
        low, high = c["drop_interval_points"]
        lines.append(f"the conversion lost {_images(c['lost'])} the float model got right and gained {c['gained']}: "
                     f"the drop's 95 % interval is {low:.2f} to {high:.2f} points")
    if worst and worst[0][1]["change_points"] < 0:
        lines.append("largest per-class losses: " + ", ".join(
            f"{k} {v['change_points']:+.1f}" for k, v in worst if v["change_points"] < 0))
    return "\n".join(lines)


# `check` compares two files the user names: a model and its conversion agree on most images (ours: 97-100 %),
# two unrelated models do not, and a budget comparing them says nothing however small the difference. (A weak
# model's near-uniform outputs can disagree after quantization too: `convert`, whose pair is related by
# construction, does not apply this rule.)
MIN_AGREEMENT = 0.5


def pair_failure(c: dict[str, Any], what: str) -> str | None:
    """Why two models do not look like a model and its conversion, or None."""
    if c["top1_agreement"] >= MIN_AGREEMENT:
        return None
    return (f"{what}: the two models agree on the top class of only {100 * c['top1_agreement']:.2f} % of the "
            f"images: they are not a model and its conversion (or the conversion is broken)")


def gate_failure(c: dict[str, Any], max_drop: float | None, what: str, min_accuracy: float | None = None) -> str | None:
    """Why the comparison ``c`` fails the gate, or None when it passes.

    The budget alone passes a model that is useless in both forms (a model at chance loses nothing
    to quantization); the floor catches it.
    """
    accuracies = f"float {100 * c['float_accuracy']:.2f} %, quantized {100 * c['quantized_accuracy']:.2f} %"
    if not check_budget(c["drop_points"], max_drop):
        images = f"; {_images(c['lost'])} lost, {c['gained']} gained" if "lost" in c else ""
        return (f"{what}: accuracy drop {c['drop_points']:.2f} points exceeds the budget of {max_drop} "
                f"({accuracies}{images})")
    if not check_floor(c["quantized_accuracy"], min_accuracy):
        return (f"{what}: quantized accuracy {100 * c['quantized_accuracy']:.2f} % is under "
                f"--min-accuracy {100 * min_accuracy:.2f} % ({accuracies})")
    return None


def enforce(c: dict[str, Any], max_drop: float | None, what: str, min_accuracy: float | None = None) -> None:
    """Raise :class:`GateFailed` when the drop exceeds the budget or the accuracy is under the floor."""
    failure = gate_failure(c, max_drop, what, min_accuracy)
    if failure:
        raise GateFailed(failure)


def format_pass(c: dict[str, Any], max_drop: float | None, min_accuracy: float | None) -> str:
    floor = f", accuracy {100 * c['quantized_accuracy']:.2f} % >= {100 * min_accuracy:.2f} %" if min_accuracy is not None else ""
    return f"pass: drop {c['drop_points']:.2f} points within the budget of {max_drop}{floor}"


def certificate_figures(c: dict[str, Any], max_drop: Any, min_accuracy: float | None) -> dict[str, str]:
    """The certified figures as text: one formatting for ``edgesign info`` and the model cards."""
    floor = f", floor {100 * min_accuracy:.2f} %" if min_accuracy is not None else ""
    return {"float": f"{100 * c['float_accuracy']:.2f} %", "int8": f"{100 * c['quantized_accuracy']:.2f} %",
            "drop": f"{c['drop_points']:.2f} points (budget {max_drop}{floor})",
            "agreement": f"{100 * c['top1_agreement']:.2f} %"}


def format_certificate(cert: dict[str, Any] | None, status: str = "valid") -> str:
    """The certificate as one line, for ``edgesign info``."""
    if not cert:
        return "certified no"
    if status == "MISMATCH":
        return "certified NO LONGER: the model or its metadata changed after certification (binding mismatch)"
    what = "pipeline (hand stage + classifier) " if cert.get("pipeline") else ""
    f = certificate_figures(cert, cert.get("max_drop"), cert.get("min_accuracy"))
    bound = " [not bound to the weights: certified before edgesign 0.4]" if status == "unbound" else ""
    return (f"certified {what}float {f['float']}, int8 {f['int8']}, drop {f['drop']}, agreement {f['agreement']} "
            f"on {cert['n']} images of {cert['data']} (sha256 {cert['data_digest'][:12]}){bound}")


# ----------------------------------------------------------------------------- binding a certificate to its model

# what the certificate vouches for besides the weights: how inputs are made and outputs named
BOUND_FIELDS = ("labels", "preprocess", "target", "hand_stage", "feature_scaling")


def weights_sha256(content: bytes) -> str:
    """sha256 of the graph's constant tensors (weights, biases) with each tensor's type, shape and quantization,
    in tensor order. The metadata is left out: rewriting it keeps this hash, changing a weight does not."""
    from .metadata import buffer_bytes, schema_module

    model = schema_module().Model.GetRootAs(content, 0)
    h = hashlib.sha256()
    for g in range(model.SubgraphsLength()):
        graph = model.Subgraphs(g)
        for t in range(graph.TensorsLength()):
            tensor = graph.Tensors(t)
            shape = tensor.ShapeAsNumpy()  # int32 from one schema module, int64 from another: hash plain ints
            dims = [] if isinstance(shape, int) else [int(v) for v in shape]
            h.update(f"{g}/{t}/{int(tensor.Type())}/{dims}:".encode())
            h.update(buffer_bytes(model, tensor.Buffer(), content))
    return h.hexdigest()


def quantization_sha256(content: bytes) -> str:
    """sha256 of every tensor's quantization scales and zero points."""
    from .metadata import schema_module

    model = schema_module().Model.GetRootAs(content, 0)
    h = hashlib.sha256()
    for g in range(model.SubgraphsLength()):
        graph = model.Subgraphs(g)
        for t in range(graph.TensorsLength()):
            q = graph.Tensors(t).Quantization()
            if q is not None:
                h.update(f"{t}:".encode() + q.ScaleAsNumpy().tobytes() if q.ScaleLength() else b"")
                h.update(q.ZeroPointAsNumpy().tobytes() if q.ZeroPointLength() else b"")
    return h.hexdigest()


def binding(content: bytes, meta: dict[str, Any]) -> dict[str, str]:
    """What ties a certificate to one model: its weights, its quantization and the metadata it was measured with."""
    bound = json.dumps({k: meta.get(k) for k in BOUND_FIELDS}, sort_keys=True)
    return {"weights_sha256": weights_sha256(content), "quantization_sha256": quantization_sha256(content),
            "metadata_sha256": hashlib.sha256(bound.encode()).hexdigest()}


def certificate_status(content: bytes, meta: dict[str, Any]) -> str:
    """``none`` (not certified), ``unbound`` (certified before certificates were bound), ``valid``, or
    ``MISMATCH`` (the model or the metadata it was certified with changed after certification)."""
    cert = meta.get("certificate")
    if not cert:
        return "none"
    if "binding" not in cert:
        return "unbound"
    return "valid" if binding(content, meta) == cert["binding"] else "MISMATCH"


MISMATCH_WARNING = ("warning: {name}'s certificate does not match it: the weights, quantization, labels or "
                    "preprocessing changed after certification, so its certified accuracy says nothing about it")
