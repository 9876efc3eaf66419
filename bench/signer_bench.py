"""Leave-one-signer-out: train the landmark classifier on one signer, measure the pipeline on the other.

Both directions, then (optionally) both signers together measured on the asl-photos test split. The
selection rule for recipes is the mean of the two cross-signer figures; the test split is reported,
never tuned on.

    python bench/signer_bench.py --epochs 60 [--hidden 256,128] [--augment-copies 4] [--flex 12] [--no-mirror] [--both]
        [--no-nothing-hands] [--reject 0.2,0.3] [--per-letter]
        [--palm lite|full] [--landmarks lite|full] [--zoom-out 0.5] [--light none|gain|levels]

Every held-out set is measured twice: as photographed, and mirrored left to right (the same letters as a
left-handed signer shows them); the recipe also trains on the mirrored photos (``--no-mirror``: not).
``--reject`` also measures each held-out set as photographed with a hand whose top probability is under tau
answered ``Nothing`` (one figure per tau; not what the product does). ``--small 28,40,56,72`` also trains on
every photo shrunk to one of those sides and measures the held-out set shrunk the same way (a low-resolution
camera's hands; without the option the held-out set is measured shrunk to those four sides all the same).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgesign.handfeatures import SIGNING_HANDS  # noqa: E402
from edgesign.hands import LIGHT_MODES, HandSettings  # noqa: E402
from edgesign.training.handdata import extract_folder  # noqa: E402
from edgesign.training.landmarks import (  # noqa: E402
    RECIPE_HAND_STAGE,
    LandmarkConfig,
    feature_probabilities,
    known_subset,
    pipeline_probabilities,
    train_landmarks,
)

DATA = Path(os.environ.get("EDGESIGN_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SIGNERS = {"signer1": DATA / "asl-photos" / "train", "signer2": DATA / "asl-second-signer"}


def add_hand_stage_options(ap: argparse.ArgumentParser) -> None:
    """--palm, --landmarks, --zoom-out: the hand stage to extract with (default: the recipe's)."""
    ap.add_argument("--palm", default=RECIPE_HAND_STAGE.palm, choices=["lite", "full"], help="MediaPipe's palm detector")
    ap.add_argument("--landmarks", default=RECIPE_HAND_STAGE.landmarks, choices=["lite", "full"], help="MediaPipe's landmark model")
    ap.add_argument("--zoom-out", type=float, default=RECIPE_HAND_STAGE.zoom_out, help="the palm detector's second try, zoomed out")
    ap.add_argument("--light", default=RECIPE_HAND_STAGE.light, choices=list(LIGHT_MODES),
                    help="what the hand models see of a dark image (gain: brightened)")
    ap.add_argument("--refine", action=argparse.BooleanOptionalAction, default=RECIPE_HAND_STAGE.refine,
                    help="landmarks a second time from the region the first ones give")


def hand_stage(args: argparse.Namespace) -> HandSettings:
    return HandSettings(palm=args.palm, landmarks=args.landmarks, zoom_out=args.zoom_out, light=args.light,
                        refine=args.refine)


SMALL_SIDES = (28, 40, 56, 72)


def view_accuracies(run_dir: Path, held: Path, settings: HandSettings, views: dict[str, dict],
                    reject: tuple[float, ...] = (), per_class: bool = False) -> dict:
    """The run's pipeline accuracy on the held-out photos seen other ways (name -> ``extract_folder``'s
    ``mirror`` / ``small``); the run's model is loaded once. ``reject``: also, as photographed, the accuracy
    when a hand whose top probability is under each of these is answered ``Nothing`` (``reject TAU``);
    ``per_class``: also, as photographed, each letter's (``letters``: :func:`per_letter`)."""
    config = json.loads((run_dir / "config.json").read_text())
    predict = feature_probabilities(run_dir)
    out = {}
    for name, view in (({"photographed": {}} if reject or per_class else {}) | views).items():
        s, labels = known_subset(extract_folder(held, settings, **view), config["classes"])
        probs = pipeline_probabilities(None, s, config["classes"], config["feature_scaling"], predict=predict)
        out[name] = float((probs.argmax(1) == labels).mean())
        if name == "photographed":
            nothing = config["classes"].index(config["no_hand_label"])
            for tau in reject:
                answer = np.where(probs.max(1) < tau, nothing, probs.argmax(1))
                out[f"reject {tau:g}"] = float((answer == labels).mean())
            if per_class:
                out["letters"] = per_letter(probs.argmax(1), labels, config["classes"])
    return out


def per_letter(answers: np.ndarray, labels: np.ndarray, classes: list[str]) -> dict[str, list]:
    """Each held-out class: [accuracy, its most frequent wrong answer, that answer's share]."""
    out = {}
    for c in np.unique(labels):
        got = np.bincount(answers[labels == c], minlength=len(classes))
        right, got[c] = got[c], 0
        out[classes[c]] = [round(float(right / (labels == c).sum()), 4), classes[int(got.argmax())],
                           round(float(got.max() / (labels == c).sum()), 4)]
    return out


def run(data: list[Path], held: Path, args) -> dict:
    """Train on ``data``; the summary, with the pipeline's accuracy on ``held`` as photographed and mirrored."""
    settings = hand_stage(args)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cfg = LandmarkConfig(data=[str(d) for d in data], test_data=[str(held)], out=str(out),
                             epochs=args.epochs, hidden=tuple(int(v) for v in args.hidden.split(",")),
                             dropout=args.dropout, augment_copies=args.augment_copies, flex=args.flex, seed=args.seed,
                             mirror=args.mirror, small=args.small, nothing_hands=args.nothing_hands,
                             signed_with=args.signed_with,
                             hand=asdict(settings))
        summary = train_landmarks(cfg)
        summary["accuracy"] = next(iter(summary["held_out"].values()))["accuracy"]
        summary.update(view_accuracies(out, held, settings, {"mirrored": {"mirror": True},
                                                             "small": {"small": args.small or SMALL_SIDES}},
                                       args.reject, per_class=args.per_letter))
        return summary


def table_row(train: str, measured_on: str, summary: dict) -> dict:
    """One row of the printed table (and of ``--json``) from a run's summary."""
    return {"train": train, "measured on": measured_on, "val": summary["best_val_accuracy"],
            **{k: v for k, v in summary.items() if k in ("accuracy", "mirrored", "small", "letters") or k.startswith("reject ")}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--hidden", default="256,128")
    ap.add_argument("--dropout", type=float, default=0.3)
    ap.add_argument("--augment-copies", type=int, default=4)
    ap.add_argument("--flex", type=float, default=LandmarkConfig.flex,
                    help="bend the augmented copies' joints by this many degrees (normal; the recipe's default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--signed-with", default=LandmarkConfig.signed_with, choices=list(SIGNING_HANDS),
                    help="the training signers' hand (both shared signers sign right-handed)")
    ap.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=LandmarkConfig.mirror,
                    help="train on every photo mirrored too (the recipe's default: on)")
    ap.add_argument("--small", type=lambda v: tuple(int(s) for s in v.split(",")), default=(),
                    help="also train on every photo shrunk to one of these sides, e.g. 28,40,56,72")
    ap.add_argument("--nothing-hands", action=argparse.BooleanOptionalAction, default=LandmarkConfig.nothing_hands,
                    help="learn the Nothing photos that show a hand as Nothing (off: Nothing is only no hand found)")
    add_hand_stage_options(ap)
    ap.add_argument("--both", action="store_true", help="also train on both signers, measure on the test split")
    ap.add_argument("--reject", type=lambda v: tuple(float(t) for t in v.split(",")), default=(),
                    help="also measure answering Nothing for a hand whose top probability is under each of these")
    ap.add_argument("--per-letter", action="store_true",
                    help="also print the letters each direction reads under 60 %%, with their most frequent wrong answer")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    rows = []
    for train_name, held_name in (("signer1", "signer2"), ("signer2", "signer1")):
        s = run([SIGNERS[train_name]], SIGNERS[held_name], args)
        rows.append(table_row(train_name, held_name, s))
    if args.both:
        s = run(list(SIGNERS.values()), DATA / "asl-photos" / "test", args)
        rows.append(table_row("both", "signer1 test split", s))
    print(f"recipe: hidden {args.hidden}, dropout {args.dropout}, augment copies {args.augment_copies}, flex {args.flex}, "
          f"mirror {args.mirror}, small {args.small or 'no'}, nothing hands {args.nothing_hands}, signed with {args.signed_with}, epochs {args.epochs}, seed {args.seed}, hand stage: palm {args.palm}, "
          f"landmarks {args.landmarks}, zoom out {args.zoom_out}, light {args.light}, refine {args.refine}")
    print(f"{'trained on':12s} {'measured on':20s} {'val %':>7s} {'pipeline %':>11s} {'mirrored %':>11s} {'shrunk %':>9s}")
    for r in rows:
        print(f"{r['train']:12s} {r['measured on']:20s} {100 * r['val']:7.2f} {100 * r['accuracy']:11.2f} "
              f"{100 * r['mirrored']:11.2f} {100 * r['small']:9.2f}")
    for tau in args.reject:
        print(f"answering Nothing under {tau:g}: " + ", ".join(
            f"{r['train']} -> {r['measured on']} {100 * r[f'reject {tau:g}']:.2f} %" for r in rows))
    for r in rows if args.per_letter else []:
        weak = sorted((v[0], k, v[1], v[2]) for k, v in r["letters"].items() if v[0] < 0.6)
        print(f"{r['train']} -> {r['measured on']}, letters under 60 %: "
              + ", ".join(f"{k} {100 * a:.0f} % ({w} {100 * share:.0f} %)" for a, k, w, share in weak))
    for key, what in (("accuracy", "as photographed"), ("mirrored", "mirrored"), ("small", "shrunk"),
                      *((f"reject {tau:g}", f"answering Nothing under {tau:g}") for tau in args.reject)):
        cross = [r[key] for r in rows[:2]]
        print(f"leave-one-signer-out mean, {what}: {100 * sum(cross) / 2:.2f} %")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
