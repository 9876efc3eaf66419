"""`edgesign benchmark`: load time, first inference, latency percentiles, FPS, peak RSS, size, accuracy.

Each model is measured in its own process, so load time and peak memory are its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .errors import EdgesignError


def _peak_rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def invoke_times_ms(model, tensor: np.ndarray, runs: int = 200, warmup: int = 20) -> np.ndarray:
    """Milliseconds of ``runs`` invokes of one prepared input, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        model.invoke(tensor)
    times = np.empty(runs)
    for i in range(runs):
        s = time.perf_counter()
        model.invoke(tensor)
        times[i] = time.perf_counter() - s
    return times * 1e3


def measure(model_path: str, *, runs: int = 200, warmup: int = 20, data: str | None = None, backend: str = "auto",
            threads: int | None = None, device: str = "auto") -> dict[str, Any]:
    """Measure one model in this process."""
    from .runtime import EdgeModel, open_model

    t0 = time.perf_counter()
    model = open_model(model_path, backend=backend, threads=threads, device=device, warn=False)
    load_s = time.perf_counter() - t0
    if not isinstance(model, EdgeModel):
        return _measure_pipeline(model, model_path, load_s, runs, warmup, data)
    ds = None
    if data:
        from .data import load_dataset

        ds = load_dataset(data, model.preprocess, progress=False)
        pixels = ds.images[0]
    else:
        pixels = np.full(model.preprocess.shape, 128, np.uint8)
    tensor = model.to_input(pixels)
    t1 = time.perf_counter()
    model.invoke(tensor)
    first_s = time.perf_counter() - t1
    ms = invoke_times_ms(model, tensor, runs, warmup)
    row: dict[str, Any] = {
        "model": str(model_path), "target": model.metadata.get("target", "?"), "backend": model.backend.name,
        "device": "edgetpu" if model.edgetpu else "cpu", "size_mb": round(model.size_bytes / 1e6, 3),
        "load_ms": round(load_s * 1e3, 2), "first_ms": round(first_s * 1e3, 3),
        "min_ms": round(float(ms.min()), 4), "p50_ms": round(float(np.percentile(ms, 50)), 4),
        "p90_ms": round(float(np.percentile(ms, 90)), 4), "p99_ms": round(float(np.percentile(ms, 99)), 4),
        "fps": round(float(1e3 * runs / ms.sum()), 1), "runs": runs,
    }
    if ds is not None:
        probs = model.probabilities_batch(ds.images)
        row["accuracy"] = round(float((probs.argmax(1) == ds.labels).mean()), 6)
        row["data"] = ds.source
    row["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    return row


def _measure_pipeline(model, model_path: str, load_s: float, runs: int, warmup: int, data: str | None) -> dict[str, Any]:
    """A hand pipeline: a still image through both stages (a photo of ``data``, else mid-grey: no hand)."""
    frame = np.full((480, 640, 3), 128, np.uint8)
    files: list[str] = []
    if data:
        from .api import pipeline_files
        from .preprocess import open_image

        files, labels = pipeline_files(model.labels, data)
        frame = np.asarray(open_image(files[0]).convert("RGB"))
    t1 = time.perf_counter()
    model.classify_frame(frame)
    first_s = time.perf_counter() - t1
    runs = min(runs, 100)
    ms = np.empty(runs)
    for i in range(-min(warmup, 5), runs):
        s = time.perf_counter()
        model.classify_frame(frame)
        if i >= 0:
            ms[i] = (time.perf_counter() - s) * 1e3
    row: dict[str, Any] = {
        "model": str(model_path), "target": f"hand pipeline ({model.metadata.get('target', '?')})",
        "backend": model.backend.name, "device": "cpu", "size_mb": round(model.size_bytes / 1e6, 3),
        "load_ms": round(load_s * 1e3, 2), "first_ms": round(first_s * 1e3, 3),
        "min_ms": round(float(ms.min()), 4), "p50_ms": round(float(np.percentile(ms, 50)), 4),
        "p90_ms": round(float(np.percentile(ms, 90)), 4), "p99_ms": round(float(np.percentile(ms, 99)), 4),
        "fps": round(float(1e3 * runs / ms.sum()), 1), "runs": runs,
    }
    if files:
        probs = model.probabilities_files(files)
        row["accuracy"] = round(float((probs.argmax(1) == labels).mean()), 6)
        row["data"] = data
    row["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    return row


def benchmark(models: list[str], **kwargs: Any) -> list[dict[str, Any]]:
    """Measure each model in a fresh process; one row per model."""
    from .runtime import resolve_model_path

    rows = []
    for name in models:
        m = str(resolve_model_path(name))
        if not Path(m).is_file():
            raise EdgesignError(f"model not found: {name}")
        args = json.dumps({"model_path": m, **kwargs})
        proc = subprocess.run([sys.executable, "-m", "edgesign.benchmark", args], capture_output=True, text=True,
                              env={**os.environ, "EDGESIGN_QUIET": "1"})
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["failed"])[-1]
            raise EdgesignError(f"benchmark of {name} failed: {last.removeprefix('error: ')}")
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return rows


COLUMNS = [("model", "model"), ("target", "target"), ("size_mb", "MB"), ("load_ms", "load ms"),
           ("first_ms", "first ms"), ("min_ms", "min"), ("p50_ms", "p50"), ("p90_ms", "p90"), ("p99_ms", "p99"),
           ("fps", "FPS"), ("peak_rss_mb", "RSS MB"), ("accuracy", "accuracy")]


def format_table(rows: list[dict[str, Any]]) -> str:
    cols = [(k, h) for k, h in COLUMNS if any(k in r for r in rows)]
    table = [[h for _, h in cols]] + [[_fmt(k, r.get(k, "")) for k, _ in cols] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(cols))]
    return "\n".join("  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths)))
                     for row in table)


def _fmt(key: str, v: Any) -> str:
    if key == "model":
        return Path(v).name
    if key == "accuracy" and isinstance(v, float):
        return f"{100 * v:.2f} %"
    return f"{v:g}" if isinstance(v, float) else str(v)


def _main() -> None:
    from .errors import EdgesignError as _E

    try:
        print(json.dumps(measure(**json.loads(sys.argv[1]))))
    except _E as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    _main()
