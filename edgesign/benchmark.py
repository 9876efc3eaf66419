"""`edgesign benchmark`: load time, first inference, latency percentiles, FPS, peak RSS, size, accuracy.

Each model is measured in its own process, so load time and peak memory are its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

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


def time_calls_ms(call: Callable[[], Any], runs: int = 200, warmup: int = 20) -> np.ndarray:
    """Milliseconds of ``runs`` calls, after ``warmup`` untimed ones: the one timing loop (benchmark, benches and
    the firmware suite all time through it)."""
    for _ in range(warmup):
        call()
    times = np.empty(runs)
    for i in range(runs):
        s = time.perf_counter()
        call()
        times[i] = time.perf_counter() - s
    return times * 1e3


def invoke_times_ms(model, tensor: np.ndarray, runs: int = 200, warmup: int = 20) -> np.ndarray:
    """Milliseconds of ``runs`` invokes of one prepared input, after ``warmup`` untimed ones."""
    return time_calls_ms(lambda: model.invoke(tensor), runs, warmup)


def latency_stats(ms: np.ndarray) -> dict[str, float]:
    return {"min_ms": round(float(ms.min()), 4), "p50_ms": round(float(np.percentile(ms, 50)), 4),
            "p90_ms": round(float(np.percentile(ms, 90)), 4), "p99_ms": round(float(np.percentile(ms, 99)), 4),
            "fps": round(float(1e3 * len(ms) / ms.sum()), 1), "runs": len(ms)}


@dataclass
class Workload:
    """What one timed call runs, and the labelled data to measure accuracy on (if any)."""

    call: Callable[[], Any]
    what: str  # "invoke" or "still image"
    accuracy: Callable[[], tuple[float, str]] | None = None
    image: str | None = None  # a hand pipeline's still image: which one


def model_runs(model, call: Callable[[], Any]) -> dict[str, int]:
    """How many times one ``call`` runs each model of a hand pipeline: the palm detector runs again zoomed out, and
    the landmark model on the centre, while no hand is found (a frame without a hand runs three models, not two)."""
    stage = [model.stage.palm.model, model.stage.landmarks.model]
    before = [m.runs for m in stage]
    call()
    runs = {m.name: m.runs - b for m, b in zip(stage, before)}
    runs["classifier"] = int(getattr(model, "last", None) is not None and model.last.features is not None)
    return runs


def still_image_line(row: dict[str, Any]) -> str:
    """What a hand pipeline's row timed: the image, and each model's runs in one call."""
    runs = ", ".join(f"{name.removesuffix('.tflite')} x{n}" for name, n in row["model_runs"].items() if n)
    found = "a hand found" if row["model_runs"]["classifier"] else "no hand found"
    return f"{Path(row['model']).name}: one still image per run, {row['still_image']}, {found}: {runs}"


def workload(model, data: str | None = None) -> Workload:
    """An image model: one invoke of a prepared input (the first image of ``data``, else mid-grey).
    A hand pipeline: a whole still image through both stages (a photo of ``data``, else mid-grey: no hand)."""
    from .runtime import EdgeModel

    if isinstance(model, EdgeModel):
        ds = None
        if data:
            from .data import load_dataset

            ds = load_dataset(data, model.preprocess, progress=False)
        tensor = model.to_input(ds.images[0] if ds is not None else np.full(model.preprocess.shape, 128, np.uint8))
        acc = (lambda: (float((model.probabilities_batch(ds.images).argmax(1) == ds.labels).mean()), ds.source)) if ds else None
        return Workload(lambda: model.invoke(tensor), "invoke", acc)
    if not data:
        frame = np.full((480, 640, 3), 128, np.uint8)
        return Workload(lambda: model.classify_frame(frame), "still image",
                        image="a grey 640x480 frame (the slowest path; --data PHOTOS times a photo)")
    from .api import pipeline_data
    from .preprocess import open_image

    photos = pipeline_data(model.labels, data)  # photo files, or a .csv/.h5 file's images as stored
    first = photos.items[0]
    frame = first if isinstance(first, np.ndarray) else np.asarray(open_image(first).convert("RGB"))  # untimed

    def acc() -> tuple[float, str]:  # as evaluate counts it: an unreadable photo is left out
        probs, bad = model.probabilities_items(photos.items)
        keep = photos.readable(bad)
        return float((probs[keep].argmax(1) == photos.labels[keep]).mean()), data
    return Workload(lambda: model.classify_frame(frame), "still image", acc,
                    str(first) if not isinstance(first, np.ndarray) else f"the first image of {data}")


def measure(model_path: str, *, runs: int = 200, warmup: int = 20, data: str | None = None, backend: str = "auto",
            threads: int | None = None, device: str = "auto", overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Measure one model in this process (``overrides``: the fields of :class:`edgesign.preprocess.Overrides`)."""
    from .preprocess import Overrides
    from .runtime import EdgeModel, open_model

    ov = Overrides(**{k: tuple(v) if isinstance(v, list) else v for k, v in (overrides or {}).items()})
    t0 = time.perf_counter()
    model = open_model(model_path, backend=backend, threads=threads, device=device, warn=False, overrides=ov)
    load_s = time.perf_counter() - t0
    work = workload(model, data)
    pipeline = not isinstance(model, EdgeModel)
    t1 = time.perf_counter()
    made = model_runs(model, work.call) if pipeline else work.call()
    first_s = time.perf_counter() - t1
    if pipeline:  # a still image costs milliseconds: fewer runs
        runs, warmup = min(runs, 100), min(warmup, 5)
    target = model.metadata.get("target", "?")
    row: dict[str, Any] = {
        "model": str(model_path), "target": f"hand pipeline ({target})" if pipeline else target,
        "backend": model.backend.name, "device": "edgetpu" if model.edgetpu else "cpu",
        "size_mb": round(model.size_bytes / 1e6, 3), "load_ms": round(load_s * 1e3, 2),
        "first_ms": round(first_s * 1e3, 3), **latency_stats(time_calls_ms(work.call, runs, warmup)),
    }
    if pipeline:
        row["still_image"], row["model_runs"] = work.image, made
    if work.accuracy is not None:
        accuracy, row["data"] = work.accuracy()
        row["accuracy"] = round(accuracy, 6)
    row["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    return row


def accuracy_failure(rows: list[dict[str, Any]], min_accuracy: float | None) -> str | None:
    """The ``--min-accuracy`` gate over benchmark rows: why it fails, or None."""
    if min_accuracy is None:
        return None
    low = [r for r in rows if r.get("accuracy", 1.0) < min_accuracy]
    if not low:
        return None
    return (", ".join(f"{Path(r['model']).name} {100 * r['accuracy']:.2f} %" for r in low)
            + f" below --min-accuracy {100 * min_accuracy:.2f} %")


def benchmark(models: list[str | None], **kwargs: Any) -> list[dict[str, Any]]:
    """Measure each model in a fresh process; one row per model (None: the shipped model)."""
    from .interpreter import check_threads
    from .runtime import existing_model_file

    check_threads(kwargs.get("threads"))  # a user's error, said before any model is measured
    paths = [str(existing_model_file(name, shown=name)) for name in models]
    rows = []
    for m in paths:
        name = Path(m).name
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


# ----------------------------------------------------------------------------- --profile: LiteRT's own tool

def litert_benchmark_tool() -> str:
    """``litert-benchmark``, which ai-edge-litert installs beside the interpreter."""
    import shutil

    here = Path(sys.executable).parent / "litert-benchmark"
    tool = str(here) if here.exists() else shutil.which("litert-benchmark")
    if tool is None:
        raise EdgesignError("benchmark --profile runs LiteRT's own benchmark tool, litert-benchmark, which comes with "
                            "ai-edge-litert (not with tflite-runtime)")
    return tool


def litert_latency(model_file: str | os.PathLike, runs: int, warmup: int, threads: int) -> dict[str, Any]:
    """``litert-benchmark`` on one .tflite file: its init, warm-up and latency figures (milliseconds)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="edgesign-profile-") as tmp:
        out = Path(tmp) / "result.json"
        proc = subprocess.run([litert_benchmark_tool(), "--model", str(model_file), "--num_runs", str(runs),
                               "--warmup_runs", str(warmup), "--num_threads", str(threads), "--result_json", str(out)],
                              capture_output=True, text=True)
        if proc.returncode != 0 or not out.exists():
            last = (proc.stderr.strip().splitlines() or ["no result"])[-1]
            raise EdgesignError(f"litert-benchmark failed on {Path(model_file).name}: {last[:200]}")
        return json.loads(out.read_text())["latency"]


def profile(model_path: str, runs: int = 200, warmup: int = 20, threads: int | None = None) -> list[dict[str, Any]]:
    """One row per .tflite the model runs: the model itself, or a hand pipeline's three stages (palm detector,
    landmark model, classifier), timed by LiteRT's own benchmark tool. Per-operator times are not among what
    the ai-edge-litert wheel's tool reports."""
    from .interpreter import default_threads
    from .metadata import read_metadata
    from .runtime import resolve_model_path

    path = resolve_model_path(model_path)
    threads = threads or default_threads()
    files = [("model", path)]
    meta = read_metadata(path.read_bytes()) or {}
    if "hand_stage" in meta:
        from .handfiles import hand_model_path

        stage_files = list(meta["hand_stage"]["files"])
        files = [(f"hand stage: {name}", hand_model_path(name)) for name in stage_files] + [("classifier", path)]
    rows = []
    for stage, f in files:
        lat = litert_latency(f, runs, warmup, threads)
        rows.append({"model": str(path), "stage": stage, "threads": threads, "init_ms": lat["init_ms"],
                     "median_ms": lat["median_ms"], "p5_ms": lat["p5_ms"], "p95_ms": lat["p95_ms"]})
    return rows


def format_profile(rows: list[dict[str, Any]], measured: list[dict[str, Any]]) -> str:
    """litert-benchmark's figures beside edgesign's own p50 for the same model, one run of both."""
    p50 = {r["model"]: r["p50_ms"] for r in measured}
    runs = {r["model"]: r.get("model_runs", {}) for r in measured}
    lines = ["model                 stage                                      litert-benchmark median   p5 / p95 ms   init ms"]
    for r in rows:
        lines.append(f"{Path(r['model']).name:21s} {r['stage']:42s} {r['median_ms']:9.3f} ms"
                     f"{'':12s}{r['p5_ms']:.3f} / {r['p95_ms']:.3f}   {r['init_ms']:.1f}")
    for model in dict.fromkeys(r["model"] for r in rows):
        stages = [r for r in rows if r["model"] == model]
        counts = runs.get(model, {})  # a still image may run a stage twice (or the classifier not at all)
        total = sum(r["median_ms"] * counts.get(r["stage"].removeprefix("hand stage: "), 1) for r in stages)
        mine = p50.get(model)
        if mine is not None:
            what = "the stages' sum" if len(stages) > 1 else "litert-benchmark"
            if counts:
                what += " over the runs one image made (" + ", ".join(
                    f"{n}x {name.removesuffix('.tflite')}" for name, n in counts.items()) + ")"
            lines.append(f"{Path(model).name}: edgesign benchmark p50 {mine:.3f} ms, {what} {total:.3f} ms "
                         f"(ratio {mine / total:.2f})")
    return "\n".join(lines)
