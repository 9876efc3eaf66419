"""The device runtime never imports TensorFlow: run the real commands with TensorFlow unimportable."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import ROOT

RUN_AND_REPORT_TF = """
import sys
from edgesign.cli import main
try:
    main(sys.argv[1:])
finally:
    loaded = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf_keras', 'keras')]
    sys.stderr.write('TF_MODULES=' + ','.join(loaded) + '\\n')
"""
BLOCK_TF = """
import sys
class _NoTF:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('tensorflow', 'tf_keras', 'keras', 'tensorflow_model_optimization'):
            raise ModuleNotFoundError(f"No module named '{name}' (blocked by the test)")
        return None
sys.meta_path.insert(0, _NoTF())
""" + RUN_AND_REPORT_TF


def _run(script: str, args) -> subprocess.CompletedProcess:
    env = {**os.environ, "EDGESIGN_QUIET": "1"}
    return subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)


def run_without_tf(*args):
    """The command with TensorFlow unimportable."""
    return _run(BLOCK_TF, args)


def run_reporting_tf(*args):
    """The command with TensorFlow installed; its stderr ends by naming the TensorFlow modules it loaded."""
    return _run(RUN_AND_REPORT_TF, args)


def _no_tf(proc):
    line = [ln for ln in proc.stderr.splitlines() if ln.startswith("TF_MODULES=")]
    assert line and line[-1] == "TF_MODULES=", proc.stderr[-2000:]


def test_predict_info_evaluate_benchmark_without_tensorflow(e2e, asl_test, tmp_path):
    r = run_without_tf("predict", e2e["int8"], asl_test / "C" / "C1.jpg", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.splitlines()[0])["top"]
    _no_tf(r)

    r = run_without_tf("info", e2e["int8"])
    assert r.returncode == 0 and "certified" in r.stdout, r.stderr
    _no_tf(r)

    r = run_without_tf("evaluate", e2e["int8"], asl_test, "-o", tmp_path / "eval")
    assert r.returncode == 0, r.stderr
    metrics = json.loads((tmp_path / "eval" / "eval_metrics.json").read_text())
    assert metrics["n"] == 870 and len(metrics["confusion_matrix"]) == 29
    assert (tmp_path / "eval" / "eval_confusion_matrix.png").stat().st_size > 1000
    _no_tf(r)

    r = run_without_tf("benchmark", e2e["int8"], e2e["float32"], "--runs", "30", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert len(rows) == 2 and all(row["p50_ms"] > 0 for row in rows)
    _no_tf(r)

    r = run_without_tf("check", e2e["int8"], "--against", e2e["float32"], "--data", asl_test, "--max-drop", "3")
    assert r.returncode == 0, r.stderr
    _no_tf(r)


def test_train_and_convert_without_the_extra_name_the_install_command(tmp_path):
    for cmd in (["train", "cnn", "--data", str(tmp_path)], ["convert", str(tmp_path), "--int8"]):
        r = run_without_tf(*cmd)
        assert r.returncode == 2
        assert r.stderr.splitlines()[0] == f"error: edgesign {cmd[0]} needs the 'train' extra: " \
            "pip install 'edgesign[train]' (from a clone: pip install -e '.[train]')", r.stderr
        assert "Traceback" not in r.stderr


def test_train_names_a_missing_dataset_or_model_before_loading_tensorflow(tmp_path):
    """A mistyped --data, --test-data or model name answers at once (it took 5 s of TensorFlow start-up)."""
    for cmd in (["train", "cnn", "--data", str(tmp_path / "nope")],
                ["train", "cnn", "--data", str(tmp_path), "--test-data", str(tmp_path / "gone")]):
        r = run_without_tf(*cmd)
        assert r.returncode == 2 and r.stderr.splitlines()[0] == f"error: dataset not found: {cmd[-1]}", r.stderr
        _no_tf(r)
    # with TensorFlow installed: a mistyped model name is answered from the registry before it loads
    r = run_reporting_tf("train", "resnet-18", "--data", tmp_path)
    assert r.returncode == 2 and "did you mean resnet18" in r.stderr.splitlines()[0], r.stderr
    _no_tf(r)
