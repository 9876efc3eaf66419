"""The Raspberry Pi proof (bench/arm_verify.py): its parts here, the whole emulated run under ``-m arm``.

    python -m pytest -m arm tests/test_arm.py     # root, qemu-user-static, debootstrap; 30-60 minutes
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import arm_verify  # noqa: E402


def test_personas_look_like_the_boards():
    pi4, pi5, legacy = arm_verify.PERSONAS["pi4"], arm_verify.PERSONAS["pi5"], arm_verify.PERSONAS["pi4-32bit"]
    assert pi4.cpuinfo().count("CPU part\t: 0xd08") == 4 and "Raspberry Pi 4" in pi4.cpuinfo()
    assert pi5.cpuinfo().count("CPU part\t: 0xd0b") == 4 and "asimddp" in pi5.cpuinfo()
    assert (pi4.qemu_cpu, pi5.qemu_cpu) == ("cortex-a72", "cortex-a76") and pi4.arch == pi5.arch == "arm64"
    assert legacy.arch == "armhf" and legacy.legacy and "ARMv7" in legacy.cpuinfo()


def probe_pair(diff_steps: float):
    """Two probes of one int8 model and one pipeline, the second off by ``diff_steps`` int8 steps."""
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(29), 10).astype(np.float32)
    step = np.float32(1 / 256)
    feats = rng.normal(size=(10, 119)).astype(np.float32)
    x86 = {"asl29.tflite:probs": probs, "asl29.tflite:output_scale": step,
           "asl29.tflite:hand_found": np.ones(10, bool),
           "asl29-hands.tflite:probs": probs, "asl29-hands.tflite:output_scale": np.float32(0),
           "asl29-hands.tflite:hand_found": np.ones(10, bool), "asl29-hands.tflite:features": feats,
           "asl29-hands.tflite:classifier_on_reference": probs}
    arm = dict(x86)
    arm["asl29.tflite:probs"] = probs + diff_steps * step * (np.arange(29) == 3)
    arm["asl29-hands.tflite:classifier_on_reference"] = probs + diff_steps * step * (np.arange(29) == 3)
    return x86, arm


def test_comparison_counts_int8_steps():
    x86, arm = probe_pair(1.0)
    rows = arm_verify.compare(x86, arm)
    assert rows["asl29.tflite"]["max_diff_steps"] == pytest.approx(1.0, abs=1e-3)
    assert rows["asl29-hands.tflite"]["classifier_stage_diff_steps"] == pytest.approx(1.0, abs=1e-3)
    ok = {"probabilities": rows, "exits": {"asl29.tflite info": 0}, "printed": {"asl29.tflite predict": "same"}}
    assert arm_verify.passed(ok)
    worse = dict(ok, probabilities=arm_verify.compare(*probe_pair(3.0)))
    assert not arm_verify.passed(worse)
    assert not arm_verify.passed(dict(ok, exits={"asl29.tflite info": 1}))


def test_printed_lines_compare_without_the_photo_folders():
    x86 = {"m.tflite predict": {"stdout": "/tmp/x/opt/photos/signer1/A/A1.jpg: A 0.912, B 0.010\n"}}
    same = {"m.tflite predict": {"stdout": "/opt/photos/signer1/A/A1.jpg: A 0.912, B 0.010\n"}}
    near = {"m.tflite predict": {"stdout": "/opt/photos/signer1/A/A1.jpg: A 0.913, B 0.010\n"}}
    assert arm_verify.compare_cli(x86, same) == {"m.tflite predict": "same"}
    assert arm_verify.compare_cli(x86, near) == {"m.tflite predict": "same top-1"}


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts need root")
def test_mounts_are_undone_even_when_the_run_fails(tmp_path):
    """The Chroot context undoes its mounts on an exception (a killed run's are undone at the next start)."""
    root = tmp_path / "root"
    for d in ("proc", "dev", "etc", "sys"):
        (root / d).mkdir(parents=True)
    (root / "proc" / "cpuinfo").touch()  # the bind target, before proc is mounted over it
    with pytest.raises(RuntimeError):
        with arm_verify.Chroot(root, arm_verify.PERSONAS["pi4"]):
            mounts = Path("/proc/mounts").read_text()
            assert str(root / "proc") in mounts and str(root / "dev") in mounts
            raise RuntimeError("a step failed")
    assert str(root) not in Path("/proc/mounts").read_text()
    assert (root / "sys/devices/system/cpu/possible").read_text() == "0-3\n"


@pytest.mark.arm
def test_the_runtime_on_emulated_pis_matches_x86(tmp_path):
    out = tmp_path / "arm.json"
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "arm_verify.py"), "--out", str(out)],
                       capture_output=True, text=True, timeout=5400)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    results = json.loads(out.read_text())
    assert {r["persona"] for r in results} == {"pi4", "pi5"}
    assert all(p["top1_agree"] == p["photos"] for r in results for p in r["probabilities"].values())
