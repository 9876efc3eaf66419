"""The on-device acceptance suite, run here against the end-to-end model and its certification data."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT


def test_acceptance_suite_passes_on_the_certified_model(e2e, asl_test, tmp_path):
    r = subprocess.run([sys.executable, "-m", "edgesign.firmware_tests", "--model", str(e2e["int8"]),
                        "--data", str(asl_test), "--min-accuracy", "0.2", "--junit", str(tmp_path / "j.xml"),
                        "--out", str(tmp_path / "figures")],
                       capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "EDGESIGN_QUIET": "1"},
                       timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "5 passed" in r.stdout and "1 skipped" in r.stdout, r.stdout[-1000:]
    # the accuracy test's figures where --out says, not in the current folder
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["eval_confusion_matrix.png",
                                                                       "eval_metrics.json"]
    assert not (tmp_path / "acceptance_eval").exists() and (tmp_path / "j.xml").is_file()


def test_acceptance_suite_fails_on_an_uncertified_model(e2e, tmp_path):
    r = subprocess.run([sys.executable, "-m", "edgesign.firmware_tests", "--model", str(e2e["float32"])],
                       capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert r.returncode == 1 and "test_model_is_certified" in r.stdout, r.stdout[-2000:]
    assert ROOT.exists()
