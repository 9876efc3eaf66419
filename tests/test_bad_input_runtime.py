"""Bad input to the runtime commands ends in exactly one `error:` line, exit 2, before any work (issue 13).

Inputs are made at test time from the shipped image model and the example photos (no binary fixtures).
"""

from __future__ import annotations

import json
import os

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
    (["convert", "runs/none", "--int8", "--max-drop", "1.0"], "--max-drop needs held-out data"),
])
def test_option_errors(args, needle):
    one_error_line(run_cli(*args), needle)


def test_a_pipe_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "frames.fifo"
    os.mkfifo(fifo)
    one_error_line(run_cli("predict", "asl29.tflite", fifo, timeout=60), "not a regular file")


def test_a_corrupt_root_offset_is_one_line(tmp_path):
    data = bytearray(image_model_path().read_bytes())
    data[0] ^= 0xFF
    bad = tmp_path / "corrupt.tflite"
    bad.write_bytes(bytes(data))
    for command in (["predict", bad, PHOTO], ["info", bad]):
        r = run_cli(*command)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-1500:]
        assert r.stderr.strip().splitlines()[-1].startswith("error: ")


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
