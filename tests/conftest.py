"""Shared fixtures: the real data in ../shared/data and one small model trained on it per session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgesign.data import natural_key

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("EDGESIGN_DATA", ROOT.parent / "shared" / "data")).resolve()
ASL_TRAIN = DATA / "asl-photos" / "train"
ASL_TEST = DATA / "asl-photos" / "test"
EDGESIGN = [sys.executable, "-m", "edgesign.cli"]


def require_data(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data not found at {path} (set EDGESIGN_DATA to the shared data folder)")
    return path


@pytest.fixture(scope="session")
def asl_train() -> Path:
    return require_data(ASL_TRAIN)


@pytest.fixture(scope="session")
def asl_test() -> Path:
    return require_data(ASL_TEST)


@pytest.fixture(scope="session")
def asl_test_sample(tmp_path_factory, asl_test) -> Path:
    """Every fifth photo of each class of the test split (6 a class, 174, symlinked): for tests that compare
    two accuracies or pass a floor far below the model's, where the whole split only costs time."""
    root = tmp_path_factory.mktemp("asl-test-sample")
    for folder in sorted(p for p in asl_test.iterdir() if p.is_dir()):
        link_photos(root / folder.name, folder, slice(None, None, 5))
    return root


def ordered(folder: Path) -> list[Path]:
    """A class folder's photos in shooting order (they are numbered webcam frames)."""
    return sorted((p for p in folder.iterdir() if p.is_file()), key=natural_key)


def link_photos(dst: Path, src: Path, pick: slice = slice(None), order=ordered) -> Path:
    """Symlinks in ``dst`` (made) to the photos of ``src`` that ``pick`` selects from ``order(src)``."""
    dst.mkdir(parents=True, exist_ok=True)
    for p in order(src)[pick]:
        (dst / p.name).symlink_to(p)
    return dst


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: int = 900,
            unprivileged: bool = False):
    """Run the real `edgesign` command line in a subprocess (``unprivileged``: as an ordinary user would, see
    :func:`without_root_overrides`)."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    r = subprocess.run([*EDGESIGN, *map(str, args)], capture_output=True, text=True, env=full_env,
                       cwd=cwd or ROOT, timeout=timeout, **(without_root_overrides() if unprivileged else {}))
    if unprivileged and r.returncode == 99 and not r.stdout and not r.stderr:
        pytest.skip("cannot drop root's file-permission override here (no CAP_SETPCAP)")
    return r


def run_on_terminal(*args: str, timeout: int = 300) -> tuple[int, bytes, str]:
    """Run the real `edgesign` command line with its standard output on a pseudo-terminal (what a user's terminal
    gives it): (exit code, what the terminal received, standard error)."""
    import pty

    master, child = pty.openpty()
    proc = subprocess.Popen([*EDGESIGN, *map(str, args)], stdout=child, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    os.close(child)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    code = proc.wait(timeout=timeout)
    return code, out, proc.stderr.read()


def without_root_overrides() -> dict:
    """Root reads a mode-000 file and writes in a read-only folder (CAP_DAC_OVERRIDE): a root test runs the
    command without those two capabilities (dropped from the bounding set before exec), as an ordinary user."""
    if os.geteuid() != 0:
        return {}
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def drop() -> None:
        for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
            if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
                os._exit(99)

    return {"preexec_fn": drop}


@pytest.fixture(scope="session")
def small_subset(tmp_path_factory, asl_train) -> Path:
    """Real photos of 4 classes (40 each), symlinked: for quick tests that need a folder to train on."""
    root = tmp_path_factory.mktemp("asl4")
    for cls in ("A", "B", "C", "Space"):  # the first 40 by name (A0, A1, A10, A100, ...): spread over the recording
        link_photos(root / cls, asl_train / cls, slice(40), order=lambda folder: sorted(folder.iterdir()))
    return root


E2E_SIZE, E2E_EPOCHS = 32, 8  # the e2e model's input side and epochs


@pytest.fixture(scope="session")
def e2e(tmp_path_factory, asl_train, asl_test) -> dict:
    """The foundation path on the real data: train the small CNN at 32x32, convert to int8 with the gate.

    Session-scoped: the runtime tests reuse its models. (It trained resnet18 at 32x32 until a CI machine
    ran the ResNets' training steps at about 30 images/s, a 25-minute fixture; then the CNN at 48x48 for 6
    epochs: 119 s here, 34 % on the test split; at 32x32 for 8 epochs: 70 s, 37 %. Six epochs at 32x32
    reached only 28 %: the last epochs of the cosine schedule matter.)
    """
    work = tmp_path_factory.mktemp("e2e")
    run = work / "run"
    r = run_cli("train", "cnn", "--data", asl_train, "--test-data", asl_test, "--size", str(E2E_SIZE),
                "--epochs", str(E2E_EPOCHS), "--batch-size", "64", "--lr", "0.002", "-o", run)
    assert r.returncode == 0, r.stderr[-3000:]
    int8 = work / "model_int8.tflite"
    r_conv = run_cli("convert", run, "--int8", "--calib", asl_train, "--calib-size", "290", "--eval", asl_test,
                     "--max-drop", "3.0", "-o", int8)
    assert r_conv.returncode == 0, r_conv.stderr[-3000:]
    f32 = work / "model_float32.tflite"
    r_f = run_cli("convert", run, "--target", "float32", "-o", f32)
    assert r_f.returncode == 0, r_f.stderr[-3000:]
    return {"run": run, "int8": int8, "float32": f32, "train_out": r.stdout + r.stderr,
            "convert_out": r_conv.stdout + r_conv.stderr, "work": work}
