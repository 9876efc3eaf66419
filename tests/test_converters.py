"""Conversion targets, pruning, QAT, the Edge TPU step and metadata, on a small model and real photos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from edgesign.errors import EdgesignError
from edgesign.metadata import read_metadata, write_metadata
from edgesign.runtime import EdgeModel
from edgesign.targets import TARGETS, get_target


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory, small_subset):
    run = tmp_path_factory.mktemp("cnn") / "run"
    # background swap on: the fine-tunes of pruning and QAT must reuse it (see test_pruned_int8_...)
    r = run_cli("train", "cnn", "--data", small_subset, "--size", "32", "--epochs", "3", "--val-fraction", "0.25",
                "--augment", '{"bgswap": 0.5}', "-o", run)
    assert r.returncode == 0, r.stderr[-2000:]
    return run


def test_target_table_drives_resolution():
    from edgesign.targets import TARGETS, resolve_target

    names = [t.name for t in TARGETS]
    assert names == ["float32", "float16", "dynamic", "int8", "int8-pruned", "qat-int8", "pqat-int8", "edgetpu"]
    assert resolve_target(None, int8=True, prune=0.5, qat=False, edgetpu=False).name == "int8-pruned"
    assert resolve_target(None, int8=True, prune=0.5, qat=True, edgetpu=False).name == "pqat-int8"
    assert resolve_target(None, int8=True, prune=None, qat=False, edgetpu=True).name == "edgetpu"
    with pytest.raises(EdgesignError, match="--int8"):
        resolve_target(None, int8=False, prune=None, qat=False, edgetpu=True)


@pytest.mark.parametrize("name", [pytest.param(t.name, marks=[pytest.mark.slow] if t.prune or t.qat else [])
                                  for t in TARGETS])
def test_every_target_of_the_table_converts_loads_and_says_what_it_is(cnn_run, small_subset, tmp_path, name):
    """One case per row of the target table: the file's I/O type, weight types and metadata are the row's.
    (The rows that fine-tune, pruning and QAT, run with -m slow: test_pruned_int8_keeps_sparsity_and_pqat_too
    converts them in the default run.)"""
    from edgesign.inspect import tensor_type_histogram

    t = get_target(name)
    out = tmp_path / f"m{t.suffix}.tflite"
    r = run_cli("convert", cnn_run, "--target", name, "--calib", small_subset, "--calib-size", "20",
                "--finetune-epochs", "1", "-o", out)
    assert r.returncode == 0, r.stderr[-2000:]
    unused = ([] if t.calibrated else ["--calib", "--calib-size"]) + ([] if t.prune or t.qat else ["--finetune-epochs"])
    said = [line for line in r.stderr.splitlines() if line.startswith("warning: ") and "not used by target" in line]
    assert said == ([f"warning: {', '.join(unused)}: not used by target {name} (calibration is for the int8 targets, "
                     "fine-tuning for --prune, --qat and --auto)"] if unused else []), r.stderr[-2000:]
    m = EdgeModel(out, device="cpu")
    assert m.metadata["target"] == name and m.labels == json.loads(out.with_suffix(".report.json").read_text())["labels"]
    assert np.dtype(m.input_details["dtype"]).name == t.io_types[0] == np.dtype(m.output_details["dtype"]).name
    types = tensor_type_histogram(out.read_bytes())
    assert (types["float16"] > 0) == (t.weights == "float16")
    assert (types["int8"] > 0) == (t.weights == "int8")
    if t.integer:  # activations too: floats only at a float32 boundary, never inside
        assert types["float32"] == 0
    probs = m.classify_file(sorted(Path(small_subset).rglob("*.jpg"))[0])
    assert probs.shape == (len(m.labels),) and abs(float(probs.sum()) - 1) < 0.05


@pytest.mark.parametrize("target,max_ratio", [("float16", 0.55), ("dynamic", 0.30)])
def test_float16_and_dynamic(cnn_run, small_subset, tmp_path, target, max_ratio):
    out = tmp_path / f"{target}.tflite"
    r = run_cli("convert", cnn_run, "--target", target, "--eval", small_subset, "-o", out)
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(out.with_suffix(".report.json").read_text())
    assert report["sizes"]["ratio_to_float32"] <= max_ratio
    assert report["evaluation"]["top1_agreement"] >= 0.95
    assert EdgeModel(out).metadata["target"] == target


def test_pruned_int8_keeps_sparsity_and_pqat_too(cnn_run, small_subset, tmp_path):
    out = tmp_path / "pruned.tflite"
    r = run_cli("convert", cnn_run, "--int8", "--prune", "0.5", "--calib", small_subset, "--calib-size", "40",
                "--eval", small_subset, "--finetune-epochs", "2", "-o", out)
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.loads(out.with_suffix(".report.json").read_text())
    assert abs(rep["sparsity_keras"]["total"] - 0.5) < 0.02
    assert rep["sparsity_tflite"] >= 0.45
    assert rep["sizes"]["gzip_bytes"] < rep["sizes"]["bytes"] * 0.8  # zeros compress; the .tflite does not shrink
    # the fine-tune used the run's own augmentation, not the training defaults
    assert json.loads((cnn_run / "config.json").read_text())["train"]["augment"]["bgswap"] == 0.5
    assert rep["finetune_augment"]["from"] == "run" and rep["finetune_augment"]["bgswap"] == 0.5

    out2 = tmp_path / "pqat.tflite"
    r = run_cli("convert", cnn_run, "--prune", "0.5", "--qat", "--calib", small_subset, "--calib-size", "40",
                "--eval", small_subset, "--finetune-epochs", "1", "-o", out2)
    assert r.returncode == 0, r.stderr[-2000:]
    rep2 = json.loads(out2.with_suffix(".report.json").read_text())
    assert rep2["target"] == "pqat-int8" and rep2["sparsity_tflite"] >= 0.45
    assert any("prune-preserving" in s for s in rep2["steps"])


def test_layer_error_csv_and_edgetpu_check(cnn_run, small_subset, tmp_path):
    out = tmp_path / "m.tflite"
    r = run_cli("convert", cnn_run, "--int8", "--edgetpu", "--calib", small_subset, "--calib-size", "40", "-o", out)
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.loads(out.with_suffix(".report.json").read_text())
    assert rep["io_type"] == "uint8"
    assert rep["edgetpu"]["compiled"] is False and "edgetpu_compiler" in rep["edgetpu"]["how_to_compile"]
    assert rep["edgetpu"]["check"]["all_supported"] is True
    rows = out.with_suffix(".layers.csv").read_text().splitlines()
    assert rows[0].startswith("op_name,tensor_name,scale") and len(rows) > 3
    assert rep["layer_error"]["worst"][0]["rmse/scale"] > 0
    m = EdgeModel(out)
    assert m.input_details["dtype"] == np.uint8


def test_edgetpu_check_flags_float_models(cnn_run, tmp_path):
    from edgesign.inspect import edgetpu_compatibility

    out = tmp_path / "f.tflite"
    assert run_cli("convert", cnn_run, "--target", "float32", "-o", out).returncode == 0
    check = edgetpu_compatibility(out.read_bytes())
    assert not check["all_supported"] and any("float32" in p for p in check["problems"])


def test_compiler_log_parser():
    from edgesign.converters.edgetpu import parse_compiler_log

    log = """Edge TPU Compiler version 16.0.384591198
Model compiled successfully in 352 ms.

Input model: model_int8.tflite
Output model: model_int8_edgetpu.tflite
On-chip memory used for caching model parameters: 3.08MiB
On-chip memory remaining for caching model parameters: 4.25MiB
Off-chip memory used for streaming uncached model parameters: 0.00B
Number of Edge TPU subgraphs: 1
Total number of operations: 31
Operation log: model_int8_edgetpu.log

Operator                       Count      Status

ADD                            8          Mapped to Edge TPU
CONV_2D                        21         Mapped to Edge TPU
RESHAPE                        1          Operation is otherwise supported, but not mapped due to some unspecified limitation
SOFTMAX                        1          Mapped to Edge TPU
"""
    p = parse_compiler_log(log)
    assert p["subgraphs"] == 1 and p["total_operations"] == 31 and p["on_chip_memory"] == "3.08MiB"
    assert {"operator": "CONV_2D", "count": 21, "status": "Mapped to Edge TPU"} in p["ops"]
    assert any(o["operator"] == "RESHAPE" and "not mapped" in o["status"] for o in p["ops"])


def test_metadata_roundtrip(cnn_run, tmp_path):
    out = tmp_path / "f.tflite"
    assert run_cli("convert", cnn_run, "--target", "float32", "-o", out).returncode == 0
    content = out.read_bytes()
    meta = read_metadata(content)
    assert meta["labels"] == ["A", "B", "C", "Space"] and meta["version"] == 1
    again = write_metadata(content, {"labels": ["w", "x", "y", "z"]})
    assert read_metadata(again)["labels"] == ["w", "x", "y", "z"]
    assert len(again) < len(content) + 1000  # replaced, not appended twice
    with pytest.raises(EdgesignError):
        read_metadata(b"not a model at all")


def test_input_table_matches_normalize_then_quantize(cnn_run, small_subset, tmp_path):
    """The runtime's lookup-table input path equals the reference scaling + quantization for each I/O type."""
    from edgesign import preprocess as pp
    from edgesign.adapters import quantize
    from edgesign.converters.convert import ConvertOptions, convert_model

    pixels = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    for io in ("int8", "uint8", "float32"):  # in this process: `convert --io` is what this calls (three TF starts saved)
        out = tmp_path / f"{io}.tflite"
        convert_model(str(cnn_run), ConvertOptions(target=get_target("int8"), io_type=io, calib_data=str(small_subset),
                                                   calib_size=20, out=str(out)))
        m = EdgeModel(out)
        ref = pp.normalize(pixels, m.preprocess)
        if io != "float32":
            ref = quantize(ref, *m.input_details["quantization"], np.dtype(io).type)
        got = m.to_input(pixels)[0]
        assert got.dtype == np.dtype(io)
        np.testing.assert_allclose(got.astype(np.float32), ref.astype(np.float32), atol=1e-6)


def test_auto_steps_in_order(cnn_run, small_subset, tmp_path):
    """--auto's ladder on real models: larger calibration, then QAT, then the worst layers kept in float."""
    from edgesign.converters.convert import ConvertOptions, Gate, _auto, load_sources
    from edgesign.training.run import predict_probs

    opts = ConvertOptions(target=get_target("int8"), calib_data=str(small_subset), calib_size=20,
                          eval_data=str(small_subset))
    sources = load_sources(Path(cnn_run), opts)
    float_probs = predict_probs(sources.model, sources.evalset, sources.pre)
    first = {"drop_points": 9.9}
    # an impossible budget (a drop is never below -100 points): every step is tried, in order, and fails
    content, _, steps = _auto(sources, opts, float_probs, first, Gate(-1000.0, None), tmp_path / "m.tflite")
    names = [s["step"] for s in steps["tried"]]
    assert names[0] == "int8" and names[1].startswith("larger calibration") and names[2].startswith("QAT")
    assert [n for n in names if "kept in float" in n] == ["worst 1 layer(s) kept in float",
                                                           "worst 3 layer(s) kept in float",
                                                           "worst 5 layer(s) kept in float"]
    assert steps["passed_step"] is None and content[4:8] == b"TFL3"
    # what the report then records as the file's calibration (not --calib-size's 20)
    assert steps["calibration_images"] == min(len(sources.calib_full), 1000) > opts.calib_size
    # a generous budget: the first step passes and the ladder stops there
    _, _, steps = _auto(sources, opts, float_probs, first, Gate(100.0, None), tmp_path / "m.tflite")
    assert steps["passed_step"].startswith("larger calibration") and len(steps["tried"]) == 2


def test_fine_tuning_variants_leave_the_float_model_untouched(cnn_run, small_subset):
    """The gate's baseline must stay the original float model: pruning and QAT work on copies."""
    from edgesign.converters import optimize
    from edgesign.training.run import load_run

    model, pre, _, _ = load_run(cnn_run)
    data = load_dataset_for(small_subset, pre)
    before = [w.copy() for w in model.get_weights()]
    optimize.prune(model, data, pre, 0.5, epochs=1)
    optimize.quantize_aware(model, data, pre, epochs=1)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def load_dataset_for(path, pre):
    from edgesign.data import load_dataset

    return load_dataset(path, pre, progress=False)


def test_a_calibration_folder_smaller_than_the_default_size_calibrates_on_all_it_holds(cnn_run, small_subset,
                                                                                        tmp_path):
    """160 photos and the default --calib-size 300: all 160 calibrate, with a note (it was an error that made a user
    pass --calib-size 160); a size the user gives stays a promise (test_convert_rejects_bad_inputs)."""
    out = tmp_path / "int8.tflite"
    r = run_cli("convert", cnn_run, "--int8", "--calib", small_subset, "-o", out)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (f"note: {small_subset} holds 160 images, fewer than the default --calib-size 300: all 160 calibrate"
            in r.stderr), r.stderr[-2000:]
    assert json.loads(out.with_suffix(".report.json").read_text())["calibration"]["n"] == 160


def test_a_runs_own_model_file_converts_as_the_run(cnn_run, small_subset, tmp_path):
    """``convert RUN/model.keras`` reads the run (its preprocessing and labels): alone, the file was a foreign model,
    its input range guessed ([0, 1]) and its labels numbers."""
    out = tmp_path / "from-file.tflite"
    r = run_cli("convert", cnn_run / "model.keras", "--int8", "--calib", small_subset, "-o", out)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"note: {cnn_run / 'model.keras'} is run {cnn_run}'s model: converting the run" in r.stderr
    assert "assuming input in [0, 1]" not in r.stderr
    m = EdgeModel(out, device="cpu")
    assert m.labels == (cnn_run / "labels.txt").read_text().split()


def test_edgesigns_own_float_file_is_quantized_and_certified_on_any_case_folders(cnn_run, small_subset, tmp_path):
    """``convert --target float32`` then ``convert that.tflite --int8 --eval``: the float file's own metadata was
    taken for the user's overrides and refused; and held-out folders match in any case and may hold some of the
    classes, as evaluate and check take them (``a/``, ``space/``)."""
    from conftest import link_photos

    f32 = tmp_path / "f32.tflite"
    r = run_cli("convert", cnn_run, "--target", "float32", "-o", f32)
    assert r.returncode == 0, r.stderr[-2000:]
    held = tmp_path / "held"
    for name, folder in (("a", "A"), ("space", "Space")):
        link_photos(held / name, small_subset / folder, slice(30, 40))
    out = tmp_path / "int8.tflite"
    r = run_cli("convert", f32, "--int8", "--calib", small_subset, "--eval", held, "--max-drop", "50", "-o", out)
    assert r.returncode == 0, r.stderr[-2000:]
    cert = EdgeModel(out, device="cpu").metadata["certificate"]
    assert cert["n"] == 20 and cert["passed"]
    per_class = json.loads(out.with_suffix(".report.json").read_text())["evaluation"]["per_class"]
    assert sorted(per_class) == ["A", "Space"]  # the model's names, for the classes the folder holds
