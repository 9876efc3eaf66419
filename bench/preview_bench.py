"""What `predict --serve` costs the camera loop, measured side by side in one run.

The same camera-like stream (consecutive webcam frames of the second signer, scaled to 640x480 and decoded
beforehand) through ``predict``'s loop with tracking, three ways: no preview; a preview nobody watches; a preview
a browser watches (a client thread reading ``/stream`` over HTTP, as a laptop's browser would). Also the cost of
drawing and encoding one frame, and how many frames the watcher received.

    python bench/preview_bench.py [--frames 400] [--repeat 5] [--model models/asl29-hands.tflite]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402

from edgesign.predict import stream_predictions  # noqa: E402
from edgesign.preview import Preview  # noqa: E402
from edgesign.runtime import open_model  # noqa: E402
from edgesign.sources import Frame  # noqa: E402

DATA = Path(os.environ.get("EDGESIGN_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def stream_fps(model, frames: list[np.ndarray], preview: Preview | None) -> float:
    stream = (Frame(f"bench#{i}", f, stream=True, index=i) for i, f in enumerate(frames))
    s = time.perf_counter()
    for _ in stream_predictions(model, stream, smooth=1, preview=preview):
        pass
    return len(frames) / (time.perf_counter() - s)


def watch(url: str, stop: threading.Event, received: list[int]) -> None:
    """A browser on ``/stream``: counts the JPEG parts it reads until ``stop``."""
    with urllib.request.urlopen(url + "stream", timeout=30) as stream:
        while not stop.is_set():
            line = stream.readline()
            if not line:
                return
            if line.lower().startswith(b"content-length:"):
                stream.readline()
                stream.read(int(line.split(b":")[1]))
                received[0] += 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--frames", type=int, default=400)
    ap.add_argument("--repeat", type=int, default=5, help="runs of each way; the median is printed")
    args = ap.parse_args()
    frames = []
    for letter in ("A", "B", "L", "Y"):
        for p in sorted((DATA / "asl-second-signer" / letter).iterdir())[: args.frames // 4]:
            frames.append(np.asarray(Image.open(p).convert("RGB").resize((640, 480), Image.BILINEAR)))
    model = open_model(args.model)
    stream_fps(model, frames[:20], None)  # warm-up

    unwatched, preview, stop, received = Preview(("127.0.0.1", 0)), Preview(("127.0.0.1", 0)), threading.Event(), [0]
    viewer = threading.Thread(target=watch, args=(preview.url, stop, received), daemon=True)
    viewer.start()
    while not preview.wanted():  # the browser is connected
        time.sleep(0.01)
    runs: dict[str, list[float]] = {"bare": [], "idle": [], "watched": []}
    seconds = 0.0
    for _ in range(args.repeat):  # the three ways in turn, so that a slow moment of the machine hits all of them
        runs["bare"].append(stream_fps(model, frames, None))
        runs["idle"].append(stream_fps(model, frames, unwatched))
        runs["watched"].append(stream_fps(model, frames, preview))
        seconds += len(frames) / runs["watched"][-1]
    bare, idle, watched = (float(np.median(v)) for v in runs.values())
    shown = received[0]
    unwatched.close()
    result = {"top": [{"label": "A", "probability": 0.9}], "text": "CLAY"}
    draws = []
    for f in frames[:40]:
        s = time.perf_counter()
        preview.publish(f, result, None)
        draws.append(time.perf_counter() - s)
    stop.set()
    preview.close()

    print(f"model {model.path.name}; {os.cpu_count()} cores; {len(frames)} frames of 640x480, decoded beforehand; "
          f"median of {args.repeat} runs each")
    print(f"stream, no preview                   {bare:7.1f} fps")
    print(f"stream, preview nobody watches       {idle:7.1f} fps  ({idle / bare:.3f}x)")
    print(f"stream, preview a browser watches    {watched:7.1f} fps  ({watched / bare:.3f}x; the browser got "
          f"{shown} frames in {seconds:.1f} s, {shown / seconds:.1f} a second)")
    print(f"drawing and encoding one frame, p50  {1e3 * np.median(draws):7.2f} ms")


if __name__ == "__main__":
    main()
