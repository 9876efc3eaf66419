"""Speed of the hand pipeline, measured side by side in one run.

- a still image through the whole pipeline (decode, palm detector, landmarks, features or crop, classifier),
  one thread (a landmark pipeline or a crop pipeline), beside its floor: the two hand models' bare ``invoke()``;
- an empty room at 640x480 (what an idle camera sees: the palm detector twice, the landmark model on the centre
  crop, then `Nothing`), one thread;
- the classifier stage alone against its bare ``invoke()`` (the ratio is the stage's overhead);
- a camera-like stream (consecutive webcam frames of the second signer, decoded beforehand) through
  ``predict``'s loop with tracking: the hand stage on the worker thread, the classifier on the caller's.

    python bench/hands_bench.py [--model models/asl29-hands.tflite] [--n 60]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402

from edgesign.predict import stream_predictions  # noqa: E402
from edgesign.runtime import open_model  # noqa: E402
from edgesign.sources import Frame  # noqa: E402

DATA = Path(os.environ.get("EDGESIGN_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def median_ms(call, inputs) -> float:
    """The median milliseconds of ``call`` on each input in turn."""
    t = []
    for x in inputs:
        s = time.perf_counter()
        call(x)
        t.append(time.perf_counter() - s)
    return 1e3 * float(np.median(t))


def bare_invoke_ms(interpreter, n: int = 30) -> float:
    """The median milliseconds of ``invoke()`` alone, on the input already set."""
    interpreter.invoke()
    return median_ms(lambda _: interpreter.invoke(), range(n))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--n", type=int, default=60)
    args = ap.parse_args()
    stills = sorted((DATA / "asl-photos" / "test").glob("*/*.jpg"))[:: max(1, 870 // args.n)][: args.n]
    m1 = open_model(args.model, threads=1)
    m1.classify_file(stills[0])
    still_ms = median_ms(m1.classify_file, stills)
    nothing = sorted((DATA / "asl-second-signer" / "Nothing").iterdir())[0]  # a real empty room, webcam-sized
    empty = np.asarray(Image.open(nothing).convert("RGB").resize((640, 480), Image.BILINEAR))
    empty_ms = median_ms(m1.classify_frame, [empty] * 30)

    # the still image's floor: the palm detector's and the landmark model's bare invoke(), one each
    floor_ms = sum(bare_invoke_ms(model.interpreter) for model in (m1.stage.palm.model, m1.stage.landmarks.model))

    feats = m1.prepare(Image.open(stills[0])).features
    m1.classify_features(feats)
    cls, bare = [], []
    spec = m1.interpreter.get_input_details()[0]  # a landmark classifier's or a crop classifier's input
    x = np.zeros(spec["shape"], spec["dtype"])
    for _ in range(500):
        s = time.perf_counter()
        m1.classify_features(feats)
        cls.append(time.perf_counter() - s)
        m1.interpreter.set_tensor(spec["index"], x)
        s = time.perf_counter()
        m1.interpreter.invoke()
        bare.append(time.perf_counter() - s)
    cls_ms, bare_ms = 1e3 * np.median(cls), 1e3 * np.median(bare)

    frames = []
    for cls_name in ("A", "B", "L", "Y"):
        for p in sorted((DATA / "asl-second-signer" / cls_name).iterdir())[:40]:
            frames.append(np.asarray(Image.open(p).convert("RGB")))
    m2 = open_model(args.model, threads=1)
    stream = (Frame(f"bench#{i}", f, stream=True, index=i) for i, f in enumerate(frames))
    s = time.perf_counter()
    tracked = sum(r.get("hand") is not None for r in stream_predictions(m2, stream, smooth=1))
    fps = len(frames) / (time.perf_counter() - s)

    print(f"model {m1.path.name}; {os.cpu_count()} cores")
    print(f"still image, whole pipeline, 1 thread, p50   {still_ms:7.2f} ms  ({len(stills)} test photos)")
    print(f"  its floor: palm + landmark model, bare invoke() {floor_ms:7.2f} ms  (still image / floor "
          f"{still_ms / floor_ms:.2f}x)")
    print(f"empty room 640x480, 1 thread, p50            {empty_ms:7.2f} ms  (no hand: three model runs)")
    print(f"classifier stage p50 / bare invoke() p50      {cls_ms:7.4f} / {bare_ms:.4f} ms = {cls_ms / bare_ms:.2f}x")
    print(f"stream with tracking (worker + caller)        {fps:7.1f} fps  ({len(frames)} frames, hand in {tracked})")


if __name__ == "__main__":
    main()
