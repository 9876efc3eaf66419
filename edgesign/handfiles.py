"""MediaPipe's hand models (palm detector, hand landmarks): where they come from, verified by sha256.

The four ``.tflite`` files (Apache-2.0, Google) are inside the ``mediapipe`` wheel on the package
registry; from 0.10.30 on the wheels carry none, so the version is pinned. They are fetched once
with pip by package name (the wheel alone, ``--no-deps``: the mediapipe package itself is never
installed), checked against the hashes below, and kept in the user's cache folder. An offline
device points ``EDGESIGN_HAND_MODELS`` (or ``--hand-models``) at a folder holding the files.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from . import atomic
from .errors import EdgesignError

WHEEL = "mediapipe==0.10.21"
# The wheel for one platform is fetched whatever this machine is: the model files are the same bytes
# in the x86_64 and aarch64 wheels, and this one exists for every Python pip can run it from.
WHEEL_PLATFORM = ("manylinux_2_28_x86_64", "3.11")
LICENSE = "Apache-2.0 (MediaPipe, Google LLC)"
ENV_FOLDER = "EDGESIGN_HAND_MODELS"

# file name -> (path inside the wheel, sha256)
FILES: dict[str, tuple[str, str]] = {
    "palm_detection_lite.tflite": ("mediapipe/modules/palm_detection/palm_detection_lite.tflite",
                                   "e9a4aaddf90dda56a87235303cf00e4c2d3fb28725f68fd88772997dac905c18"),
    "palm_detection_full.tflite": ("mediapipe/modules/palm_detection/palm_detection_full.tflite",
                                   "1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54"),
    "hand_landmark_lite.tflite": ("mediapipe/modules/hand_landmark/hand_landmark_lite.tflite",
                                  "048edd3645c9bf7397d19a9f6e3a42957d6e414c9bea6598030a2e9b624156e6"),
    "hand_landmark_full.tflite": ("mediapipe/modules/hand_landmark/hand_landmark_full.tflite",
                                  "11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3"),
}


def provenance() -> dict[str, str]:
    return {"package": WHEEL, "license": LICENSE}


def cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "edgesign" / "hands"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify(path: Path, name: str) -> Path:
    """``path`` when its bytes are the pinned file ``name``; a one-line error otherwise."""
    if not path.is_file():
        raise EdgesignError(f"hand model {name} not found at {path}")
    expected = FILES[name][1]
    if sha256_of(path) != expected:
        raise EdgesignError(f"hand model {path} does not match its pinned sha256 ({expected[:12]}...): "
                            "refused (delete it to fetch it again)")
    return path


def hand_model_path(name: str, folder: str | os.PathLike | None = None, fetch: bool = True) -> Path:
    """The verified local path of one hand model file: ``folder``, ``$EDGESIGN_HAND_MODELS``, or the cache."""
    if name not in FILES:
        raise EdgesignError(f"unknown hand model {name!r}: one of {', '.join(FILES)}")
    offline = folder or os.environ.get(ENV_FOLDER)
    if offline:
        return verify(Path(offline) / name, name)
    cached = cache_folder() / name
    if not cached.is_file():
        if not fetch:
            raise EdgesignError(f"hand model {name} is not in {cache_folder()} (set {ENV_FOLDER} to a folder holding it)")
        fetch_all(cache_folder())
    return verify(cached, name)


def fetch_all(dest: Path) -> None:
    """Download the pinned wheel with pip, extract the hand models into ``dest``, verify every one."""
    print(f"first use: fetching MediaPipe's hand models from the {WHEEL} wheel (35.6 MB, once) into {dest}",
          file=sys.stderr, flush=True)
    platform, python = WHEEL_PLATFORM
    with tempfile.TemporaryDirectory(prefix="edgesign-hands-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", WHEEL, "--no-deps", "--only-binary=:all:",
               "--platform", platform, "--python-version", python, "--dest", tmp, "--progress-bar", "on"]
        try:
            done = subprocess.run(cmd, stdout=sys.stderr, stderr=subprocess.PIPE, text=True)
        except OSError as exc:
            raise EdgesignError(f"cannot run pip to fetch the hand models ({exc}); set {ENV_FOLDER}") from None
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            last = (done.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
            raise EdgesignError(f"could not fetch {WHEEL} with pip ({last}); on an offline device copy "
                                f"{', '.join(FILES)} into a folder and set {ENV_FOLDER}")
        extract(wheels[0], dest)


def extract(wheel: Path, dest: Path) -> None:
    """Copy the hand models out of a mediapipe wheel into ``dest``, refusing any that fail their hash."""
    with zipfile.ZipFile(wheel) as zf:
        for name, (inner, expected) in FILES.items():
            try:
                data = zf.read(inner)
            except KeyError:
                raise EdgesignError(f"{wheel.name} holds no {inner}") from None
            if hashlib.sha256(data).hexdigest() != expected:
                raise EdgesignError(f"{inner} in {wheel.name} does not match its pinned sha256: refused")
            atomic.write_bytes(dest / name, data)
