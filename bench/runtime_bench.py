"""Runtime figures of the default model, measured side by side in one run (issue: device runtime).

    python bench/runtime_bench.py [--float runs/asl29-resnet18/asl29-resnet18_float32.tflite] [--venv-size]

- predict's per-frame time (resize + scale + quantize + invoke + dequantize + top-k) vs bare invoke(),
  in predict's pipelined loop and as one call on one thread
- process start to the first prediction (`edgesign predict docs/examples/a.jpg`)
- int8 vs float latency on the same runtime
- 10,000 frames of a real video through the stream pipeline: RSS growth
- optionally: the size of a virtual environment with only the runtime install
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("EDGESIGN_DATA", ROOT.parent / "shared" / "data"))
sys.path.insert(0, str(ROOT))

from edgesign.benchmark import invoke_times_ms  # noqa: E402
from edgesign.runtime import EdgeModel, image_model_path  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def test_frames(n: int = 200) -> list[np.ndarray]:
    files = sorted((DATA / "asl-photos" / "test").rglob("*.jpg"))[:n]
    return [np.asarray(Image.open(f).convert("RGB")) for f in files]


def predict_vs_invoke(model: EdgeModel, frames: list[np.ndarray], rounds: int = 9, repeat: int = 3) -> dict:
    """Per-frame time of predict's loop, and of one classify_frame call, vs bare invoke().

    ``predict``: `stream_predictions`, the loop `edgesign predict` runs on a stream (the next frame
    resized and quantized on a worker thread while this one is classified; smoothing; top-k).
    ``one_call``: `classify_frame` + top-k, everything on one thread (the latency of one frame).
    """
    from edgesign.predict import stream_predictions
    from edgesign.sources import Frame

    frames = frames * repeat  # 600 frames a round: a round's figure is steadier than the machine's noise

    def stream():
        return (Frame(f"bench#{i}", f, stream=True, index=i) for i, f in enumerate(frames))

    tensor = model.to_input(np.zeros(model.preprocess.shape, np.uint8))
    for f in frames[:20]:
        model.classify_frame(f)
    pred, call, bare = [], [], []
    for _ in range(rounds):  # interleaved, so all three see the same machine state
        t0 = time.perf_counter()
        for _ in stream_predictions(model, stream()):
            pass
        pred.append((time.perf_counter() - t0) / len(frames))
        t0 = time.perf_counter()
        for f in frames:
            model.top(model.classify_frame(f), 3)
        call.append((time.perf_counter() - t0) / len(frames))
        t0 = time.perf_counter()
        for _ in frames:
            model.interpreter.set_tensor(model.input_details["index"], tensor)
            model.interpreter.invoke()
            model.interpreter.get_tensor(model.output_details["index"])
        bare.append((time.perf_counter() - t0) / len(frames))
    p, c, b = (statistics.median(v) * 1e3 for v in (pred, call, bare))
    return {"predict_ms_per_frame": round(p, 4), "one_call_ms": round(c, 4), "bare_invoke_ms": round(b, 4),
            "ratio": round(p / b, 3), "one_call_ratio": round(c / b, 3), "rounds": rounds, "frames": len(frames)}


def start_to_first_prediction(runs: int = 5) -> dict:
    photo = ROOT / "docs" / "examples" / "a.jpg"
    exe = shutil.which("edgesign") or sys.executable
    cmd = [exe, "predict", str(photo)] if exe.endswith("edgesign") else [exe, "-m", "edgesign.cli", "predict", str(photo)]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return {"command": " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd)),
            "median_s": round(statistics.median(times), 3), "min_s": round(min(times), 3)}


def latency(model: EdgeModel, runs: int = 300) -> float:
    tensor = model.to_input(np.full(model.preprocess.shape, 128, np.uint8))
    return float(np.median(invoke_times_ms(model, tensor, runs, warmup=30)))


def stream_memory(model: EdgeModel, frames: list[np.ndarray], n: int = 10_000) -> dict:
    import cv2

    from edgesign.predict import stream_predictions
    from edgesign.sources import opencv_frames

    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "stream.avi"
        small = [cv2.cvtColor(cv2.resize(f, (160, 160)), cv2.COLOR_RGB2BGR) for f in frames]
        writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30, (160, 160))
        for i in range(n):
            writer.write(small[i % len(small)])
        writer.release()
        marks = {}
        t0 = time.perf_counter()
        count = 0
        from edgesign.stream import Speller

        for _ in stream_predictions(model, opencv_frames(str(video)), spell=Speller()):
            count += 1
            if count in (1000, n):
                marks[count] = rss_mb()
        seconds = time.perf_counter() - t0
    growth = (marks[n] - marks[1000]) / marks[1000]
    return {"frames": count, "rss_mb_at_1000": round(marks[1000], 1), "rss_mb_at_end": round(marks[n], 1),
            "growth_pct": round(100 * growth, 2), "fps": round(count / seconds, 1)}


def venv_size() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
        pip = env / "bin" / "pip"
        subprocess.run([str(pip), "install", "-q", str(ROOT)], check=True, capture_output=True)
        size = sum(f.stat().st_size for f in env.rglob("*") if f.is_file() and not f.is_symlink())
        out = subprocess.run([str(env / "bin" / "python"), "-c",
                              "import importlib.util as u; print(u.find_spec('tensorflow') is None)"],
                             capture_output=True, text=True)
    return {"runtime_venv_mb": round(size / 1e6, 1), "tensorflow_absent": out.stdout.strip() == "True"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(image_model_path()))
    ap.add_argument("--float", dest="float_model", help="the float32 .tflite of the same model")
    ap.add_argument("--venv-size", action="store_true")
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    model = EdgeModel(args.model, threads=args.threads)
    frames = test_frames()
    results = {"model": args.model, "size_mb": round(model.size_bytes / 1e6, 2), "cpu_count": os.cpu_count()}
    results["predict_vs_invoke"] = predict_vs_invoke(model, frames)
    results["start_to_first_prediction"] = start_to_first_prediction()
    results["int8_p50_ms"] = round(latency(model), 4)
    if args.float_model:
        f = EdgeModel(args.float_model, threads=args.threads, warn=False)
        results["float_p50_ms"] = round(latency(f), 4)
        results["int8_over_float"] = round(results["int8_p50_ms"] / results["float_p50_ms"], 3)
    results["stream"] = stream_memory(model, frames, args.frames)
    if args.venv_size:
        results["venv"] = venv_size()
    print(json.dumps(results, indent=2))
    pv, st = results["predict_vs_invoke"], results["start_to_first_prediction"]
    print(f"\npredict/invoke ratio {pv['ratio']:.3f} (goal <= 1.10): {pv['predict_ms_per_frame']:.3f} ms vs "
          f"{pv['bare_invoke_ms']:.3f} ms; one call on one thread {pv['one_call_ratio']:.3f}", file=sys.stderr)
    print(f"start to first prediction {st['median_s']:.3f} s (goal <= 0.5 s)", file=sys.stderr)
    if "int8_over_float" in results:
        print(f"int8/float latency {results['int8_over_float']:.3f} (goal <= 0.3)", file=sys.stderr)
    s = results["stream"]
    print(f"{s['frames']} frames: RSS growth {s['growth_pct']:.2f} % (goal < 5 %), {s['fps']} fps", file=sys.stderr)


if __name__ == "__main__":
    main()
