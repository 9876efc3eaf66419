"""Dark, washed-out and low-contrast photos through a hand pipeline: does the hand stage still find the hand?

The issue's other people's sets include plain, low-contrast scenes where the image-only model answered
`Nothing` for almost everything. This probe takes every Nth photo of each signer, changes its light with
pillow (brightness and contrast factors; 1 = unchanged) and runs the pipeline on it exactly as `edgesign
evaluate` does (hand stage + classifier, no hand = `Nothing`), after one of the candidate fixes applied before
the hand stage: `none`; `autocontrast` (pillow's, each channel's histogram stretched, 1 % cut); `tone` (the
same stretch from the luminance histogram, one curve for all three channels); `gain` (only a dark image's
pixels multiplied until its 99th luminance percentile reaches 235, at most 6x: colours keep their ratios; the
hand stage's own ``light="gain"``, here applied to the whole photo); `darken` (a washed-out image, median
luminance over 200, multiplied down to a median of 140). ``--stage-light none|gain|levels`` runs the
model's hand stage with that setting instead of the file's (the file's crop classifier never sees the gain).
It prints, per signer and view, how often a hand is found, the pipeline's accuracy and how often its top-1
equals the unchanged photo's without a fix.

    python bench/lighting_probe.py [--model models/asl29-hands.tflite] [--every 12] [--fix none,tone,gain]
        [--stage-light file|none|gain|levels] [--levels-range 130] [--views unchanged,washed]

The shipped model trained on both signers' photos, so read the drop from the unchanged row, not the level.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgesign import atomic, hands  # noqa: E402
from edgesign.api import pipeline_files  # noqa: E402
from edgesign.hands import LIGHT_MODES, HandStage, light_gain  # noqa: E402
from edgesign.runtime import open_model  # noqa: E402

DATA = Path(os.environ.get("EDGESIGN_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SIGNERS = {"signer1": DATA / "asl-photos" / "train", "signer2": DATA / "asl-second-signer"}
VIEWS = {  # name: (brightness, contrast)
    "unchanged": (1.0, 1.0),
    "dark (x0.35)": (0.35, 1.0),
    "very dark (x0.15)": (0.15, 1.0),
    "low contrast (x0.35)": (1.0, 0.35),
    "dark, low contrast": (0.5, 0.5),
    "washed out (x1.8)": (1.8, 1.0),
}
VIEW_KEYS = dict(zip(("unchanged", "dark", "very-dark", "low-contrast", "dark-low-contrast", "washed"), VIEWS))


def gain(image: Image.Image) -> np.ndarray:
    """The hand stage's own gain (``HandSettings(light="gain")``) applied to the whole photo."""
    return np.clip(np.asarray(image, np.float32) * light_gain(image), 0, 255)


def darken(image: Image.Image, above: int, median: int) -> np.ndarray:
    """A washed-out image (median luminance over ``above``) multiplied down until its median is ``median``;
    other images untouched: the mirror of the gain."""
    (p50,) = hands.luminance_percentiles(image, (0.5,))
    return np.asarray(image, np.float32) * (median / p50 if p50 > above else 1.0)


FIXES = {
    "none": np.asarray,
    "autocontrast": lambda image: np.asarray(ImageOps.autocontrast(image, cutoff=1)),
    "tone": lambda image: np.asarray(ImageOps.autocontrast(image, cutoff=1, preserve_tone=True)),
    "gain": lambda image: gain(image).astype(np.uint8),
    "darken": lambda image: darken(image, 200, 140).astype(np.uint8),
}


def relit(path: str, brightness: float, contrast: float, fix: str) -> np.ndarray:
    image = Image.open(path).convert("RGB")
    if brightness != 1.0:
        image = ImageEnhance.Brightness(image).enhance(brightness)
    if contrast != 1.0:
        image = ImageEnhance.Contrast(image).enhance(contrast)
    return FIXES[fix](image)


def measure(model, files: list[str], view: tuple[float, float], fix: str):
    found, top1 = np.zeros(len(files), bool), np.zeros(len(files), np.int64)
    for i, path in enumerate(files):
        prepared = model.item_input(relit(path, *view, fix))
        found[i] = prepared.hand is not None
        top1[i] = int(np.argmax(model.classify_input(prepared)))
    return found, top1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="models/asl29-hands.tflite")
    ap.add_argument("--every", type=int, default=12, help="every Nth photo of each signer (by file order)")
    ap.add_argument("--fix", default="none,tone,gain", help=f"comma-separated, of {', '.join(FIXES)}")
    ap.add_argument("--signers", default=",".join(SIGNERS))
    ap.add_argument("--views", default=",".join(VIEW_KEYS), help=f"comma-separated views: {', '.join(VIEW_KEYS)}")
    ap.add_argument("--stage-light", choices=["file", *LIGHT_MODES], default="file",
                    help="the hand stage's own light setting: the model file's, or this one instead")
    ap.add_argument("--levels-range", type=float, default=hands.LEVELS_RANGE,
                    help="the 'levels' stage's LEVELS_RANGE (the low-contrast stretch's target span), to choose it")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    hands.LEVELS_RANGE = args.levels_range
    model = open_model(args.model)
    if args.stage_light != "file":
        model.stage = HandStage(replace(model.settings, light=args.stage_light))
    print(f"hand stage light: {model.stage.settings.light}"
          + (f" (range {hands.LEVELS_RANGE:g})" if model.stage.settings.light == "levels" else ""))
    rows = []
    fixes = args.fix.split(",")
    if bad := [f for f in fixes if f not in FIXES]:
        ap.error(f"unknown --fix {bad}")
    if fixes[0] != "none":
        ap.error("--fix starts with none: the unchanged photos without a fix are what 'same top-1' compares with")
    if bad := [v for v in args.views.split(",") if v not in VIEW_KEYS]:
        ap.error(f"unknown --views {bad}; choose from {', '.join(VIEW_KEYS)}")
    views = [VIEW_KEYS[v] for v in args.views.split(",")]
    print("| signer | view | fix | photos | hand found | accuracy | same top-1 as unchanged |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for signer in args.signers.split(","):
        folder = SIGNERS[signer]
        files, labels = pipeline_files(model.labels, str(folder))
        files, labels = files[:: args.every], labels[:: args.every]
        hand = labels != model.no_hand
        reference = None  # the unchanged photos' top-1 without a fix (the first row)
        for fix in fixes:
            for name in views:
                view = VIEWS[name]
                start = time.perf_counter()
                found, top1 = measure(model, files, view, fix)
                if reference is None:
                    reference = top1
                row = {"signer": signer, "view": name, "fix": fix, "photos": len(files),
                       "hand_found": float(found[hand].mean()), "accuracy": float((top1 == labels).mean()),
                       "same_top1": float((top1 == reference).mean()), "seconds": time.perf_counter() - start}
                rows.append(row)
                print(f"| {signer} | {name} | {fix} | {len(files)} | {100 * row['hand_found']:.2f} % "
                      f"| {100 * row['accuracy']:.2f} % | {100 * row['same_top1']:.2f} % |", flush=True)
    if args.json:
        atomic.write_json(args.json, rows)


if __name__ == "__main__":
    main()
