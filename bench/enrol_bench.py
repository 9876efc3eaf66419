"""Enrolment, leave-one-signer-out: a base pipeline trained on one signer, enrolled with the other's first frames.

For each direction: train `landmark-mlp` on signer A, convert it to a certified int8 pipeline (on A's own
held-back photos: nothing of B is seen), then for signer B enrol N frames with a hand of each letter from the
first half of its recording and measure on the second half, base vs personal. Two ways to pick the N frames:
`first` (the first N: one instant, near-duplicates) and `spread` (evenly over the first half: what
`edgesign enrol --from` takes, and what `--camera` approximates with `--gap`). The refit is timed on one core.

    python bench/enrol_bench.py [--frames 3,10,20] [--epochs 40] [--hands auto,decided]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgesign.enrol import frame_features, pack_hand, refit, signing_hand, unpack_hand  # noqa: E402
from edgesign.enrol_session import spread  # noqa: E402
from edgesign.runtime import open_model  # noqa: E402
from edgesign.training.handdata import extract_folder  # noqa: E402

DATA = Path(os.environ.get("EDGESIGN_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SIGNERS = {"signer1": DATA / "asl-photos" / "train", "signer2": DATA / "asl-second-signer"}


def base_pipeline(train: list[Path], work: Path, epochs: int) -> Path:
    """Train on these signers and convert: the pipeline file a user would enrol on."""
    from edgesign.converters.landmarks import convert_landmark_run
    from edgesign.targets import get_target
    from edgesign.training.landmarks import LandmarkConfig, load_config, train_landmarks

    run = work / "run"
    train_landmarks(LandmarkConfig(data=[str(t) for t in train], out=str(run), epochs=epochs))
    out = work / "base.tflite"
    convert_landmark_run(run, load_config(run), get_target("int8"), out, None, 2000, None, None)
    return out


def base_and_enrolled(base_on: str) -> tuple[tuple[str, str], ...]:
    """(the base's training signers, the enrolled signer) pairs: ``other``, leave-one-signer-out (a new user);
    ``both``, a base trained on both signers (a user the base already reads well)."""
    return ((("signer1", "signer2"), ("signer2", "signer1")) if base_on == "other" else
            (("both", "signer2"), ("both", "signer1")))


def trained_base(signers: str, work: Path, epochs: int) -> Path:
    """The base pipeline trained on ``signers`` (signer1, signer2 or both), trained once into ``work``."""
    folder = work / signers
    if not (folder / "base.tflite").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        base_pipeline(list(SIGNERS.values()) if signers == "both" else [SIGNERS[signers]], folder, epochs)
    return folder / "base.tflite"


def split_signer(model, held) -> tuple[dict, dict]:
    """Per letter the model knows: its frames with a hand as enrolment keeps them (landmarks, ``pack_hand``), first
    half and second half (shooting order)."""
    first, second = {}, {}
    for c, name in enumerate(held.class_names):
        if name == "Nothing" or name not in model.labels:
            continue
        every = np.flatnonzero(held.labels == c)
        cut, found = every[len(every) // 2], every[held.found[every]]
        first[name], second[name] = ([pack_hand(held.world[i], held.image[i, :, :2], held.right[i]) for i in part]
                                     for part in (found[found < cut], found[found >= cut]))
    return first, second


def as_features(model, hand: str, first: dict, second: dict) -> tuple[dict, dict]:
    """The two halves' features as the personal file reads them: ``auto``, each frame's own handedness score;
    ``decided``, every frame as the hand :func:`signing_hand` decides from the first halves (what enrolment does)."""
    model.signing_hand = "auto"
    if hand == "decided":
        decided, share = signing_hand([unpack_hand(v)[2] for frames in first.values() for v in frames])
        print(f"signing hand decided from the first halves: {decided} ({100 * share:.1f} % read as right)")
        model.signing_hand = decided
    return tuple({k: frame_features(frames, model.landmark_features) for k, frames in half.items()}
                 for half in (first, second))


def measure(model, first: dict, second: dict, n: int, pick: str) -> dict:
    fit = {name: f[:n] if pick == "first" else [f[i] for i in spread(len(f), n)] for name, f in first.items()}
    personal, seconds = refit(fit, model.labels, model.mean, model.std, base=model.base_probabilities)
    x = np.stack([f for v in second.values() for f in v])
    truth = np.array([model.labels.index(k) for k, v in second.items() for _ in v])
    base = np.stack([model.base_probabilities(f) for f in x])
    own = personal.apply((x - model.mean) / model.std, base).argmax(1)
    letters = {k: _letter(own[truth == model.labels.index(k)], model.labels.index(k), model.labels)
               for k in second if second[k]}
    return {"n": len(x), "base": float((base.argmax(1) == truth).mean()),
            "personal": float((own == truth).mean()), "refit_s": seconds, "letters": letters}


def _letter(answers: np.ndarray, truth: int, labels: list[str]) -> tuple[float, str]:
    """(accuracy, the most frequent wrong answer) of one letter's test frames."""
    wrong = answers[answers != truth]
    return float((answers == truth).mean()), labels[np.bincount(wrong).argmax()] if len(wrong) else "-"


def weakest(letters: dict, below: float = 0.9) -> str:
    """Letters under ``below`` on the second half, with their most frequent wrong answer."""
    weak = sorted((acc, k, most) for k, (acc, most) in letters.items() if acc < below)
    return ", ".join(f"{k} {100 * acc:.0f} % (else mostly {most})" for acc, k, most in weak) or "none"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", default="3,10,20")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--hands", default="auto,decided", help="auto (each frame's handedness score), decided (the hand "
                    "`edgesign enrol` decides from the enrolled signer's first-half frames, every frame taken as it), "
                    "or both")
    ap.add_argument("--base-on", choices=("other", "both"), default="other", help="other: the base is trained on the "
                    "other signer (a new user); both: on both signers (a user the base already reads well)")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    rows, ceilings = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for a, b in base_and_enrolled(args.base_on):
            model = open_model(trained_base(a, Path(tmp), args.epochs), threads=1)
            halves = split_signer(model, extract_folder(SIGNERS[b], model.settings))
            for hand in args.hands.split(","):
                first, second = as_features(model, hand, *halves)
                ceilings.append((a, f"{b} ({hand})", measure(model, first, second, 10_000, "first")))
                for pick in ("first", "spread"):
                    for n in (int(v) for v in args.frames.split(",")):
                        rows.append({"base on": a, "enrolled": b, "hand": hand, "pick": pick, "frames": n,
                                     **measure(model, first, second, n, pick)})
    print(f"{'base on':9s} {'enrolled':9s} {'hand':5s} {'pick':7s} {'frames':>6s} {'test n':>7s} {'base %':>7s} "
          f"{'personal %':>10s} {'refit s':>8s}")
    for r in rows:
        print(f"{r['base on']:9s} {r['enrolled']:9s} {r['hand']:5s} {r['pick']:7s} {r['frames']:6d} {r['n']:7d} "
              f"{100 * r['base']:7.2f} {100 * r['personal']:10.2f} {r['refit_s']:8.3f}")
    print("the ceiling of a head fitted on every first-half frame of a letter, measured on the second half: "
          + ", ".join(f"{a} -> {b} {100 * c['personal']:.2f} %" for a, b, c in ceilings))
    for r in rows:
        if r["pick"] == "spread" and r["frames"] == 10:
            print(f"{r['base on']} -> {r['enrolled']} ({r['hand']}), spread 10, letters under 90 %: {weakest(r['letters'])}")
    for a, b, c in ceilings:
        print(f"{a} -> {b}, ceiling, letters under 90 %: {weakest(c['letters'])}")


if __name__ == "__main__":
    main()
