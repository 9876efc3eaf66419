"""Quiet by default, files with the mode the umask gives, the same top-k order on every platform."""

from __future__ import annotations

import os
import stat

import numpy as np
from conftest import ROOT, run_cli

from edgesign import atomic
from edgesign.adapters import top_k


def test_predict_prints_no_library_logs_unless_verbose():
    photo = ROOT / "docs" / "examples" / "l.jpg"
    quiet = run_cli("predict", "asl29.tflite", photo)
    assert quiet.returncode == 0 and "XNNPACK" not in quiet.stderr, quiet.stderr
    loud = run_cli("--verbose", "predict", "asl29.tflite", photo)
    assert loud.returncode == 0 and "XNNPACK" in loud.stderr
    assert quiet.stdout == loud.stdout


def test_written_files_honour_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        import importlib

        importlib.reload(atomic)
        path = atomic.write_text(tmp_path / "a.json", "{}")
    finally:
        os.umask(old)
        importlib.reload(atomic)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert stat.S_IMODE(atomic.write_text(tmp_path / "b.json", "{}").stat().st_mode) == 0o666 & ~old


def test_top_k_orders_ties_by_class_index():
    probs = np.array([0.1, 0.3, 0.05, 0.3, 0.3, 0.05], np.float32)
    assert [i for i, _ in top_k(probs, 4)] == [1, 3, 4, 0]
    assert [i for i, _ in top_k(probs[::-1].copy(), 3)] == [1, 2, 4]
