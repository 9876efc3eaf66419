"""Leave-one-signer-out: train the landmark classifier on one signer, measure the pipeline on the other.

Both directions, then (optionally) both signers together measured on the asl-photos test split. The
selection rule for recipes is the mean of the two cross-signer figures; the test split is reported,
never tuned on.

    python bench/signer_bench.py --epochs 60 [--hidden 256,128] [--augment-copies 4] [--both]
        [--palm lite|full] [--landmarks lite|full] [--zoom-out 0.5]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgesign.hands import HandSettings  # noqa: E402
from edgesign.training.landmarks import RECIPE_HAND_STAGE, LandmarkConfig, train_landmarks  # noqa: E402

DATA = Path(os.environ.get("EDGESIGN_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SIGNERS = {"signer1": DATA / "asl-photos" / "train", "signer2": DATA / "asl-second-signer"}


def add_hand_stage_options(ap: argparse.ArgumentParser) -> None:
    """--palm, --landmarks, --zoom-out: the hand stage to extract with (default: the recipe's)."""
    ap.add_argument("--palm", default=RECIPE_HAND_STAGE.palm, choices=["lite", "full"], help="MediaPipe's palm detector")
    ap.add_argument("--landmarks", default=RECIPE_HAND_STAGE.landmarks, choices=["lite", "full"], help="MediaPipe's landmark model")
    ap.add_argument("--zoom-out", type=float, default=RECIPE_HAND_STAGE.zoom_out, help="the palm detector's second try, zoomed out")


def hand_stage(args: argparse.Namespace) -> HandSettings:
    return HandSettings(palm=args.palm, landmarks=args.landmarks, zoom_out=args.zoom_out)


def run(data: list[Path], held: list[Path], args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = LandmarkConfig(data=[str(d) for d in data], test_data=[str(h) for h in held], out=str(Path(tmp) / "run"),
                             epochs=args.epochs, hidden=tuple(int(v) for v in args.hidden.split(",")),
                             dropout=args.dropout, augment_copies=args.augment_copies, seed=args.seed,
                             hand=asdict(hand_stage(args)))
        return train_landmarks(cfg)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--hidden", default="256,128")
    ap.add_argument("--dropout", type=float, default=0.3)
    ap.add_argument("--augment-copies", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    add_hand_stage_options(ap)
    ap.add_argument("--both", action="store_true", help="also train on both signers, measure on the test split")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    rows = []
    for train_name, held_name in (("signer1", "signer2"), ("signer2", "signer1")):
        s = run([SIGNERS[train_name]], [SIGNERS[held_name]], args)
        acc = next(iter(s["held_out"].values()))["accuracy"]
        rows.append({"train": train_name, "measured on": held_name, "val": s["best_val_accuracy"], "accuracy": acc})
    if args.both:
        s = run(list(SIGNERS.values()), [DATA / "asl-photos" / "test"], args)
        acc = next(iter(s["held_out"].values()))["accuracy"]
        rows.append({"train": "both", "measured on": "signer1 test split", "val": s["best_val_accuracy"], "accuracy": acc})
    print(f"recipe: hidden {args.hidden}, dropout {args.dropout}, augment copies {args.augment_copies}, "
          f"epochs {args.epochs}, seed {args.seed}, hand stage: palm {args.palm}, landmarks {args.landmarks}, "
          f"zoom out {args.zoom_out}")
    print(f"{'trained on':12s} {'measured on':20s} {'val %':>7s} {'pipeline %':>11s}")
    for r in rows:
        print(f"{r['train']:12s} {r['measured on']:20s} {100 * r['val']:7.2f} {100 * r['accuracy']:11.2f}")
    cross = [r["accuracy"] for r in rows[:2]]
    print(f"leave-one-signer-out mean {100 * sum(cross) / 2:.2f} % (selection rule)")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
