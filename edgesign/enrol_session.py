"""`edgesign enrol`: guided capture from a camera or the user's photo folders, refit, one personal model file."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import atomic
from .certify import checked_number, weights_sha256
from .enrol import (
    MIN_LETTERS,
    Enrolment,
    Personal,
    encode,
    frame_features,
    pack_hand,
    refit,
    signing_hand,
    unpack_hand,
)
from .errors import EdgesignError
from .handfeatures import SIGNING_HANDS
from .hands import Hand
from .metadata import write_metadata
from .pipeline import CropPipeline, HandPipeline, class_index
from .runtime import open_model

if TYPE_CHECKING:
    from .preview import Preview

STEADY_FRAMES = 3
STEADY_MOTION = 0.05  # mean landmark motion between frames, as a fraction of the hand's size
GAP_FRAMES = 5  # steady frames skipped between two taken ones: 10 + 3 frames in about 2.7 s at 30 fps


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def open_base(path: str | None, hand_models: str | None) -> HandPipeline:
    model = open_model(path, hand_models=hand_models)
    if not isinstance(model, HandPipeline):
        what = ("classifies the hand crop: it has no landmark classifier to refit"
                if isinstance(model, CropPipeline) else "has no landmark stage")
        raise EdgesignError(f"{model.path.name} {what}: enrolment needs a landmark pipeline model "
                            "(the default model, or one made by 'edgesign train landmark-mlp')")
    return model


def resolve_letters(model: HandPipeline, letters: list[str]) -> list[str]:
    """The model's spelling of each letter; a letter the model has never seen is refused."""
    return [model.labels[class_index(model.labels, name)] for name in letters]


def spread(n_items: int, need: int) -> list[int]:
    """``need`` indices spread evenly over ``n_items`` in order (all of them when there are fewer)."""
    if n_items <= need:
        return list(range(n_items))
    return [int(round(i)) for i in np.linspace(0, n_items - 1, need)]


def folder_takes(model: HandPipeline, root: Path, letters: list[str] | None, need: int, save: str | None,
                 ) -> Iterator[tuple[str, list[Hand], int]]:
    """Per letter folder: ``need`` pictures with a hand spread evenly over the folder in shooting order (its photos,
    or the frames of its videos: :mod:`edgesign.letter_folders`; a picture without a hand gives way to the next
    one), and how many had none. Spread, not the first ones: neighbouring frames of a recording are near-duplicates,
    and a hand learned from one instant misses the same letter a moment later (measured in bench/enrol_bench.py)."""
    from .letter_folders import LetterPictures, letter_folders

    folders = letter_folders(root)
    names = list(folders)
    wanted = resolve_letters(model, letters or names)
    by_folder = {model.labels[class_index(model.labels, n)]: n for n in names}
    for letter in wanted:
        if letter not in by_folder:
            raise EdgesignError(f"no folder for {letter} in {root}")
    by_letter = {letter: LetterPictures(folders[by_folder[letter]]) for letter in wanted}
    short = [f"{letter} ({len(pictures)})" for letter, pictures in by_letter.items() if len(pictures) < need]
    if short:  # before any picture is read: the hand stage cannot make up for missing ones
        raise EdgesignError(f"too few photos or video frames for {', '.join(short)}: each letter needs at least "
                            f"{need} (--frames + --check)")
    for letter, pictures in by_letter.items():
        hands, dropped, i = [], 0, 0
        try:
            for start in spread(len(pictures), need):
                i = max(i, start)
                while i < len(pictures):
                    image = pictures.picture(i)
                    p = model.prepare(image)
                    i += 1
                    if p.hand is not None:
                        hands.append(p.hand)
                        _save_frame(save, f"{letter}_{len(hands)}", image, letter, p)
                        break
                    dropped += 1
        finally:
            pictures.close()
        yield letter, hands, dropped


def camera_takes(model: HandPipeline, spec: str, letters: list[str], need: int, save: str | None, pause: float,
                 steady: float = STEADY_MOTION, gap: int = GAP_FRAMES, say: Callable[[str], None] = _say,
                 preview: Preview | None = None) -> Iterator[tuple[str, list[Hand], int]]:
    """Guided capture: name the letter, wait for a steady hand, collect ``need`` frames with a hand, ``gap``
    steady frames apart while the user moves the hand a little (one instant's frames are near-duplicates);
    ``preview`` shows the camera, the hand and the count in a browser (``enrol --serve``)."""
    from .sources import camera_frames

    frames = camera_frames(spec)
    try:
        for n, letter in enumerate(resolve_letters(model, letters)):
            say(f"[{n + 1}/{len(letters)}] sign {letter}, hold it, and move it a little while it is taken "
                f"(closer, further, turned; {need} frames)")
            if pause:
                time.sleep(pause)
            yield letter, *_collect(model, frames, spec, letter, need, save, steady, gap, preview)
    finally:
        close = getattr(frames, "close", None)
        if close:
            close()


def _collect(model: HandPipeline, frames, spec: str, letter: str, need: int, save: str | None, steady_motion: float,
             gap: int, preview: Preview | None = None):
    from .progress import Progress

    hands, dropped, steady, previous, since = [], 0, 0, None, gap
    with Progress(f"{letter}: frames taken", need) as taken:  # a counter the user watches while holding the sign
        for frame in frames:
            p = model.prepare(frame.image, track=True)
            if preview is not None and preview.wanted():
                preview.publish(frame.image, {"top": [{"label": f"enrol {letter}", "probability": 1.0}]}, p.hand,
                                caption=f"sign {letter}: {len(hands)} of {need} taken")
            if p.hand is None:
                dropped += 1
                steady, previous = 0, None
                continue
            size = float(np.ptp(p.hand.landmarks[:, :2], axis=0).max()) or 1.0
            motion = np.inf if previous is None else float(np.abs(p.hand.landmarks[:, :2] - previous).mean()) / size
            previous = p.hand.landmarks[:, :2]
            steady = steady + 1 if motion < steady_motion else 0
            since += 1
            if steady >= STEADY_FRAMES and since > gap:
                since = 0
                hands.append(p.hand)
                taken.update()
                _save_frame(save, f"{letter}_{len(hands)}", frame.image, letter, p)
                if len(hands) == need:
                    return hands, dropped
    raise EdgesignError(f"{spec} stopped delivering frames while enrolling {letter} "
                        f"({len(hands)} of {need} frames taken)")


def _save_frame(save: str | None, name: str, image, letter: str, prepared) -> None:
    if save:
        from .draw import save_result

        save_result(Path(save), name, image, f"enrol {letter}", 1.0, prepared.hand)


def looks_like_another(model: HandPipeline, letter: str, feats: list[np.ndarray], share: float = 0.8) -> str | None:
    """A gross mistake (another letter signed, the wrong hand shown): when the base model never reads the named
    letter in any frame and reads one other letter in most of them, say so. A warning, not a refusal: people
    sign some letters differently, which is what enrolment is for."""
    answers = [int(model.base_probabilities(f).argmax()) for f in feats]
    if model.labels.index(letter) in answers:
        return None
    other = max(set(answers), key=answers.count)
    if answers.count(other) < share * len(answers):
        return None
    return (f"the base model reads {answers.count(other)} of {len(answers)} frames taken for {letter} as "
            f"{model.labels[other]}: was {letter} signed? (kept; redo it with --letters {letter})")


def check(model: HandPipeline, personal: Personal, enrolment: Enrolment) -> dict[str, Any]:
    """Base vs personal accuracy on the held-back frames of each letter."""
    per, base_ok, own_ok, n = {}, 0, 0, 0
    for letter, feats in enrolment.features("check", model.landmark_features).items():
        truth = model.labels.index(letter)
        x = np.stack(feats)
        base = np.stack([model.base_probabilities(f) for f in x])
        own = personal.apply((x - model.mean) / model.std, base)
        b, o = int((base.argmax(1) == truth).sum()), int((own.argmax(1) == truth).sum())
        per[letter] = {"n": len(x), "base": round(b / len(x), 4), "personal": round(o / len(x), 4)}
        base_ok, own_ok, n = base_ok + b, own_ok + o, n + len(x)
    return {"n": n, "base_accuracy": round(base_ok / max(n, 1), 6), "accuracy": round(own_ok / max(n, 1), 6),
            "per_letter": per}


def write_personal(model: HandPipeline, enrolment: Enrolment, personal: Personal, report: dict[str, Any],
                   out: Path) -> Path:
    content = model.path.read_bytes()
    meta = dict(model.metadata)
    base = meta.get("personal", {}).get("base") or {"model": model.path.name, "weights_sha256": weights_sha256(content),
                                                   "certificate": meta.get("certificate")}
    meta["personal"] = {"base": base, "classes": personal.classes, "blend": personal.blend,
                        "head": "corrects-base" if personal.corrects_base else "own", "w": encode(personal.w),
                        "b": encode(personal.b), "frames": {k: len(v) for k, v in enrolment.fit.items()},
                        "check": report["check"], "refit_seconds": report["refit_seconds"],
                        "enrolment": enrolment.to_metadata(), "created": time.strftime("%Y-%m-%d %H:%M"),
                        "hand": model.signing_hand, "right_share": report["right_share"]}
    return atomic.write_bytes(out, write_metadata(content, meta))


def run_enrolment(base: str | None, out: str, *, source_folder: str | None = None, camera: str | None = None,
                  letters: list[str] | None = None, frames: int = 10, holdback: int = 3, save: str | None = None,
                  pause: float = 2.0, steady: float = STEADY_MOTION, gap: int = GAP_FRAMES,
                  hand_models: str | None = None, hand: str | None = None,
                  frames_from: str | None = None, preview: Preview | None = None) -> dict[str, Any]:
    """Enrol (or extend an earlier enrolment, when ``base`` is a personal file; or move one onto ``base``, a new
    base model, with ``frames_from``, a personal file); returns the report. ``hand``: the hand the user signs with
    (right, left, or auto: each frame's score); default: the frames decide (:func:`edgesign.enrol.signing_hand`),
    or the hand the file was enrolled with. Every frame kept, old or new, is read as that hand. ``preview``: the
    camera in a browser while it captures."""
    if sum(map(bool, (source_folder, camera, frames_from))) != 1:
        raise EdgesignError("enrol needs exactly one source: --from FOLDER, --camera SPEC or --frames-from PERSONAL")
    if frames < 1 or holdback < 1 or gap < 0:
        raise EdgesignError("--frames and --check must be at least 1, --gap at least 0")
    checked_number(pause, "--pause", "a number of seconds, 0 or more", lambda v: v >= 0)
    checked_number(steady, "--steady", "a positive fraction of the hand's size (no frame would ever count as steady)",
                   lambda v: v > 0)
    if hand is not None and hand not in SIGNING_HANDS:
        raise EdgesignError(f"--hand {hand}: right, left or auto (each frame's own score)")
    if not out.endswith(".tflite"):
        raise EdgesignError(f"the personal model must end in .tflite: {out}")
    model = open_base(base, hand_models)
    unfinished = None  # the letters Ctrl-C left out (after one or more were taken: those are kept, the rest can come)
    if frames_from:
        enrolment, recorded = moved_enrolment(model, frames_from, hand_models)
        model.signing_hand, share, warnings = hand or recorded["hand"], recorded["right_share"], []
    else:
        asked = letters or (None if source_folder else _letters(model))
        takes = (folder_takes(model, Path(source_folder), letters, frames + holdback, save) if source_folder else
                 camera_takes(model, camera, asked, frames + holdback, save, pause, steady, gap, preview=preview))
        enrolment, share, warnings, taken = _enrol_takes(model, takes, frames, holdback, hand)
        if taken is not None:
            if len(enrolment.fit) < MIN_LETTERS:  # too few to fit: an interrupt like any other, nothing written
                raise KeyboardInterrupt
            unfinished = [x for x in resolve_letters(model, asked) if x not in taken] if asked else []
    personal, seconds = refit(enrolment.features("fit", model.landmark_features), model.labels, model.mean, model.std,
                              base=model.base_probabilities)
    report = {"letters": sorted(enrolment.fit), "frames": sum(len(v) for v in enrolment.fit.values()),
              "dropped_no_hand": sum(enrolment.dropped.values()), "refit_seconds": round(seconds, 3),
              "warnings": warnings, "hand": model.signing_hand, "right_share": share}
    if unfinished is not None:
        report["interrupted_before"] = unfinished
    report["check"] = check(model, personal, enrolment)
    report["output"] = str(write_personal(model, enrolment, personal, report, Path(out)))
    return report


def _letters(model: HandPipeline) -> list[str]:
    """Every class but the one for no hand: what a camera enrolment asks for by default."""
    return [name for name in model.labels if name != model.labels[model.no_hand]]


def _enrol_takes(model: HandPipeline, takes, frames: int, holdback: int, hand: str | None
                 ) -> tuple[Enrolment, float, list[str], list[str] | None]:
    """The enrolment with the new takes (on top of the base's own, when it is a personal file), the share of new
    frames read as a right hand, the warnings, and, when Ctrl-C ended the takes after a letter or more, the letters
    taken (None otherwise: every take came); decides the signing hand."""
    old = model.metadata.get("personal")
    enrolment = Enrolment.from_metadata(model.labels, old["enrolment"]) if old else Enrolment(model.labels)
    taken, warnings, stopped = [], [], False
    try:
        for letter, hands, dropped in takes:
            if len(hands) < frames + holdback:
                raise EdgesignError(f"too few frames with a hand for {letter}: {len(hands)} of {frames + holdback} "
                                    f"(--frames {frames} + --check {holdback}; {dropped} photos without a hand)")
            frames_taken = [pack_hand(h.world, h.landmarks[:, :2], h.right) for h in hands]
            taken.append((letter, frames_taken, dropped))
            without = f", {dropped} without one (dropped)" if dropped else ""
            _say(f"{letter}: {len(hands)} frames with a hand{without}")
            doubt = looks_like_another(model, letter, frame_features(frames_taken, model.landmark_features))
            if doubt:
                _say(f"warning: {doubt}")
                warnings.append(doubt)
    except KeyboardInterrupt:  # Ctrl-C: keep what was taken (nothing taken: the interrupt goes on)
        if not taken:
            raise
        stopped = True
    decided, share = signing_hand([unpack_hand(v)[2] for _, frames_taken, _ in taken for v in frames_taken])
    # every frame, old and new, is read as the signing hand: the one asked for, else the file's, else the frames'
    model.signing_hand = hand or (model.signing_hand if old else decided)
    for letter, frames_taken, dropped in taken:
        enrolment.add(letter, frames_taken, holdback, dropped)
    return enrolment, round(share, 4), warnings, [x for x, _, _ in taken] if stopped else None


def moved_enrolment(model: HandPipeline, path: str, hand_models: str | None) -> tuple[Enrolment, dict[str, Any]]:
    """The enrolment frames (landmarks) another personal file keeps, to fit again on ``model``, a new base model
    (its maker's next release, say): no capture. Its hand stage must be the one the frames were taken with."""
    if model.metadata.get("personal"):
        raise EdgesignError(f"--frames-from moves an enrolment onto a base model; {model.path.name} is itself personal")
    other = open_base(path, hand_models)
    recorded = other.metadata.get("personal")
    if not recorded:
        raise EdgesignError(f"--frames-from {path}: not a personal file (made by edgesign enrol)")
    theirs, ours = other.metadata["hand_stage"], model.metadata["hand_stage"]
    same = ("settings", "files", "revision")
    if [theirs.get(k) for k in same] != [ours.get(k) for k in same]:
        raise EdgesignError(f"--frames-from {path}: its frames were taken by another hand stage ({theirs['settings']}, "
                            f"revision {theirs.get('revision')}) than {model.path.name}'s ({ours['settings']}, revision "
                            f"{ours.get('revision')}): enrol again")
    unknown = sorted(set(recorded["frames"]) - set(model.labels))
    if unknown:
        raise EdgesignError(f"--frames-from {path}: {model.path.name} has no class {', '.join(unknown)}")
    enrolment = Enrolment.from_metadata(model.labels, recorded["enrolment"])
    return enrolment, {"hand": recorded.get("hand", "auto"), "right_share": recorded.get("right_share")}
