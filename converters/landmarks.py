"""Convert a landmark run to a certified pipeline file: int8 classifier + the hand stage it needs.

Calibration uses landmark features of the run's own training signers; the certificate compares the
float (Keras) and converted pipelines on held-out photos, no-hand images included (both answer
``Nothing`` there), so its accuracy is the pipeline's, not the classifier's alone.
"""

from __future__ import annotations

import datetime as _dt
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgesign import __version__, atomic
from edgesign.certify import binding, compare, enforce, format_comparison, gzip_size, passes
from edgesign.errors import EdgesignError
from edgesign.hands import HandSettings
from edgesign.metadata import write_metadata
from edgesign.pipeline import files_digest, hand_stage_metadata
from edgesign.targets import Target
from edgesign.training.handdata import extract_folder
from edgesign.training.landmarks import (
    known_subset,
    pipeline_probabilities,
    run_data_folders,
    standardize,
    trained_on,
    training_sets,
)
from edgesign.training.run import load_keras_model
from edgesign.training.tf_env import tf

from .convert import _log
from .tflite import calibration_inputs, converter_call


def _calibration(cfg: dict[str, Any], settings: HandSettings, n: int, seed: int = 0) -> np.ndarray:
    sets = training_sets({**cfg["train"], "data": run_data_folders(cfg)}, settings)
    x = standardize(np.concatenate([s.features() for s in sets]), cfg["feature_scaling"])
    return x[np.random.default_rng(seed).permutation(len(x))[:n]]


def _tflite(model, target: Target, calib: np.ndarray) -> bytes:
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if target.activations == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: calibration_inputs(row[None] for row in calib)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    elif target.weights == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif target.weights == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    with converter_call():
        return bytes(converter.convert())


def _tflite_predict(content: bytes):
    from edgesign.adapters import invoke_vector
    from edgesign.interpreter import load_backend, make_interpreter

    it = make_interpreter(content, load_backend("auto"), 1)
    details = it.get_input_details()[0], it.get_output_details()[0]
    return lambda x: np.stack([invoke_vector(it, row, details) for row in x])


def _pipeline_gate(model, content: bytes, cfg: dict[str, Any], settings: HandSettings, eval_data: str,
                   target: Target, max_drop: float | None, min_accuracy: float | None) -> tuple[dict, dict, dict]:
    """The float (Keras) and converted pipelines on ``eval_data``: (comparison, certificate, the report's
    evaluation)."""
    classes = list(cfg["classes"])
    held, y = known_subset(extract_folder(eval_data, settings), classes)
    scaling = cfg["feature_scaling"]
    f = pipeline_probabilities(model, held, classes, scaling)
    q = pipeline_probabilities(None, held, classes, scaling, predict=_tflite_predict(content))
    c = compare(y, f, q, classes)
    _log(format_comparison(c, "float (Keras)", target.name))
    certificate = {
        "data": held.source, "data_digest": files_digest(held.files), "n": c["n"], "pipeline": True,
        "hands_found": round(float(held.found.mean()), 6),
        "float_accuracy": round(c["float_accuracy"], 6), "quantized_accuracy": round(c["quantized_accuracy"], 6),
        "drop_points": c["drop_points"], "top1_agreement": round(c["top1_agreement"], 6),
        "max_drop": max_drop, "min_accuracy": min_accuracy, "passed": bool(passes(c, max_drop, min_accuracy)),
        "calibration": ", ".join(trained_on(cfg["train"]))}
    return c, certificate, {"data": held.source, **c}


def convert_landmark_run(run: Path, cfg: dict[str, Any], target: Target, out: Path | None, eval_data: str | None,
                         calib_size: int, max_drop: float | None, min_accuracy: float | None,
                         on_report: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Convert a landmark run's classifier to ``target`` as one pipeline file, certified on ``eval_data`` when given;
    ``on_report`` sees the report before the gate decides (CI summaries are written for a failed gate too)."""
    if target.prune or target.qat or target.edgetpu:
        why = ("its hand models are float16 and run on the CPU, so the pipeline does" if target.edgetpu else
               "pruning and quantization-aware training fine-tune image models; this one converts to int8 directly")
        raise EdgesignError(f"target {target.name} is not available for a landmark classifier ({why}): use int8, "
                            "float16, dynamic or float32")
    t0 = time.perf_counter()
    out = out or run / f"{run.name}_{target.name}.tflite"
    if out.suffix != ".tflite":
        raise EdgesignError(f"output must end in .tflite: {out}")
    settings = HandSettings(**cfg["hand"])
    classes = list(cfg["classes"])
    model = load_keras_model(run / "model.keras")
    calib = _calibration(cfg, settings, max(calib_size, 1)) if target.activations == "int8" else None
    _log(f"converting the landmark classifier to {target.name}")
    content = _tflite(model, target, calib)
    meta = {"labels": classes, "target": target.name, "model": cfg["train"]["model"], "kind": cfg["kind"],
            "hand_stage": hand_stage_metadata(settings), "feature_scaling": cfg["feature_scaling"], "created": _dt.date.today().isoformat(),
            "edgesign": __version__, "trained_on": trained_on(cfg["train"])}
    report: dict[str, Any] = {"source": str(run), "target": target.name, "max_drop": max_drop,
                              "min_accuracy": min_accuracy, "sizes": {"bytes": len(content), "gzip_bytes": gzip_size(content)}}
    comparison = None
    if eval_data:
        comparison, meta["certificate"], report["evaluation"] = _pipeline_gate(
            model, content, cfg, settings, eval_data, target, max_drop, min_accuracy)
    report["passed"] = comparison is None or meta["certificate"]["passed"]
    if on_report is not None:
        on_report(report)
    if not report["passed"]:
        enforce(comparison, max_drop, f"{target.name} pipeline not written", min_accuracy)
    if "certificate" in meta:  # the certificate vouches for these weights and this metadata only
        meta["certificate"]["binding"] = binding(content, meta)
    final = write_metadata(content, meta)
    atomic.write_bytes(out, final)
    report.update(output=str(out), seconds=round(time.perf_counter() - t0, 1))
    atomic.write_json(out.with_suffix(".report.json"), report)
    return report

