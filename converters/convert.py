"""`edgesign convert`: a trained model -> a certified TFLite model, with the accuracy gate.

The float (Keras) model and the converted one are evaluated on the same held-out data, the
converted one through the device runtime. The certificate (accuracies, data name and content
hash, budget) is embedded in the model's metadata and written as a JSON report next to it.
"""

from __future__ import annotations

import datetime as _dt
import sys
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgesign import __version__, atomic
from edgesign.certify import (
    binding,
    compare,
    enforce,
    format_comparison,
    gzip_size,
    passes,
    validate_budget,
    validate_floor,
)
from edgesign.data import Dataset, load_dataset, load_sample
from edgesign.errors import EdgesignError
from edgesign.inspect import weight_sparsity
from edgesign.metadata import write_metadata
from edgesign.preprocess import Overrides, Preprocess
from edgesign.runtime import EdgeModel
from edgesign.targets import Target, get_target, resolve_io
from edgesign.training.augment import Augment

from .float_models import FINE_TUNE_NEEDS_KERAS2, FloatModel, load_float_model

EDGETPU_FLOAT_WARNING = ("layers kept in float do not run on the Edge TPU: they split the graph and run on the "
                         "CPU, with a round trip per split")


@dataclass
class ConvertOptions:
    target: Target
    calib_data: str | None = None
    calib_size: int = 300
    calib_size_given: bool = True  # False: the default size, so a smaller folder calibrates on all it holds
    eval_data: str | None = None
    max_drop: float | None = None
    min_accuracy: float | None = None  # floor on the converted model's accuracy on eval_data (0-1)
    out: str | None = None
    io_type: str | None = None  # None: the target's default (edgetpu: uint8)
    sparsity: float = 0.5
    finetune_epochs: int = 2
    train_data: str | None = None
    auto: bool = False
    seed: int = 0
    overrides: Overrides = Overrides()  # a foreign model's preprocessing and labels (refused for runs)
    on_report: Callable[[dict[str, Any]], None] | None = None  # sees the report before the gate decides


@dataclass
class Sources:
    """What a conversion reads: the float model, its preprocessing and classes, and the data around it."""

    path: Path
    float_model: FloatModel
    pre: Preprocess
    classes: list[str]
    run_cfg: dict[str, Any]
    calib_all: Callable[[], Dataset] | None  # the whole calibration set, loaded when a fine-tune or --auto needs it
    calib: Dataset | None
    evalset: Dataset | None
    augment: Augment
    augment_from_run: bool
    eval_crops: Any = None  # a hand-crop run: the CropSet behind evalset (its photos without a hand)
    calib_digest_of: str = "source"  # calib.digest is of the photos taken ("sample") or of the whole source

    @cached_property
    def calib_full(self) -> Dataset | None:
        return self.calib_all() if self.calib_all is not None else None

    @property
    def model(self):
        """The Keras model (edgesign runs, tf_keras and Keras 3 files)."""
        return self.float_model.keras

    @property
    def hand_crop(self) -> dict[str, Any] | None:
        """A hand-crop run's hand stage settings: its data are photos, the model sees their hand crops."""
        return self.run_cfg.get("train", {}).get("hand_crop")

    def data(self, folder: str) -> Dataset:
        """A dataset as the model sees it: the photos, or a hand-crop run's crops of them."""
        if not self.hand_crop:
            return load_dataset(folder, self.pre)
        return _crops(folder, self.hand_crop, self.pre, self.classes)[1]

    def compare(self, float_probs: np.ndarray, quant_probs: np.ndarray) -> dict[str, Any]:
        """Float vs converted on the held-out set; for a hand-crop run, the pipeline's figures: each photo
        without a hand counts, as ``Nothing`` on both sides."""
        labels = self.evalset.labels
        if self.eval_crops is not None:
            from edgesign.training.handcrops import pipeline_probabilities

            labels, float_probs = pipeline_probabilities(self.eval_crops, float_probs, self.classes)
            quant_probs = pipeline_probabilities(self.eval_crops, quant_probs, self.classes)[1]
        return compare(labels, float_probs, quant_probs, self.classes)


def _crops(folder: str, hand_crop: dict[str, Any], pre: Preprocess, classes: list[str]):
    """(CropSet, its crops labelled as the model's classes) of a photo folder."""
    from edgesign.hands import HandSettings
    from edgesign.training.handcrops import crop_set, relabelled

    cs = crop_set(folder, HandSettings(**hand_crop), pre)
    return cs, relabelled(cs, classes)


@dataclass
class Gate:
    """The pass rule: the drop within the budget and the converted accuracy above the floor."""

    max_drop: float | None
    min_accuracy: float | None

    def passes(self, c: dict[str, Any]) -> bool:
        return passes(c, self.max_drop, self.min_accuracy)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _default_out(source: Path, target: Target) -> Path:
    stem = source.name if source.is_dir() else source.stem
    folder = source if source.is_dir() else source.parent
    return folder / f"{stem}{target.suffix}.tflite"


def _evaluate_tflite(content: bytes, data: Dataset, pre: Preprocess) -> np.ndarray:
    """A candidate's probabilities through the device runtime, from memory, with the preprocessing the final
    file will carry (a bare candidate would be read as [0, 1] input: wrong for any other scaling)."""
    candidate = write_metadata(content, {"preprocess": pre.to_dict()})
    model = EdgeModel("candidate.tflite", content=candidate, device="cpu", warn=False)
    return model.probabilities_batch(data.images, progress="evaluating the converted model on the device runtime")


def convert_model(source: str, opts: ConvertOptions) -> dict[str, Any]:
    """Convert ``source`` (a run folder or a Keras model file); returns the report (also written)."""
    t_start = time.perf_counter()
    target, src = opts.target, Path(source)
    gate = Gate(validate_budget(opts.max_drop), validate_floor(opts.min_accuracy))
    if gate.min_accuracy is not None and not opts.eval_data:
        raise EdgesignError("--min-accuracy needs held-out data to measure it on: pass --eval DIR")
    io_type = resolve_io(target, opts.io_type)
    out = Path(opts.out) if opts.out else _default_out(src, target)
    if out.suffix != ".tflite":
        raise EdgesignError(f"output must end in .tflite: {out}")
    s = load_sources(src, opts)
    variant, steps = _optimized_variant(s, target, opts)
    _log(f"converting to {target.name} ({target.description})")
    if variant is None:
        content = s.float_model.to_tflite(target, s.calib, s.pre, io_type)
    else:
        from .tflite import convert

        content = convert(variant, target, s.calib, s.pre, io_type)
    float_content = content if target.name == "float32" else s.float_model.to_tflite(
        get_target("float32"), None, s.pre, "float32")
    report = _report_head(s, target, io_type, gate, steps)
    if target.prune:
        from .tflite import kernel_sparsity

        report["sparsity_keras"] = kernel_sparsity(variant)
    comparison = None
    if s.evalset is not None:
        content, comparison, auto = _measure(s, content, opts, gate, out)
        if auto:
            report["auto"] = auto
            if "calibration" in report:  # every step of the ladder calibrates on its larger sample
                report["calibration"]["n"] = auto["calibration_images"]
    if target.integer and s.calib is not None and "auto" not in report and s.float_model.fine_tunable:
        report["layer_error"] = _layer_error_summary(
            variant if variant is not None and not target.qat else s.model, s.calib, s.pre, out)
    _check_integer(content, target, io_type, report)
    report["sizes"] = _sizes(content, float_content)
    report["sparsity_tflite"] = round(weight_sparsity(content), 4)
    if comparison is not None:
        report["evaluation"] = {"data": s.evalset.source, "digest": s.evalset.digest, **comparison}
    report["passed"] = comparison is None or gate.passes(comparison)
    report["seconds"] = round(time.perf_counter() - t_start, 1)
    _log_comparison(comparison, target, report["sizes"])
    if opts.on_report is not None:
        opts.on_report(report)
    return _write(out, content, _metadata(s, target, report, comparison, gate), report, comparison, gate)


def load_sources(src: Path, opts: ConvertOptions) -> Sources:
    """The float model and the calibration and evaluation sets, checked against its classes."""
    fm = load_float_model(src)
    pre, classes = _preprocessing(fm, opts.overrides)
    n_out = fm.n_classes
    if (opts.target.prune or opts.target.qat or opts.auto) and not fm.fine_tunable:
        raise EdgesignError(FINE_TUNE_NEEDS_KERAS2.format(what=fm.describe()))
    if fm.kind == "tflite" and opts.target.integer and resolve_io(opts.target, opts.io_type) != "int8":
        raise EdgesignError("ai-edge-quantizer gives a float .tflite int8 input and output: use --io int8 "
                            "(the int8 target's default)")
    hand_crop = fm.run_config.get("train", {}).get("hand_crop") if fm.kind == "run" else None
    if hand_crop:
        return _crop_sources(src, fm, pre, classes, opts)
    calib = calib_all = evalset = None
    calib_digest_of = "source"
    if opts.target.calibrated:
        if not opts.calib_data:
            raise EdgesignError(f"target {opts.target.name} needs real calibration images: pass --calib DIR")
        sample = load_sample(opts.calib_data, pre, opts.calib_size, opts.seed)  # only the sample is decoded
        sample.data.check_classes(classes, n_out, "calibration")
        classes = sample.data.class_names
        calib = _calibration_sample(sample.data, sample.total, opts)
        calib_digest_of = sample.digest_of
        calib_all = lambda: load_dataset(opts.calib_data, pre)  # noqa: E731
    if opts.eval_data:
        evalset = load_dataset(opts.eval_data, pre)
        if classes:  # held-out folders match the model's classes in any case, and may hold some of them (as evaluate)
            evalset = evalset.in_model_classes(classes)
        else:
            evalset.check_classes(classes, n_out, "evaluation")
            classes = evalset.class_names
    # fine-tunes (pruning, QAT) use the augmentation the model was trained with: without it, background
    # swap above all, a fine-tune unlearns the robustness that augmentation gave
    return Sources(src, fm, pre, classes or [str(i) for i in range(n_out)], fm.run_config, calib_all, calib,
                   evalset, *_run_augment(fm), calib_digest_of=calib_digest_of)


def _run_augment(fm: FloatModel) -> tuple[Augment, bool]:
    """(the augmentation the model was trained with, whether the run said it) for a fine-tune."""
    run_augment = fm.run_config.get("train", {}).get("augment")
    return (Augment.from_dict(run_augment) if run_augment is not None else Augment()), run_augment is not None


def _calibration_sample(data: Dataset, total: int, opts: ConvertOptions) -> Dataset:
    """``--calib-size`` of ``data`` (already that sample when ``total``, the whole set's size, is larger)."""
    if total < opts.calib_size:
        if opts.calib_size_given:
            raise EdgesignError(f"fewer calibration images than asked: {total} in {opts.calib_data}, "
                                f"--calib-size {opts.calib_size}")
        print(f"note: {opts.calib_data} holds {total} images, fewer than the default --calib-size "
              f"{opts.calib_size}: all {total} calibrate", file=sys.stderr)
        return data
    return data.stratified_sample(opts.calib_size, opts.seed)


def _crop_sources(src: Path, fm: FloatModel, pre: Preprocess, classes: list[str], opts: ConvertOptions) -> Sources:
    """A hand-crop run's sources: calibration and evaluation photos through the hand stage to their crops."""
    if opts.target.edgetpu:
        raise EdgesignError(f"target {opts.target.name}: a hand-crop pipeline runs its hand stage and classifier on "
                            "the CPU (its hand models are float16); use int8, float16, dynamic or float32")
    calib = calib_all = evalset = eval_crops = None
    if opts.target.calibrated:
        if not opts.calib_data:
            raise EdgesignError(f"target {opts.target.name} needs real calibration photos: pass --calib DIR")
        crops = _crops(opts.calib_data, fm.run_config["train"]["hand_crop"], pre, classes)[1]  # cached on disk
        calib, calib_all = _calibration_sample(crops, len(crops), opts), lambda: crops
    if opts.eval_data:
        eval_crops, evalset = _crops(opts.eval_data, fm.run_config["train"]["hand_crop"], pre, classes)
    return Sources(src, fm, pre, classes, fm.run_config, calib_all, calib, evalset, *_run_augment(fm), eval_crops)


def _preprocessing(fm: FloatModel, overrides: Overrides) -> tuple[Preprocess, list[str]]:
    """A run's own preprocessing and classes; a foreign model's as the user describes it (default: [0, 1] input)."""
    if fm.kind == "run":
        if overrides:
            raise EdgesignError(f"{fm.path} is an edgesign run: its preprocessing and labels come from its config.json")
        return Preprocess.from_dict(fm.run_config["preprocess"]), list(fm.run_config["classes"])
    h, w, c = fm.input_shape
    if overrides.labels and len(overrides.labels) != fm.n_classes:
        raise EdgesignError(f"{len(overrides.labels)} labels for a model with {fm.n_classes} outputs")
    if overrides.mean is None:
        _log(f"note: {fm.path.name}: no --input-range or --mean/--std given, assuming input in [0, 1]")
    pre = Preprocess(h, w, c, resize=overrides.resize or "center_crop", mean=overrides.mean or (),
                     std=overrides.std or ())
    return pre, list(overrides.labels or [])


def _report_head(s: Sources, target: Target, io_type: str, gate: Gate, steps: list[str]) -> dict[str, Any]:
    report: dict[str, Any] = {
        "edgesign": __version__, "date": _dt.date.today().isoformat(), "source": str(s.path),
        "model": s.run_cfg.get("train", {}).get("model", s.float_model.name), "target": target.name,
        "source_kind": s.float_model.kind,
        "io_type": io_type, "preprocess": s.pre.to_dict(), "labels": s.classes, "max_drop": gate.max_drop,
        "min_accuracy": gate.min_accuracy, "steps": steps,
    }
    if s.calib is not None:
        report["calibration"] = {"data": s.calib.source, "digest": s.calib.digest, "digest_of": s.calib_digest_of,
                                 "n": len(s.calib), "sampling": "stratified"}
    if target.prune or target.qat:
        report["finetune_augment"] = {"from": "run" if s.augment_from_run else "defaults", **s.augment.to_dict()}
    return report


def _measure(s: Sources, content: bytes, opts: ConvertOptions, gate: Gate, out: Path):
    """Float vs converted on the held-out set; with ``--auto``, the ladder when the gate is missed.
    Returns (content, comparison, the ladder's record or None)."""
    _log(f"evaluating the float model on {len(s.evalset)} images of {s.evalset.source}")
    float_probs = s.float_model.probabilities(s.evalset, s.pre)
    comparison = s.compare(float_probs, _evaluate_tflite(content, s.evalset, s.pre))
    if not (opts.auto and opts.target.integer and not gate.passes(comparison)):
        return content, comparison, None
    return _auto(s, opts, float_probs, comparison, gate, out)


def _check_integer(content: bytes, target: Target, io_type: str, report: dict[str, Any]) -> None:
    """A full-integer target must come out integer: the converter can fall back to float kernels silently."""
    if not target.integer or report.get("auto", {}).get("float_layers"):
        return  # --auto's last step keeps named layers in float on purpose (and says so)
    from edgesign.inspect import tensor_type_histogram

    floats = tensor_type_histogram(content).get("float32", 0)
    allowed = 2 if io_type == "float32" else 0  # the float input and output around QUANTIZE/DEQUANTIZE
    if floats > allowed:
        raise EdgesignError(f"the {target.name} model is not integer: {floats} float32 tensors remain (the "
                            "converter fell back to float kernels); it is not written")


def _sizes(content: bytes, float_content: bytes) -> dict[str, Any]:
    gz = gzip_size(content)
    float_gz = gz if float_content is content else gzip_size(float_content)
    return {"float32_bytes": len(float_content), "float32_gzip_bytes": float_gz, "bytes": len(content),
            "gzip_bytes": gz, "ratio_to_float32": round(len(content) / len(float_content), 4),
            "gzip_ratio_to_float32": round(gz / len(float_content), 4)}


def _metadata(s: Sources, target: Target, report: dict, comparison: dict | None, gate: Gate) -> dict[str, Any]:
    meta = {"labels": s.classes, "preprocess": s.pre.to_dict(), "target": target.name, "model": report["model"],
            "recipe": s.run_cfg.get("train", {}).get("recipe"), "created": report["date"], "edgesign": __version__}
    if comparison is not None:
        meta["certificate"] = {
            "data": s.evalset.source, "data_digest": s.evalset.digest, "n": comparison["n"],
            "float_accuracy": round(comparison["float_accuracy"], 6),
            "quantized_accuracy": round(comparison["quantized_accuracy"], 6),
            "drop_points": comparison["drop_points"], "top1_agreement": round(comparison["top1_agreement"], 6),
            "max_drop": gate.max_drop, "min_accuracy": gate.min_accuracy, "passed": report["passed"],
            "calibration": report.get("calibration", {}).get("data"),
        }
    if s.hand_crop:
        _crop_pipeline_metadata(s, meta)
    return meta


def _crop_pipeline_metadata(s: Sources, meta: dict[str, Any]) -> None:
    """A hand-crop run's file is a hand pipeline: the hand stage it needs; a certificate of the pipeline."""
    from edgesign.hands import HandSettings
    from edgesign.pipeline import files_digest, hand_stage_metadata

    meta["hand_stage"] = hand_stage_metadata(HandSettings(**s.hand_crop), "crop")
    meta["trained_on"] = [s.run_cfg["train"]["data"], *s.run_cfg["train"].get("more_data", [])]
    if "certificate" in meta:
        meta["certificate"].update(pipeline=True, data_digest=files_digest(s.eval_crops.photos.files),
                                   hands_found=round(s.eval_crops.hands_found(), 6))


def _log_comparison(comparison: dict | None, target: Target, sizes: dict[str, Any]) -> None:
    if comparison is None:
        _log(f"{target.name}: {sizes['bytes'] / 1e6:.2f} MB (float32 {sizes['float32_bytes'] / 1e6:.2f} MB); "
             "no --eval data, not certified")
        return
    _log(format_comparison(comparison, "float (Keras)", target.name, {
        "float": sizes["float32_bytes"], "float_gzip": sizes["float32_gzip_bytes"], "quantized": sizes["bytes"],
        "quantized_gzip": sizes["gzip_bytes"]}))


def _write(out: Path, content: bytes, meta: dict, report: dict, comparison: dict | None, gate: Gate) -> dict:
    """The model (with its metadata) and its report; a model that fails the gate is not written."""
    report_path = out.with_suffix(".report.json")
    if not report["passed"]:
        report.get("layer_error", {}).pop("rows", None)
        report["output"] = None
        atomic.write_json(report_path, report)
        enforce(comparison, gate.max_drop, f"{report['target']} model not written ({report_path} has the details)",
                gate.min_accuracy)
    if "certificate" in meta:  # the certificate vouches for these weights and this metadata only
        meta["certificate"]["binding"] = binding(content, meta)
    final = write_metadata(content, meta)
    atomic.write_bytes(out, final)
    rows = report.get("layer_error", {}).pop("rows", None)
    if rows:  # the side file after the model: a killed or failed conversion leaves neither
        from .debugger import write_layer_csv

        write_layer_csv(rows, out.with_suffix(".layers.csv"))
    report["output"] = str(out)
    report["sizes"]["bytes_with_metadata"] = len(final)
    if get_target(report["target"]).edgetpu:
        from .edgetpu import compile_or_check

        report["edgetpu"] = compile_or_check(out)
    atomic.write_json(report_path, report)
    return report


def _optimized_variant(s: Sources, target: Target, opts: ConvertOptions):
    """The model to convert: the float model itself, or a pruned and/or QAT fine-tuned copy."""
    steps: list[str] = []
    if not (target.prune or target.qat):
        return None, steps
    from . import optimize

    train = s.data(opts.train_data) if opts.train_data else s.calib_full
    if train is None:
        raise EdgesignError(f"target {target.name} fine-tunes on training data: pass --train-data or --calib")
    train.check_classes(s.classes, int(s.model.output_shape[-1]), "training")
    variant = s.model
    if target.prune:
        variant = optimize.prune(variant, train, s.pre, opts.sparsity, opts.finetune_epochs, augment=s.augment)
        steps.append(f"pruned to {opts.sparsity:.0%} sparsity ({opts.finetune_epochs} epochs)")
    if target.qat:
        variant = optimize.quantize_aware(variant, train, s.pre, opts.finetune_epochs, preserve_sparsity=target.prune,
                                          augment=s.augment)
        steps.append(f"QAT ({opts.finetune_epochs} epochs{', prune-preserving' if target.prune else ''})")
    return variant, steps


def _layer_error_summary(model, calib: Dataset, pre: Preprocess, out: Path, worst: int = 5) -> dict[str, Any]:
    """The per-layer quantization error; the CSV itself is written after the model (``_write``), never before."""
    from .debugger import layer_errors

    sample = calib.stratified_sample(min(len(calib), 64))
    try:
        rows = layer_errors(model, sample, pre)
    except Exception as exc:  # the debugger is a diagnostic: its failure must not fail the conversion
        _log(f"warning: per-layer quantization error not available ({str(exc).splitlines()[0][:120]})")
        return {"error": str(exc).splitlines()[0][:200]}
    top = [{"tensor": r["tensor_name"].split(";")[0], "op": r["op_name"], "rmse/scale": round(r["rmse/scale"], 4)}
           for r in rows[:worst]]
    if top:
        _log("worst layers by RMSE/scale: " + ", ".join(f"{t['tensor']} ({t['rmse/scale']:.3f})" for t in top))
    return {"csv": str(out.with_suffix(".layers.csv")), "worst": top, "rows": rows}


def _auto(s: Sources, opts: ConvertOptions, float_probs: np.ndarray, first: dict, gate: Gate, out: Path):
    """Accuracy-aware conversion: stop at the first step that passes the gate (budget and floor).
    Returns (content, comparison, the record of the steps tried)."""
    from . import optimize
    from .debugger import layer_errors, selective_model
    from .tflite import convert

    tried = [{"step": "int8", "drop_points": first["drop_points"], "passed": False}]
    io_type = resolve_io(opts.target, opts.io_type)

    def attempt(name: str, content: bytes, **extra):
        c = s.compare(float_probs, _evaluate_tflite(content, s.evalset, s.pre))
        ok = gate.passes(c)
        tried.append({"step": name, "drop_points": c["drop_points"], "passed": ok, **extra})
        _log(f"auto: {name}: drop {c['drop_points']:.2f} points -> {'pass' if ok else 'miss'}")
        return c, ok

    n_big = min(len(s.calib_full), max(opts.calib_size * 4, 1000))
    big = s.calib_full.stratified_sample(n_big, opts.seed + 1)

    def record(passed: bool, **extra) -> dict:  # every step from here calibrates on ``big``
        return {"tried": tried, "passed_step": tried[-1]["step"] if passed else None, "calibration_images": n_big,
                **extra}

    content = convert(s.model, opts.target, big, s.pre, io_type)
    c, ok = attempt(f"larger calibration set ({n_big} images)", content)
    if ok:
        return content, c, record(True)
    qat = optimize.quantize_aware(s.model, s.calib_full, s.pre, epochs=2, augment=s.augment)
    content = convert(qat, get_target("qat-int8"), big, s.pre, io_type)
    c, ok = attempt("QAT (2 epochs)", content)
    if ok:
        return content, c, record(True)
    rows = layer_errors(s.model, big.stratified_sample(64), s.pre)
    for k in (1, 3, 5):
        names = [r["tensor_name"] for r in rows[:k]]
        content = selective_model(s.model, big, s.pre, names)
        c, ok = attempt(f"worst {k} layer(s) kept in float", content, float_layers=names)
        if ok:
            _log(f"warning: {EDGETPU_FLOAT_WARNING}")
            return content, c, record(True, float_layers=names, warning=EDGETPU_FLOAT_WARNING)
    return content, c, record(False)
