"""`edgesign convert`: a trained model -> a certified TFLite model, with the accuracy gate.

The float (Keras) model and the converted one are evaluated on the same held-out data, the
converted one through the device runtime. The certificate (accuracies, data name and content
hash, budget) is embedded in the model's metadata and written as a JSON report next to it.
"""

from __future__ import annotations

import datetime as _dt
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgesign import __version__, atomic
from edgesign.certify import (
    compare,
    enforce,
    format_comparison,
    gzip_size,
    passes,
    validate_budget,
    validate_floor,
)
from edgesign.data import Dataset, load_dataset
from edgesign.errors import EdgesignError
from edgesign.metadata import write_metadata
from edgesign.preprocess import Preprocess
from edgesign.runtime import EdgeModel
from edgesign.training.pipeline import Augment
from edgesign.training.train import load_run, predict_probs

from . import optimize
from .targets import Target, get_target
from .tflite import convert, kernel_sparsity, tflite_sparsity

EDGETPU_FLOAT_WARNING = ("layers kept in float do not run on the Edge TPU: they split the graph and run on the "
                         "CPU, with a round trip per split")


@dataclass
class ConvertOptions:
    target: Target
    calib_data: str | None = None
    calib_size: int = 300
    eval_data: str | None = None
    max_drop: float | None = None
    min_accuracy: float | None = None  # floor on the converted model's accuracy on eval_data (0-1)
    out: str | None = None
    io_type: str = "int8"
    sparsity: float = 0.5
    finetune_epochs: int = 2
    train_data: str | None = None
    auto: bool = False
    debug_csv: bool = True
    seed: int = 0
    extra_meta: dict[str, Any] = field(default_factory=dict)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _default_out(source: Path, target: Target) -> Path:
    stem = source.name if source.is_dir() else source.stem
    folder = source if source.is_dir() else source.parent
    return folder / f"{stem}{target.suffix}.tflite"


def _evaluate_tflite(content: bytes, data: Dataset) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "candidate.tflite"
        path.write_bytes(content)
        model = EdgeModel(path, warn=False)
        return model.probabilities_batch(data.images, progress=f"evaluating {path.name} on the device runtime")


def convert_model(source: str, opts: ConvertOptions) -> dict[str, Any]:
    """Convert ``source`` (a run folder or a Keras model file); returns the report (also written)."""
    src = Path(source)
    target = opts.target
    max_drop = validate_budget(opts.max_drop)
    min_accuracy = validate_floor(opts.min_accuracy)
    if min_accuracy is not None and not opts.eval_data:
        raise EdgesignError("--min-accuracy needs held-out data to measure it on: pass --eval DIR")
    if target.edgetpu and target.activations != "int8":
        raise EdgesignError("--edgetpu needs a full-int8 model")
    t_start = time.perf_counter()
    model, pre, classes, run_cfg = load_run(src)
    n_out = int(model.output_shape[-1])
    out = Path(opts.out) if opts.out else _default_out(src, target)
    if out.suffix != ".tflite":
        raise EdgesignError(f"output must end in .tflite: {out}")

    calib = calib_full = None
    if target.calibrated:
        if not opts.calib_data:
            raise EdgesignError(f"target {target.name} needs real calibration images: pass --calib DIR")
        calib_full = load_dataset(opts.calib_data, pre)
        calib_full.check_classes(classes, n_out, "calibration")
        classes = calib_full.class_names
        if len(calib_full) < opts.calib_size:
            raise EdgesignError(f"fewer calibration images than asked: {len(calib_full)} in {opts.calib_data}, "
                                f"--calib-size {opts.calib_size}")
        calib = calib_full.stratified_sample(opts.calib_size, opts.seed)
    evalset = None
    if opts.eval_data:
        evalset = load_dataset(opts.eval_data, pre)
        evalset.check_classes(classes, n_out, "evaluation")
        classes = evalset.class_names
    if not classes:
        classes = [str(i) for i in range(n_out)]

    # fine-tunes (pruning, QAT) use the augmentation the model was trained with: without it, background
    # swap above all, a fine-tune unlearns the robustness that augmentation gave
    run_augment = run_cfg.get("train", {}).get("augment")
    augment = Augment.from_dict(run_augment) if run_augment is not None else Augment()
    variant, steps = _optimized_variant(model, target, opts, pre, calib_full, classes, augment)
    _log(f"converting to {target.name} ({target.description})")
    content = convert(variant, target, calib, pre, opts.io_type)
    float_content = content if target.name == "float32" else convert(model, get_target("float32"), None, pre)

    report: dict[str, Any] = {
        "edgesign": __version__, "date": _dt.date.today().isoformat(), "source": str(src),
        "model": run_cfg.get("train", {}).get("model", model.name), "target": target.name,
        "io_type": opts.io_type if target.activations == "int8" else "float32",
        "preprocess": pre.to_dict(), "labels": classes, "max_drop": max_drop, "min_accuracy": min_accuracy,
        "steps": steps,
    }
    if calib is not None:
        report["calibration"] = {"data": calib_full.source, "digest": calib_full.digest, "n": len(calib),
                                 "sampling": "stratified"}
    if target.prune or target.qat:
        report["finetune_augment"] = {"from": "run" if run_augment is not None else "defaults", **augment.to_dict()}
    if target.prune:
        report["sparsity_keras"] = kernel_sparsity(variant)

    comparison = None
    float_probs = None
    if evalset is not None:
        _log(f"evaluating the float model on {len(evalset)} images of {evalset.source}")
        float_probs = predict_probs(model, evalset, pre)
        comparison = compare(evalset.labels, float_probs, _evaluate_tflite(content, evalset), classes)
        if opts.auto and max_drop is not None and comparison["drop_points"] > max_drop and target.activations == "int8":
            content, comparison, auto_steps = _auto(model, target, opts, pre, calib_full, evalset, float_probs, augment,
                                                    classes, comparison, max_drop, out)
            report["auto"] = auto_steps
    gz = gzip_size(content)  # after the ladder, which may replace content
    float_gz = gz if float_content is content else gzip_size(float_content)
    report["sizes"] = {"float32_bytes": len(float_content), "float32_gzip_bytes": float_gz,
                       "bytes": len(content), "gzip_bytes": gz,
                       "ratio_to_float32": round(len(content) / len(float_content), 4),
                       "gzip_ratio_to_float32": round(gz / len(float_content), 4)}
    report["sparsity_tflite"] = round(tflite_sparsity(content), 4)
    if target.activations == "int8" and calib is not None and opts.debug_csv and "auto" not in report:
        report["layer_error"] = _layer_error_summary(variant if not target.qat else model, calib, pre, out)
    if comparison is not None:
        report["evaluation"] = {"data": evalset.source, "digest": evalset.digest, **comparison}
    passed = comparison is None or passes(comparison, max_drop, min_accuracy)
    report["passed"] = bool(passed)
    report["seconds"] = round(time.perf_counter() - t_start, 1)

    meta = {"labels": classes, "preprocess": pre.to_dict(), "target": target.name, "model": report["model"],
            "recipe": run_cfg.get("train", {}).get("recipe"), "created": report["date"], "edgesign": __version__,
            **opts.extra_meta}
    if comparison is not None:
        meta["certificate"] = {
            "data": evalset.source, "data_digest": evalset.digest, "n": comparison["n"],
            "float_accuracy": round(comparison["float_accuracy"], 6),
            "quantized_accuracy": round(comparison["quantized_accuracy"], 6),
            "drop_points": comparison["drop_points"], "top1_agreement": round(comparison["top1_agreement"], 6),
            "max_drop": max_drop, "min_accuracy": min_accuracy, "passed": bool(passed),
            "calibration": report.get("calibration", {}).get("data"),
        }
    report_path = out.with_suffix(".report.json")
    _log(format_comparison(comparison, "float (Keras)", target.name, {
        "float": len(float_content), "float_gzip": float_gz, "quantized": len(content), "quantized_gzip": gz}) if comparison else
        f"{target.name}: {len(content) / 1e6:.2f} MB (float32 {len(float_content) / 1e6:.2f} MB); no --eval data, "
        "not certified")
    if not passed:
        report["output"] = None
        atomic.write_json(report_path, report)
        enforce(comparison, max_drop, f"{target.name} model not written ({report_path} has the details)", min_accuracy)
    final = write_metadata(content, meta)
    atomic.write_bytes(out, final)
    report["output"] = str(out)
    report["sizes"]["bytes_with_metadata"] = len(final)
    atomic.write_json(report_path, report)
    if target.edgetpu:
        from .edgetpu import compile_or_check

        report["edgetpu"] = compile_or_check(out)
        atomic.write_json(report_path, report)
    _log(f"wrote {out} ({len(final) / 1e6:.2f} MB) and {report_path}")
    return report


def _optimized_variant(model, target: Target, opts: ConvertOptions, pre: Preprocess, calib_full: Dataset | None,
                       classes: list[str], augment: Augment):
    steps: list[str] = []
    if not (target.prune or target.qat):
        return model, steps
    train = load_dataset(opts.train_data, pre) if opts.train_data else calib_full
    if train is None:
        raise EdgesignError(f"target {target.name} fine-tunes on training data: pass --train-data or --calib")
    train.check_classes(classes, int(model.output_shape[-1]), "training")
    variant = model
    if target.prune:
        variant = optimize.prune(variant, train, pre, opts.sparsity, opts.finetune_epochs, augment=augment)
        steps.append(f"pruned to {opts.sparsity:.0%} sparsity ({opts.finetune_epochs} epochs)")
    if target.qat:
        variant = optimize.quantize_aware(variant, train, pre, opts.finetune_epochs, preserve_sparsity=target.prune,
                                          augment=augment)
        steps.append(f"QAT ({opts.finetune_epochs} epochs{', prune-preserving' if target.prune else ''})")
    return variant, steps


def _layer_error_summary(model, calib: Dataset, pre: Preprocess, out: Path, worst: int = 5) -> dict[str, Any]:
    from .debugger import layer_errors

    csv_path = out.with_suffix(".layers.csv")
    sample = calib.stratified_sample(min(len(calib), 64))
    try:
        rows = layer_errors(model, sample, pre, csv_path)
    except Exception as exc:  # the debugger is a diagnostic: its failure must not fail the conversion
        _log(f"warning: per-layer quantization error not available ({str(exc).splitlines()[0][:120]})")
        return {"error": str(exc).splitlines()[0][:200]}
    top = [{"tensor": r["tensor_name"].split(";")[0], "op": r["op_name"], "rmse/scale": round(r["rmse/scale"], 4)}
           for r in rows[:worst]]
    if top:
        _log("worst layers by RMSE/scale: " + ", ".join(f"{t['tensor']} ({t['rmse/scale']:.3f})" for t in top))
    return {"csv": str(csv_path), "worst": top}


def _auto(model, target, opts, pre, calib_full, evalset, float_probs, augment, classes, first, max_drop, out):
    """Accuracy-aware conversion: stop at the first step that meets the budget."""
    from .debugger import layer_errors, selective_model

    tried = [{"step": "int8", "drop_points": first["drop_points"], "passed": False}]

    def attempt(name: str, content: bytes, **extra):
        c = compare(evalset.labels, float_probs, _evaluate_tflite(content, evalset), classes)
        ok = c["drop_points"] <= max_drop
        tried.append({"step": name, "drop_points": c["drop_points"], "passed": ok, **extra})
        _log(f"auto: {name}: drop {c['drop_points']:.2f} points -> {'pass' if ok else 'miss'}")
        return c, ok

    n_big = min(len(calib_full), max(opts.calib_size * 4, 1000))
    big = calib_full.stratified_sample(n_big, opts.seed + 1)
    content = convert(model, target, big, pre, opts.io_type)
    c, ok = attempt(f"larger calibration set ({n_big} images)", content)
    if ok:
        return content, c, {"tried": tried, "passed_step": tried[-1]["step"]}
    qat = optimize.quantize_aware(model, calib_full, pre, epochs=2, augment=augment)
    content = convert(qat, get_target("qat-int8"), big, pre, opts.io_type)
    c, ok = attempt("QAT (2 epochs)", content)
    if ok:
        return content, c, {"tried": tried, "passed_step": tried[-1]["step"]}
    rows = layer_errors(model, big.stratified_sample(64), pre, out.with_suffix(".layers.csv"))
    for k in (1, 3, 5):
        names = [r["tensor_name"] for r in rows[:k]]
        content = selective_model(model, big, pre, names)
        c, ok = attempt(f"worst {k} layer(s) kept in float", content, float_layers=names)
        if ok:
            _log(f"warning: {EDGETPU_FLOAT_WARNING}")
            return content, c, {"tried": tried, "passed_step": tried[-1]["step"], "float_layers": names,
                                "warning": EDGETPU_FLOAT_WARNING}
    return content, c, {"tried": tried, "passed_step": None}
