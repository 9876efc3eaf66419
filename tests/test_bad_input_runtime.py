"""Bad input to the runtime commands ends in exactly one `error:` line, exit 2, before any work (issue 13).

Inputs are made at test time from the shipped image model and the example photos (no binary fixtures).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT, run_cli

from edgesign.metadata import read_metadata, write_metadata
from edgesign.runtime import image_model_path

PHOTO = ROOT / "docs" / "examples" / "a.jpg"


def one_error_line(r, needle: str, code: int = 2) -> None:
    assert r.returncode == code, (r.returncode, r.stdout[-500:], r.stderr[-1500:])
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr[-1500:]
    assert needle in lines[0], lines[0]
    assert "Traceback" not in r.stderr and "Usage:" not in r.stderr


@pytest.mark.parametrize("args, needle", [
    (["--bogus"], "No such option '--bogus'"),
    (["bogus"], "No such command 'bogus'"),
    (["predict", PHOTO, "--top", "abc"], "--top"),
    (["predict", "asl29.tflite", PHOTO, "--threshold", "nan"], "--threshold must be a probability"),
    (["predict", "asl29.tflite", PHOTO, "--threshold", "2"], "--threshold must be a probability"),
    (["predict", "asl29.tflite", PHOTO, "--threads", "0"], "--threads must be between 1 and"),
    (["predict", "asl29.tflite", PHOTO, "--threads", "-1"], "--threads must be between 1 and"),
    (["predict", "asl29.tflite", PHOTO, "--threads", "100000"], "--threads must be between 1 and"),
    (["benchmark", "asl29.tflite", "--threads", "100000", "--runs", "1"], "--threads must be between 1 and"),
    (["benchmark", "--threads", "0", "--runs", "1"], "error: --threads must be between 1 and"),  # the shipped model
    (["evaluate", ROOT / "docs" / "examples", "--split", "train"], "--split train: for a SIGNS .h5 file"),
    (["evaluate", ROOT / "docs" / "examples", "--split", "validation"], "--split validation: train, test or auto"),
    (["benchmark", "asl29.tflite", "none.tflite", "--runs", "1"], "model not found: none.tflite"),
    (["info", "docs"], "docs is a folder, not a .tflite model (a run folder becomes one with edgesign convert)"),
    (["benchmark", "docs", "--runs", "1"], "docs is a folder, not a .tflite model"),
    (["convert", "runs/none", "--int8", "--max-drop", "1.0"], "--max-drop needs held-out data"),
    (["predict", "asl29.tflite", PHOTO, "--hand-models", "docs"], "--hand-models docs: asl29.tflite has no hand stage"),
    (["evaluate", "asl29.tflite", ROOT / "docs" / "examples", "--hand-models", "docs"], "has no hand stage"),
    (["info", "asl29.tflite", "--hand-models", "docs"], "has no hand stage"),
])
def test_option_errors(args, needle):
    one_error_line(run_cli(*args), needle)


def test_version_and_a_bare_command():
    """`edgesign --version` names edgesign's version and what it runs on; `edgesign` alone shows the help, no error
    (it printed the help, then 'error:  (see ...)' with nothing said)."""
    from edgesign import __version__

    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.startswith(f"edgesign {__version__} (ai-edge-litert "), r.stdout
    r = run_cli()
    assert r.returncode == 0 and "predict" in r.stdout and "error" not in r.stderr, (r.stdout[-500:], r.stderr)


def test_no_edge_tpu_runtime_is_one_line():
    """Without libedgetpu: the install hint alone (the delegate's destructor used to add an AttributeError)."""
    import ctypes.util

    if ctypes.util.find_library("edgetpu"):
        pytest.skip("this machine has the Edge TPU runtime")
    one_error_line(run_cli("predict", "asl29.tflite", PHOTO, "--device", "edgetpu"), "Edge TPU delegate libedgetpu")


def test_a_pipe_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "frames.fifo"
    os.mkfifo(fifo)
    one_error_line(run_cli("predict", "asl29.tflite", fifo, timeout=60), "not a regular file")


def test_a_corrupt_root_offset_is_one_line(tmp_path):
    data = bytearray(image_model_path().read_bytes())
    data[0] ^= 0xFF
    bad = tmp_path / "corrupt.tflite"
    bad.write_bytes(bytes(data))
    for command in (["predict", bad, PHOTO], ["info", bad],
                    ["check", bad, "--against", image_model_path(), "--data", ROOT / "docs" / "examples", "--max-drop", "1"]):
        one_error_line(run_cli(*command), "corrupt TFLite model")
    r = subprocess.run([sys.executable, "-m", "edgesign.firmware_tests", "--model", bad], capture_output=True, text=True)
    one_error_line(r, "corrupt TFLite model")


def test_metadata_of_the_wrong_type_is_refused(tmp_path):
    content = image_model_path().read_bytes()
    meta = read_metadata(content)
    meta["preprocess"]["height"] = "9"
    bad = tmp_path / "typed.tflite"
    bad.write_bytes(write_metadata(content, {k: v for k, v in meta.items() if k != "version"}))
    one_error_line(run_cli("predict", bad, PHOTO), "metadata is invalid")


def test_a_high_threshold_still_shows_the_top_class():
    r = run_cli("predict", "asl29.tflite", PHOTO, "--threshold", "0.999", "--json")
    assert r.returncode == 0, r.stderr[-1000:]
    assert len(json.loads(r.stdout)["top"]) == 1


# ----------------------------------------------------------------------------- the corpus, continued (issue 13)

README = ROOT / "README.md"


@pytest.mark.parametrize("args, needle", [
    # output paths are checked before any work
    (["evaluate", "asl29.tflite", ROOT / "docs" / "examples", "-o", README], "is an existing file"),
    (["evaluate", "asl29.tflite", ROOT / "docs" / "examples", "-o", README / "x"], "is a file, not a folder"),
    (["evaluate", "asl29.tflite", ROOT / "docs" / "examples", "-o", "/proc/edgesign"], "cannot write in /proc"),
    (["predict", "asl29.tflite", PHOTO, "--save", README], "is an existing file"),
    (["convert", "runs/none", "-o", ROOT / "docs"], "is a folder"),
    (["convert", "runs/none", "--eval", "x", "--junit", README / "j.xml"], "is a file, not a folder"),
    (["train", "cnn", "--data", "x", "-o", README], "is an existing file"),
    (["enrol", "--from", "x", "-o", ROOT / "docs"], "is a folder"),
    # numbers at the boundary
    (["train", "cnn", "--data", "x", "--epochs", "0"], "--epochs"),
    (["train", "cnn", "--data", "x", "--batch-size", "0"], "--batch-size"),
    (["train", "cnn", "--data", "x", "--lr", "nan"], "--lr must be a positive number"),
    (["train", "cnn", "--data", "x", "--val-fraction", "1.5"], "--val-fraction must be between 0 and 1"),
    (["train", "cnn", "--data", "x", "--size", "0"], "--size"),
    (["convert", "runs/none", "--int8", "--calib-size", "0"], "--calib-size"),
    (["convert", "runs/none", "--int8", "--calib-size", "-3"], "--calib-size"),
    (["benchmark", "asl29.tflite", "--runs", "0"], "--runs"),
    (["predict", "asl29.tflite", PHOTO, "--max-frames", "-1"], "--max-frames"),
    (["train", "cnn", "--data", "x", "--patience", "-1"], "--patience"),
    (["convert", "runs/none", "--int8", "--prune", "2"], "--prune must be a sparsity between 0 and 1"),
    (["convert", "runs/none", "--int8", "--prune", "nan"], "--prune must be a sparsity between 0 and 1"),
    (["convert", "runs/none", "--int8", "--prune", "0.5", "--finetune-epochs", "-1"], "--finetune-epochs"),
    (["benchmark", "--data", ROOT / "docs" / "examples", "--min-accuracy", "2"], "--min-accuracy must be a fraction"),
    (["benchmark", "--data", ROOT / "docs" / "examples", "--min-accuracy", "nan"], "--min-accuracy must be a fraction"),
    (["predict", "asl29.tflite", PHOTO, "--top", "0"], "--top"),
    (["enrol", "--camera", "x.avi", "--pause", "-1", "-o", "p.tflite"], "--pause must be a number of seconds"),
    (["enrol", "--camera", "x.avi", "--pause", "nan", "-o", "p.tflite"], "--pause must be a number of seconds"),
    (["enrol", "--camera", "x.avi", "--steady", "nan", "-o", "p.tflite"], "--steady must be a positive fraction"),
    (["enrol", "--camera", "x.avi", "--steady", "0", "-o", "p.tflite"], "--steady must be a positive fraction"),
    (["check", "asl29.tflite", "--against", "x.tflite", "--data", "x", "--max-drop", "abc"], "--max-drop"),
])
def test_bad_values_and_paths_stop_before_work(args, needle):
    one_error_line(run_cli(*args), needle)


def h5_case(path, **arrays):
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        for key, value in arrays.items():
            if value is None:
                f.create_group(key)
            else:
                f[key] = value
    return path


@pytest.mark.parametrize("case, needle", [
    ("empty", "split is empty"), ("negative", "labels must be 0..2"), ("lengths", "4 images but 2 labels"),
    ("group", "must be datasets, not groups"), ("flat", "must hold images"),
])
def test_bad_hdf5_splits(case, needle, tmp_path):
    import numpy as np

    x = np.random.default_rng(0).integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    arrays = {"empty": {"test_set_x": x[:0], "test_set_y": np.zeros(0, int)},
              "negative": {"test_set_x": x, "test_set_y": np.array([0, 1, 2, -1])},
              "lengths": {"test_set_x": x, "test_set_y": np.array([0, 1])},
              "group": {"test_set_x": None, "test_set_y": np.array([0, 1])},
              "flat": {"test_set_x": x.reshape(4, -1), "test_set_y": np.array([0, 1, 2, 3])}}[case]
    path = h5_case(tmp_path / f"{case}.h5", **arrays)
    out = tmp_path / "eval"
    one_error_line(run_cli("evaluate", "asl29.tflite", path, "-o", out), needle)
    assert not out.exists()


def test_a_csv_whose_first_row_is_bad_data_is_refused_not_dropped(tmp_path):
    rows = ["x" + ",0" * 784] + ["1" + ",0" * 784]
    path = tmp_path / "rows.csv"
    path.write_text("\n".join(rows) + "\n")
    one_error_line(run_cli("evaluate", "asl29.tflite", path, "-o", tmp_path / "e"), "non-numeric")


def test_a_folder_with_a_bad_image_goes_on_and_lists_it(tmp_path):
    import shutil

    folder = tmp_path / "photos" / "A"
    folder.mkdir(parents=True)
    shutil.copy(PHOTO, folder / "a1.jpg")
    (folder / "a2.jpg").write_text("not a jpeg")
    shutil.copy(PHOTO, folder / "a3.jpg")
    r = run_cli("predict", "asl29.tflite", folder)
    assert r.returncode == 2 and len(r.stdout.strip().splitlines()) == 2, r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith(f"error: 1 of 3 file(s) could not be read: {folder / 'a2.jpg'} (")
    r = run_cli("evaluate", "asl29-hands.tflite", tmp_path / "photos", "-o", tmp_path / "eval")
    assert r.returncode == 2 and r.stdout.startswith("accuracy") and "a2.jpg" in r.stderr.splitlines()[-1]
    # --json: the metrics on stdout for a script, the unreadable photo named there too, and still the error and exit 2
    r = run_cli("evaluate", "asl29-hands.tflite", tmp_path / "photos", "-o", tmp_path / "eval2", "--json")
    out = json.loads(r.stdout)
    assert r.returncode == 2 and "a2.jpg" in r.stderr.splitlines()[-1]
    assert out["n"] == 2 and out["skipped"] == [str(folder / "a2.jpg")] and out["class_names"][0] == "A"
    assert out == {**json.loads((tmp_path / "eval2" / "eval_metrics.json").read_text()), "skipped": out["skipped"],
                   "files": {"json": str(tmp_path / "eval2" / "eval_metrics.json"),
                             "png": str(tmp_path / "eval2" / "eval_confusion_matrix.png")}}


def test_an_absurd_input_shape_is_refused_before_allocating(tmp_path):
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(image_model_path().read_bytes()))
    graph = model.subgraphs[0]
    graph.tensors[graph.inputs[0]].shape = [1, 20000, 20000, 3]
    bad = tmp_path / "huge.tflite"
    bad.write_bytes(bytes(flatbuffer_utils.convert_object_to_bytearray(model)))
    one_error_line(run_cli("predict", bad, PHOTO, timeout=60), "refused")


def test_the_firmware_suite_says_once_what_is_missing(tmp_path):
    r = subprocess.run([sys.executable, "-m", "edgesign.firmware_tests", "--model", tmp_path / "none.tflite"],
                       capture_output=True, text=True)
    one_error_line(r, "model not found")
    (tmp_path / "empty").mkdir()
    r = subprocess.run([sys.executable, "-m", "edgesign.firmware_tests", "--data", tmp_path / "empty"],
                       capture_output=True, text=True)
    one_error_line(r, "holds no images")
    r = subprocess.run([sys.executable, "-m", "edgesign.firmware_tests", "--bogus"], capture_output=True, text=True)
    one_error_line(r, "unrecognized arguments: --bogus")
    r = subprocess.run([sys.executable, "-m", "edgesign.firmware_tests", "--out", README], capture_output=True,
                       text=True)
    one_error_line(r, f"--out {README} is an existing file")
    for option, value, said in (("--min-accuracy", "90", "--min-accuracy must be a fraction between 0 and 1"),
                                ("--max-latency-ms", "-5", "--max-latency-ms must be a positive number"),
                                ("--max-latency-ms", "nan", "--max-latency-ms must be a positive number")):
        r = subprocess.run([sys.executable, "-m", "edgesign.firmware_tests", option, value], capture_output=True,
                           text=True)
        one_error_line(r, said)
        # pytest's own command line on the suite: pytest's usage error, before any test runs
        r = subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "firmware_tests"), "-p", "no:cacheprovider",
                            f"--edgesign-{option[2:]}={value}"], capture_output=True, text=True, cwd=ROOT)
        assert r.returncode == 4 and said.replace("--", "--edgesign-", 1) in r.stderr and "passed" not in r.stdout, (
            r.stdout[-1000:], r.stderr[-1000:])


def test_the_firmware_suite_says_once_that_the_pi_camera_software_is_missing():
    """``--camera pi`` on a machine without Picamera2: one line before any test runs, not pytest's traceback."""
    import importlib.util

    if importlib.util.find_spec("picamera2") is not None:
        pytest.skip("Picamera2 is installed here")
    r = subprocess.run([sys.executable, "-m", "edgesign.firmware_tests", "--camera", "pi"], capture_output=True,
                       text=True)
    one_error_line(r, "--camera pi: the Pi camera needs Picamera2: sudo apt install python3-picamera2")
    assert r.stdout == ""  # pytest never started


def test_a_killed_writers_part_file_is_cleaned_at_the_next_write(tmp_path):
    from edgesign import atomic

    target = tmp_path / "m.tflite"
    orphan = tmp_path / ".m.tflite.999999999.abc.part"  # no such process
    orphan.write_bytes(b"half a model")
    mine = tmp_path / f".m.tflite.{os.getpid()}.xyz.part"  # a live writer's: kept
    mine.write_bytes(b"being written")
    atomic.write_bytes(target, b"model")
    assert target.read_bytes() == b"model" and not orphan.exists() and mine.exists()


@pytest.mark.parametrize("what", ["model", "image", "output folder"])
def test_files_the_user_cannot_read_or_write_are_one_line(what, tmp_path):
    """Mode 000 model or image, a read-only output folder: one line, before any work (as an ordinary user)."""
    model, photo, out = tmp_path / "m.tflite", tmp_path / "a.jpg", tmp_path / "eval"
    shutil.copy(image_model_path(), model)
    shutil.copy(PHOTO, photo)
    locked = {"model": model, "image": photo, "output folder": tmp_path}[what]
    os.chmod(locked, 0o500 if what == "output folder" else 0)
    try:
        command = (["evaluate", model, ROOT / "docs" / "examples", "-o", out] if what == "output folder"
                   else ["predict", model, photo])
        r = run_cli(*command, unprivileged=True)
    finally:
        os.chmod(locked, 0o700 if what == "output folder" else 0o600)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-1500:]
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and ("ermission" in last or "cannot" in last), last
    assert not out.exists()


def test_models_the_runtime_cannot_run_correctly_are_refused(tmp_path):
    """Two outputs (the first head's logits were printed as probabilities), two inputs (one was left unset),
    a rank-3 output (IndexError): each refused in one line, naming what edgesign runs."""
    tf = pytest.importorskip("tensorflow")
    k = tf.keras
    image = k.Input((16, 16, 3))
    flat = k.layers.Flatten()(image)
    models = {
        "two-outputs": k.Model(image, [k.layers.Dense(3)(flat), k.layers.Dense(2)(flat)]),
        "two-inputs": (lambda other: k.Model([image, other], k.layers.Dense(3)(k.layers.Concatenate()([flat, other]))))(
            k.Input((4,))),
        "rank-3-output": k.Model(image, k.layers.Reshape((3, 256))(k.layers.Dense(768)(flat))),
    }
    for name, model in models.items():
        path = tmp_path / f"{name}.tflite"
        path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
        one_error_line(run_cli("predict", path, PHOTO), "edgesign runs classifiers with one image input and one")


def test_a_stream_url_that_refuses_is_one_line_without_ffmpegs_log():
    """A camera URL nobody answers: FFmpeg's own "[tcp @ 0x...] Connection ... refused" came before the error."""
    import socket

    pytest.importorskip("cv2")
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/stream.mjpg"
    one_error_line(run_cli("predict", "asl29.tflite", "--camera", url, timeout=120), f"cannot open stream {url}")
