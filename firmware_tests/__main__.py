"""Run the acceptance suite: ``python -m edgesign.firmware_tests --model m.tflite --data photos/``.

Each option is passed to pytest as ``--edgesign-<option>`` (the suite's own options, see its conftest).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, like every edgesign command, not argparse's usage block
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def main(argv: list[str] | None = None) -> int:
    ap = _Parser(prog="python -m edgesign.firmware_tests", description=__doc__)
    ap.add_argument("--model", help="the deployed .tflite (default: the shipped model)")
    ap.add_argument("--data", help="labelled photos (class folders) to measure accuracy on")
    ap.add_argument("--min-accuracy", type=float, help="accuracy floor (0-1) on --data")
    ap.add_argument("--max-latency-ms", type=float, default=100.0, help="p50 latency ceiling")
    ap.add_argument("--device", default="cpu", choices=["cpu", "edgetpu"])
    ap.add_argument("--camera", help="pi, an OpenCV index or URL: also test live capture")
    ap.add_argument("--out", help="folder for the accuracy test's figures (default: ./acceptance_eval)")
    ap.add_argument("--junit", help="write a JUnit XML report here")
    args = ap.parse_args(argv)
    try:
        import pytest
    except ImportError:
        print("error: the acceptance suite needs pytest: pip install 'edgesign[firmware]'", file=sys.stderr)
        return 2
    from .numbers import number_problem

    problem = number_problem(args.min_accuracy, args.max_latency_ms) or _check_inputs(args.model, args.data,
                                                                                      args.camera, args.out)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    pytest_args = [str(Path(__file__).parent), "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                   "--rootdir", str(Path(__file__).parent)]
    for key in ("model", "data", "min_accuracy", "max_latency_ms", "device", "camera", "out"):
        value = getattr(args, key)
        if value is not None:
            pytest_args.append(f"--edgesign-{key.replace('_', '-')}={value}")
    if args.junit:
        pytest_args.append(f"--junitxml={args.junit}")
    return int(pytest.main(pytest_args))


def _check_inputs(model: str | None, data: str | None, camera: str | None = None, out: str | None = None) -> str | None:
    """What would make every test fail for the same reason, said once before pytest starts."""
    from edgesign.data import IMAGE_SUFFIXES
    from edgesign.errors import EdgesignError
    from edgesign.metadata import read_metadata
    from edgesign.runtime import existing_model_file, read_model_file
    from edgesign.sources import camera_software

    try:  # missing, a folder, unreadable, not a TFLite file, a corrupt flatbuffer: said once, here
        read_metadata(read_model_file(existing_model_file(model, shown=model or None)))
    except EdgesignError as exc:
        return str(exc)
    if data is not None:
        root = Path(data)
        if not root.exists():
            return f"--data {data} not found"
        if root.is_dir() and not any(f.suffix.lower() in IMAGE_SUFFIXES for f in root.rglob("*")):
            return f"--data {data} holds no images"
    if out is not None:
        from edgesign.atomic import check_output

        try:
            check_output(out, "dir", "--out")
        except EdgesignError as exc:
            return str(exc)
    if camera is not None:
        try:
            camera_software(camera)  # its software missing: said once, here; a camera that delivers nothing is a test
        except EdgesignError as exc:
            return f"--camera {camera}: {exc}"
    return None


if __name__ == "__main__":
    sys.exit(main())
