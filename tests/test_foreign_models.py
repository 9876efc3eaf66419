"""Models from elsewhere: the standard TFLite metadata (as Model Maker, MediaPipe and TF Hub write it) and the
user's own description of a bare model (--labels, --input-range, --mean/--std) are read and used.

The standard metadata is written here with tflite-support's own generated schema (from its wheel, fetched
by pip by name), not with edgesign's reader: the two sides are independent.
"""

from __future__ import annotations

import importlib.util
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from edgesign.runtime import EdgeModel

SCHEMA_IN_WHEEL = "tensorflow_lite_support/metadata/metadata_schema_py_generated.py"
CACHE = Path.home() / ".cache" / "edgesign" / "test-wheels"


@pytest.fixture(scope="session")
def metadata_schema():
    """tflite-support's generated metadata schema (pure Python), from its wheel."""
    target = CACHE / "metadata_schema_py_generated.py"
    if not target.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        r = subprocess.run([sys.executable, "-m", "pip", "download", "tflite-support==0.4.4", "--no-deps",
                            "--only-binary=:all:", "--platform", "manylinux2014_x86_64", "--python-version", "3.11",
                            "-d", str(CACHE)], capture_output=True, text=True)
        wheels = list(CACHE.glob("tflite_support-0.4.4-*.whl"))
        if r.returncode != 0 or not wheels:
            pytest.skip(f"tflite-support's wheel could not be fetched: {r.stderr.strip()[-200:]}")
        target.write_bytes(zipfile.ZipFile(wheels[0]).read(SCHEMA_IN_WHEEL))
    spec = importlib.util.spec_from_file_location("metadata_schema_py_generated", target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def strip_edgesign_metadata(content: bytes) -> bytes:
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    model.metadata = [m for m in (model.metadata or []) if m.name not in (b"edgesign", "edgesign")]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def with_standard_metadata(content: bytes, ms, mean: list[float], std: list[float], labels: list[str]) -> bytes:
    """What tflite-support's MetadataPopulator does: a TFLITE_METADATA entry, then the label file zipped onto the end."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    norm = ms.NormalizationOptionsT()
    norm.mean, norm.std = mean, std
    unit = ms.ProcessUnitT()
    unit.optionsType, unit.options = ms.ProcessUnitOptions.NormalizationOptions, norm
    tin, tout = ms.TensorMetadataT(), ms.TensorMetadataT()
    tin.name, tin.processUnits = "image", [unit]
    labels_file = ms.AssociatedFileT()
    labels_file.name, labels_file.type = "labels.txt", ms.AssociatedFileType.TENSOR_AXIS_LABELS
    tout.name, tout.associatedFiles = "probability", [labels_file]
    sub = ms.SubGraphMetadataT()
    sub.inputTensorMetadata, sub.outputTensorMetadata = [tin], [tout]
    meta = ms.ModelMetadataT()
    meta.name, meta.subgraphMetadata = "a foreign classifier", [sub]
    b = flatbuffers.Builder(0)
    b.Finish(meta.Pack(b), b"M001")
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    buf = schema.BufferT()
    buf.data = list(bytes(b.Output()))
    model.buffers.append(buf)
    entry = schema.MetadataT()
    entry.name, entry.buffer = "TFLITE_METADATA", len(model.buffers) - 1
    model.metadata = list(model.metadata or []) + [entry]
    out = io.BytesIO(bytes(flatbuffer_utils.convert_object_to_bytearray(model)))
    with zipfile.ZipFile(out, "a") as z:
        z.writestr("labels.txt", "\n".join(labels) + "\n")
    return out.getvalue()


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """The shipped image model without its edgesign metadata, and what that metadata said."""
    from edgesign.runtime import image_model_path

    original = EdgeModel(image_model_path(), warn=False)
    path = tmp_path_factory.mktemp("foreign") / "bare.tflite"
    path.write_bytes(strip_edgesign_metadata(original.path.read_bytes()))
    labels = path.with_name("labels.txt")
    labels.write_text("\n".join(original.labels) + "\n")
    return {"path": path, "labels": labels, "original": original}


def accuracy(*args) -> float:
    r = run_cli("evaluate", *args)
    assert r.returncode == 0, r.stderr[-1500:]
    return float(r.stdout.split()[1]) / 100


def test_standard_metadata_gives_labels_and_normalization(bare, metadata_schema, asl_test_sample, tmp_path):
    pre = bare["original"].preprocess
    assert pre.scaling == "unit" and pre.mean == (0.0,)
    labels = bare["original"].labels
    good = tmp_path / "standard.tflite"
    good.write_bytes(with_standard_metadata(bare["path"].read_bytes(), metadata_schema, [0.0], [255.0], labels))
    m = EdgeModel(good)
    assert m.described_by == "standard" and m.labels == labels and m.preprocess.std == (255.0,)
    want = accuracy(bare["original"].path, asl_test_sample, "-o", tmp_path / "e0")
    assert accuracy(good, asl_test_sample, "-o", tmp_path / "e1") == pytest.approx(want, abs=1e-9)
    r = run_cli("predict", good, sorted(Path(asl_test_sample, "B").iterdir())[0])
    assert r.returncode == 0 and "warning" not in r.stderr and r.stdout.split(": ")[1].split()[0] in labels
    # the same file claiming [-1, 1] input: the runtime follows the metadata, and the accuracy shows it
    wrong = tmp_path / "wrong.tflite"
    wrong.write_bytes(with_standard_metadata(bare["path"].read_bytes(), metadata_schema, [127.5], [127.5], labels))
    assert accuracy(wrong, asl_test_sample, "-o", tmp_path / "e2") < want - 0.3


def test_bare_model_described_on_the_command_line(bare, asl_test_sample, tmp_path):
    r = run_cli("predict", bare["path"], asl_test_sample / "A")
    assert r.returncode == 0 and "no edgesign metadata and no standard TFLite metadata" in r.stderr
    want = accuracy(bare["original"].path, asl_test_sample, "-o", tmp_path / "e0")
    told = accuracy(bare["path"], asl_test_sample, "--labels", bare["labels"], "--input-range", "0,1", "-o", tmp_path / "e1")
    assert told == pytest.approx(want, abs=1e-9)
    same = accuracy(bare["path"], asl_test_sample, "--labels", bare["labels"], "--mean", "0", "--std", "255",
                    "-o", tmp_path / "e2")
    assert same == pytest.approx(want, abs=1e-9)
    wrong = accuracy(bare["path"], asl_test_sample, "--labels", bare["labels"], "--input-range", "0,255",
                     "-o", tmp_path / "e3")
    assert wrong < want - 0.3
    rows = json.loads(run_cli("benchmark", bare["path"], "--data", asl_test_sample, "--labels", bare["labels"],
                              "--input-range", "0,1", "--runs", "5", "--json").stdout)
    assert rows[0]["accuracy"] == pytest.approx(want, abs=1e-4)


@pytest.mark.parametrize("args,message", [
    (["--input-range", "1,0"], "HIGH > LOW"),
    (["--mean", "0"], "--mean and --std go together"),
    (["--input-range", "0,1", "--mean", "0", "--std", "1"], "not both"),
    (["--std", "0", "--mean", "1"], "must not be 0"),
    (["--labels", "/nonexistent/labels.txt"], "cannot read the labels file"),
])
def test_bad_descriptions_are_one_line(bare, asl_test, args, message):
    r = run_cli("predict", bare["path"], asl_test / "A", *args)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert len([ln for ln in r.stderr.splitlines() if ln.startswith("error:")]) == 1


def test_certified_models_refuse_a_second_description(bare, asl_test, tmp_path):
    r = run_cli("predict", bare["original"].path, asl_test / "A", "--input-range", "0,255")
    assert r.returncode == 2 and "carries edgesign metadata" in r.stderr
    wrong_count = tmp_path / "labels.txt"
    wrong_count.write_text("a\nb\n")
    r = run_cli("evaluate", bare["path"], asl_test, "--labels", wrong_count)
    assert r.returncode == 2 and "2 labels for a model with 29 outputs" in r.stderr


def test_reader_agrees_with_mediapipe_models():
    """The hand models of the pinned MediaPipe wheel carry standard metadata: [0, 1] input, handedness labels."""
    from edgesign.handfiles import hand_model_path
    from edgesign.tflite_metadata import read_standard_metadata

    meta = read_standard_metadata(hand_model_path("hand_landmark_full.tflite").read_bytes())
    assert meta.name == "HandLandmarkDetector" and meta.labels == ["Left", "Right"]
    assert np.allclose(meta.mean, 0) and np.allclose(meta.std, 255)
    assert read_standard_metadata(hand_model_path("palm_detection_lite.tflite").read_bytes()) is None


# ----------------------------------------------------------------------------- converting models from elsewhere

def keras3_copy(tf_keras_model):
    """The same network and weights as a Keras 3 model (what `import keras` gives with TensorFlow 2.21)."""
    import keras

    cls = keras.Sequential if type(tf_keras_model).__name__ == "Sequential" else keras.Model
    copy = cls.from_config(tf_keras_model.get_config())
    copy.set_weights(tf_keras_model.get_weights())
    return copy


@pytest.fixture(scope="module")
def foreign(e2e, tmp_path_factory):
    """Three models edgesign did not write: a Keras 3 file that takes raw 0-255 pixels, a SavedModel folder,
    and a float .tflite with no metadata; all the e2e network, so their accuracy is known."""
    import keras

    from edgesign.training.run import load_keras_model
    from edgesign.training.tf_env import tf

    folder = tmp_path_factory.mktemp("foreign-sources")
    original = load_keras_model(Path(e2e["run"]) / "model.keras")
    inner = keras3_copy(original)
    x = keras.Input(original.input_shape[1:])
    raw = keras.Model(x, inner(keras.layers.Rescaling(1 / 255.0)(x)))
    raw.save(folder / "raw255.keras")
    tf.saved_model.save(original, str(folder / "saved"))
    (folder / "float.tflite").write_bytes(strip_edgesign_metadata(Path(e2e["float32"]).read_bytes()))
    labels = EdgeModel(e2e["int8"]).labels
    (folder / "labels.txt").write_text("\n".join(labels) + "\n")
    cert = EdgeModel(e2e["int8"]).certificate
    return {"folder": folder, "labels": labels, "float_accuracy": cert["float_accuracy"]}


def convert_args(source, out, asl_train, asl_test, floor, *extra):
    return ("convert", source, "--int8", "--calib", asl_train, "--calib-size", "20", "--eval", asl_test,
            "--max-drop", "5", "--min-accuracy", f"{floor:.4f}", "-o", out, *extra)


def certified(out: Path, foreign: dict, kind: str) -> dict:
    report = json.loads(out.with_suffix(".report.json").read_text())
    assert report["passed"] and report["source_kind"] == kind
    assert abs(report["evaluation"]["float_accuracy"] - foreign["float_accuracy"]) < 0.02
    m = EdgeModel(out)
    assert m.described_by == "edgesign" and m.labels == foreign["labels"] and m.certificate["passed"]
    return report


def test_keras3_model_taking_0_255_is_certified_only_when_described(foreign, asl_train, asl_test, tmp_path):
    floor = 0.8 * foreign["float_accuracy"]
    src, labels = foreign["folder"] / "raw255.keras", foreign["folder"] / "labels.txt"
    out = tmp_path / "k3.tflite"
    r = run_cli(*convert_args(src, out, asl_train, asl_test, floor, "--input-range", "0,255", "--labels", labels))
    assert r.returncode == 0, r.stderr[-2000:]
    report = certified(out, foreign, "keras3")
    assert report["preprocess"]["std"] == [1.0]
    # the archive says which Keras wrote it, so convert goes to Keras 3 without trying tf_keras first
    from edgesign.training.run import keras_archive_version

    assert keras_archive_version(src).startswith("3.") and keras_archive_version(labels) is None
    # the same model described wrongly ([0, 1], the default): it sees black images, and the floor stops it
    wrong = tmp_path / "k3_wrong.tflite"
    r = run_cli(*convert_args(src, wrong, asl_train, asl_test, floor, "--labels", labels))
    assert r.returncode == 1 and "under --min-accuracy" in r.stderr and not wrong.exists()
    # fine-tuning needs a Keras 2 graph: one line, before any work
    r = run_cli("convert", src, "--prune", "0.5", "--int8", "--calib", asl_train, "-o", tmp_path / "p.tflite")
    assert r.returncode == 2 and "Keras 2" in r.stderr and "Traceback" not in r.stderr


def test_savedmodel_folder_is_certified(foreign, asl_train, asl_test, tmp_path):
    out = tmp_path / "saved.tflite"
    r = run_cli(*convert_args(foreign["folder"] / "saved", out, asl_train, asl_test,
                              0.8 * foreign["float_accuracy"], "--input-range", "0,1",
                              "--labels", foreign["folder"] / "labels.txt"))
    assert r.returncode == 0, r.stderr[-2000:]
    certified(out, foreign, "saved_model")


def test_float_tflite_is_quantized_without_tensorflow(foreign, asl_train, asl_test, tmp_path):
    from test_runtime_without_tf import _no_tf, run_without_tf

    out = tmp_path / "q.tflite"
    r = run_without_tf(*convert_args(foreign["folder"] / "float.tflite", out, asl_train, asl_test,
                                     0.8 * foreign["float_accuracy"], "--input-range", "0,1",
                                     "--labels", foreign["folder"] / "labels.txt"))
    assert r.returncode == 0, r.stderr[-2000:]
    _no_tf(r)
    report = certified(out, foreign, "tflite")
    from edgesign.inspect import tensor_type_histogram

    types = tensor_type_histogram(out.read_bytes())
    assert types["int8"] > 0 and types["float32"] == 0 and report["sizes"]["ratio_to_float32"] < 0.5
    r = run_without_tf("convert", foreign["folder"] / "float.tflite", "--int8", "--io", "uint8", "--calib", asl_train,
                       "-o", tmp_path / "io.tflite")
    assert r.returncode == 2 and "--io int8" in r.stderr
