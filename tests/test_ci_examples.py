"""The CI examples in docs/ci run as written: each step's commands, in order, with the example's variables
pointed at a small model and real photos. What a CI system does around them (checkout, setup-python, the
artifact upload) is left out; the install step is checked, not run (this environment has it)."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

DOCS = ROOT / "docs" / "ci"


def github_steps() -> tuple[dict, list[str]]:
    job = yaml.safe_load((DOCS / "github-actions.yml").read_text())["jobs"]["gate"]
    return job["env"], [s["run"] for s in job["steps"] if "run" in s]


def gitlab_steps() -> tuple[dict, list[str]]:
    job = yaml.safe_load((DOCS / "gitlab-ci.yml").read_text())["edgesign-gate"]
    assert {"reports/convert.xml", "reports/check.xml"} <= set(job["artifacts"]["reports"]["junit"])
    return job["variables"], job["script"]


def run_steps(variables: dict, commands: list[str], workdir: Path, extra_env: dict) -> None:
    env = {**os.environ, **{k: str(v) for k, v in variables.items()}, **extra_env,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    for command in commands:
        if command.startswith("pip install"):
            assert "'.[train]'" in command  # the project with its training extra: what this environment has
            continue
        r = subprocess.run(["bash", "-e", "-c", command], cwd=workdir, env=env, capture_output=True, text=True,
                           timeout=900)
        assert r.returncode == 0, (command, r.stderr[-2000:])


def junit_ok(path: Path) -> None:
    suite = ET.parse(path).getroot()
    assert suite.tag == "testsuite" and int(suite.get("tests")) >= 2 and suite.get("failures") == "0"


@pytest.mark.parametrize("example", ["github", "gitlab"])
def test_ci_example_runs_step_by_step(example, e2e, asl_train, asl_test, tmp_path):
    variables, commands = github_steps() if example == "github" else gitlab_steps()
    assert {"RUN", "CALIB", "HELDOUT", "OUT"} <= set(variables)
    ours = {"RUN": e2e["run"], "CALIB": asl_train, "HELDOUT": asl_test, "OUT": tmp_path / "runs" / "m_int8.tflite",
            "CALIB_SIZE": 20, "MAX_DROP": 5, "MIN_ACCURACY": 0.2}
    summary = tmp_path / "step_summary.md"
    run_steps({**variables, **ours}, commands, tmp_path, {"GITHUB_STEP_SUMMARY": str(summary), "CI": "true"})
    junit_ok(tmp_path / "reports" / "convert.xml")
    junit_ok(tmp_path / "reports" / "check.xml")
    assert (tmp_path / "runs" / "m_int8.tflite").exists()
    text = summary.read_text()
    assert text.count(": passed") == 2 and "| converted accuracy |" in text
    assert text.count("| images lost / gained |") == 2 and "the drop's 95 % interval" in text


def test_a_failing_gate_fails_the_step_and_says_why(e2e, asl_train, asl_test, tmp_path):
    variables, commands = github_steps()
    ours = {"RUN": e2e["run"], "CALIB": asl_train, "HELDOUT": asl_test, "OUT": tmp_path / "m_int8.tflite",
            "CALIB_SIZE": 20, "MAX_DROP": 5, "MIN_ACCURACY": 0.99}
    convert = next(c for c in commands if c.startswith("edgesign convert"))
    env = {**os.environ, **{k: str(v) for k, v in {**variables, **ours}.items()},
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    r = subprocess.run(["bash", "-e", "-c", convert], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 1 and not (tmp_path / "m_int8.tflite").exists()
    suite = ET.parse(tmp_path / "reports" / "convert.xml").getroot()
    assert suite.get("failures") == "1" and "under 99.00 %" in ET.tostring(suite, encoding="unicode")
    assert "FAILED" in (tmp_path / "summary.md").read_text()


def test_convert_without_eval_is_flagged_in_ci(e2e, tmp_path):
    from conftest import run_cli

    out = tmp_path / "f.tflite"
    r = run_cli("convert", e2e["run"], "--target", "float32", "-o", out, "--junit", tmp_path / "j.xml",
                env={"CI": "true"})
    assert r.returncode == 0 and "NOT certified" in r.stderr
    assert ET.parse(tmp_path / "j.xml").getroot().get("failures") == "1"
