"""The landmark classifier: an MLP on hand-landmark features, trained on one or more signers.

The run folder looks like an image model's (``model.keras``, ``labels.txt``, ``config.json`` with
``"kind": "hand-landmarks"``, ``history.csv``, ``learning_curves.png``, ``summary.json``), plus
the accuracy of the whole pipeline (hand stage + classifier, no hand -> ``Nothing``) on every
held-out set, reported per set: each set is one signer.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from edgesign import atomic
from edgesign.errors import EdgesignError
from edgesign.evaluate import compute_metrics, write_metrics_files
from edgesign.handfeatures import (
    FEATURE_VERSION,
    FINGERS,
    N_FEATURES,
    SIGNING_HANDS,
    hand_features,
    handedness,
    unit,
)
from edgesign.hands import HandSettings
from edgesign.pipeline import NO_HAND_LABEL, class_index
from edgesign.progress import Progress

from .handdata import HandSet, extract_folder
from .plots import plot_learning_curves

KIND = "hand-landmarks"


# Selected leave-one-signer-out (bench/signer_bench.py); with the gain for dark images (bench/lighting_probe.py) that
# mean is 61.47 % against 61.32 % without (two seeds each: a tie), and dark photos are read again; with the gain and
# the low-contrast stretch ("levels") 61.75 % (seed 0; the gain 61.46 %), and flat, low-contrast photos too (RESULTS).
# refine stays off: three seeds 62.44 % against 63.89 % (mirrored 63.42 against 62.29 %; bench/signer_bench.py --refine)
RECIPE_HAND_STAGE = HandSettings(palm="lite", landmarks="full", zoom_out=0.5, light="levels")


@dataclass
class LandmarkConfig:
    data: list[str]
    out: str
    test_data: list[str] = field(default_factory=list)
    model: str = "landmark-mlp"
    epochs: int = 60
    batch_size: int = 256
    learning_rate: float = 2e-3
    hidden: tuple[int, ...] = (256, 128)
    dropout: float = 0.3
    label_smoothing: float = 0.1
    val_fraction: float = 0.15  # the last photos of each class of each signer (shooting order)
    augment_copies: int = 4
    # the augmented copies' joints also bent (degrees, normal; flex_fingers): another person forms the letter.
    # Leave-one-signer-out (bench/signer_bench.py --epochs 40 --both --flex 0|12, seeds 0 and 1): 61.64 -> 64.59 %
    # and 62.00 -> 62.64 %; mirrored 61.73 -> 62.06 %, shrunk 58.88 -> 59.97 % (means of the two seeds); seed 2,
    # after the choice: 64.12 -> 64.44 %
    flex: float = 12.0
    # also learn every training photo mirrored (the letter as a left hand signs it; validation the same): the
    # left-signer mean 57.7 -> 61.1 %, the right one unchanged (61.4 %; bench/signer_bench.py --mirror)
    mirror: bool = True
    # also learn every training photo shrunk to one of these sides (px): a low-resolution camera's hands. Off:
    # leave-one-signer-out with (28, 40, 56, 72) 61.70 -> 61.14 % as photographed, 57.72 -> 57.84 % on the held-out
    # signer shrunk alike (bench/signer_bench.py --small 28,40,56,72; bench/RESULTS.md)
    small: tuple[int, ...] = ()
    # learn the `Nothing` photos that show a hand (signer 1's: a hand at rest, open or closed) as `Nothing`. Off:
    # `Nothing` is only the hand stage finding no hand. Leave-one-signer-out 61.75 -> 63.54 % (signer 1 -> 2 61.64
    # -> 65.21: trained on signer 1's resting hands, the classifier answered `Nothing` for 78 % of signer 2's F and
    # 76 % of its Space; bench/signer_bench.py --no-nothing-hands; signer 2's Nothing photos have no hand)
    nothing_hands: bool = False
    # the hand the training signers sign with: right or left takes every photographed hand as that one (a mirrored
    # view's as the other), not as the landmark model calls each frame (it calls 1.2 % of signer 1's frames and 4.5 %
    # of signer 2's a left hand, whose features are then mirrored); auto: each frame's own call. The model file
    # still reads each frame's call (a new person's hand is not known). Left at auto: leave-one-signer-out over
    # three seeds 63.89 % either way, mirrored 62.29 -> 61.35 % with "right" (bench/signer_bench.py --signed-with)
    signed_with: str = "auto"
    seed: int = 0
    # The hand stage new models are trained with (selected leave-one-signer-out, bench/signer_bench.py): the lite
    # palm detector (the slow part when it runs), the full landmark model, a zoomed-out second palm try.
    hand: dict[str, Any] = field(default_factory=lambda: asdict(RECIPE_HAND_STAGE))


def union_classes(sets: list[HandSet]) -> list[str]:
    """Class names across datasets, matched case-insensitively, sorted; ``Nothing`` always included."""
    names: dict[str, str] = {}
    for s in sets:
        for n in s.class_names:
            names.setdefault(n.lower(), n)
    names.setdefault(NO_HAND_LABEL.lower(), NO_HAND_LABEL)
    return sorted(names.values())


def relabel(s: HandSet, classes: list[str]) -> np.ndarray:
    """The set's labels as indices into ``classes``; -1 for a class the model does not have."""
    lowered = [c.lower() for c in classes]
    mapping = np.array([lowered.index(n.lower()) if n.lower() in lowered else -1 for n in s.class_names])
    return mapping[s.labels]


def known_subset(s: HandSet, classes: list[str]) -> tuple[HandSet, np.ndarray]:
    """The images of ``s`` whose class the model has, and their labels (a held-out signer may have more)."""
    labels = relabel(s, classes)
    keep = np.flatnonzero(labels >= 0)
    sub = HandSet(s.source, [s.files[i] for i in keep], s.labels[keep], s.class_names, s.found[keep],
                  s.world[keep], s.image[keep], s.right[keep])
    return sub, labels[keep]


def block_split(labels: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) indices: the last ``fraction`` of each class in file order goes to validation."""
    train, val = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        n_val = int(round(len(idx) * fraction))
        train.append(idx[: len(idx) - n_val])
        val.append(idx[len(idx) - n_val:])
    return np.concatenate(train), np.concatenate(val)


def _axis_angle(axis: np.ndarray, a: float) -> np.ndarray:
    """The rotation by ``a`` radians about the unit vector ``axis`` (Rodrigues)."""
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


def _rotation(rng: np.random.Generator, degrees: float) -> np.ndarray:
    axis = rng.normal(size=3)
    return _axis_angle(axis / np.linalg.norm(axis), np.deg2rad(rng.normal(0, degrees)))


def flex_fingers(world: np.ndarray, rng: np.random.Generator, degrees: float, thumb: float | None = None) -> np.ndarray:
    """The same handshape as another person forms it: every finger joint bent a little more or less (``degrees``,
    normal), about the axis across the palm (the thumb's about its own bend axis), each finger also spread a
    little about the palm's normal at its knuckle; the part of the finger beyond a joint turns with it. ``thumb``:
    the thumb's joints by another angle (probed, not used: bench/signer_probe.py flex-12-thumb-6/24)."""
    out = world.astype(np.float64)
    normal = unit(np.cross(out[5] - out[0], out[17] - out[0]))
    across = unit(out[17] - out[5])
    for chain in FINGERS:
        bend = degrees if thumb is None or chain[1] != 1 else thumb
        for k in range(1, len(chain) - 1):
            joint, distal = chain[k], chain[k + 1:]
            axis = unit(np.cross(out[joint] - out[chain[k - 1]], normal)) if chain[1] == 1 else across
            turn = _axis_angle(axis, np.deg2rad(rng.normal(0, bend)))
            if k == 1:
                turn = _axis_angle(normal, np.deg2rad(rng.normal(0, bend / 2))) @ turn
            out[distal] = (out[distal] - out[joint]) @ turn.T + out[joint]
    return out.astype(world.dtype)


def augment_hand(world: np.ndarray, image_xy: np.ndarray, rng: np.random.Generator, bone: float = 0.1,
                 turn: float = 10.0, roll: float = 8.0, flex: float = 0.0, thumb: float | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Another hand: bones ``bone`` (10 %) longer or shorter, turned a little in 3-D (``turn`` degrees), landmark
    noise of a few mm, rolled in the image (``roll`` degrees); with ``flex``, its joints bent (:func:`flex_fingers`)."""
    if flex:
        world = flex_fingers(world, rng, flex, thumb)
    new = world.copy()
    for chain in FINGERS:
        for parent, child in zip(chain[:-1], chain[1:]):
            new[child] = new[parent] + (world[child] - world[parent]) * rng.uniform(1 - bone, 1 + bone)
    new = new @ _rotation(rng, turn).T.astype(np.float32) + rng.normal(0, 0.002, new.shape).astype(np.float32)
    a = np.deg2rad(rng.normal(0, roll))
    rot2 = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], np.float32)
    return new, (image_xy - image_xy[0]) @ rot2.T + image_xy[0]


def features_and_labels(s: HandSet, idx: np.ndarray, labels: np.ndarray, copies: int = 0,
                        rng: np.random.Generator | None = None, bar: Progress | None = None, flex: float = 0.0
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Features of the images in ``idx`` that have a hand, plus ``copies`` augmented versions of each (their joints
    bent by ``flex`` degrees)."""
    idx = idx[s.found[idx]]
    x, y = [s.features(idx)], [labels[idx]]
    if bar is not None:
        bar.update(len(idx))
    for _ in range(copies):
        rows = []
        for i in idx:
            w, im = augment_hand(s.world[i], s.image[i, :, :2], rng, flex=flex)
            rows.append(hand_features(w, im, s.right[i]))
        x.append(np.stack(rows))
        y.append(labels[idx])
        if bar is not None:
            bar.update(len(idx))
    return np.concatenate(x), np.concatenate(y)


def training_features(sets: list[HandSet], classes: list[str], cfg: LandmarkConfig
                      ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """((x, y) train, (x, y) validation): each set split in shooting order, the training part with
    ``augment_copies`` augmented hands each; progress per hand (tens of thousands with the mirrored photos)."""
    rng = np.random.default_rng(cfg.seed)
    plan = []
    for s in sets:
        labels = relabel(s, classes)
        tr, va = block_split(labels, cfg.val_fraction)
        if not cfg.nothing_hands:  # the photos of Nothing with a hand found are left out of both parts
            nothing = classes.index(NO_HAND_LABEL)
            tr, va = tr[labels[tr] != nothing], va[labels[va] != nothing]
        plan += [("train", s, tr, labels, cfg.augment_copies), ("val", s, va, labels, 0)]
    parts: dict[str, tuple[list, list]] = {"train": ([], []), "val": ([], [])}
    total = sum(int(s.found[idx].sum()) * (1 + copies) for _, s, idx, _, copies in plan)
    with Progress("hand features", total) as bar:
        for name, s, idx, labels, copies in plan:
            x, y = features_and_labels(s, idx, labels, copies, rng, bar, cfg.flex)
            parts[name][0].append(x)
            parts[name][1].append(y)
    return tuple((np.concatenate(xs), np.concatenate(ys)) for xs, ys in parts.values())


def build_mlp(n_classes: int, hidden: tuple[int, ...], dropout: float):
    """The MLP on standardized features (the standardization is in the model's metadata, applied in float
    before the int8 graph: one input scale for features of different ranges would cost accuracy)."""
    from .tf_env import keras

    inputs = keras.Input((N_FEATURES,), name="hand_features")
    x = inputs
    for i, width in enumerate(hidden):
        x = keras.layers.Dense(width, activation="relu", name=f"dense{i}")(x)
        x = keras.layers.Dropout(dropout)(x)
    outputs = keras.layers.Softmax()(keras.layers.Dense(n_classes, name="logits")(x))
    return keras.Model(inputs, outputs, name="landmark_mlp")


def standardize(x: np.ndarray, scaling: dict[str, list[float]]) -> np.ndarray:
    return ((x - np.asarray(scaling["mean"], np.float32)) / np.asarray(scaling["std"], np.float32)).astype(np.float32)


def pipeline_probabilities(model, s: HandSet, classes: list[str], scaling: dict, predict=None) -> np.ndarray:
    """Probabilities of the whole pipeline on every image of ``s``: the classifier, or Nothing without a hand."""
    probs = np.zeros((len(s.files), len(classes)), np.float32)
    probs[:, class_index(classes, NO_HAND_LABEL)] = 1.0
    found = np.flatnonzero(s.found)
    if len(found):
        x = standardize(s.features(found), scaling)
        probs[found] = predict(x) if predict is not None else model.predict(x, batch_size=1024, verbose=0)
    return probs


def training_views(train: dict[str, Any]) -> list[dict[str, Any]]:
    """How each training folder is seen (``train``: the run config's ``train``): as photographed, with
    ``mirror`` also mirrored, with ``small`` also shrunk to those sides."""
    small = tuple(train.get("small") or ())
    return [{}] + ([{"mirror": True}] if train.get("mirror") else []) + ([{"small": small}] if small else [])


def training_sets(train: dict[str, Any], settings: HandSettings) -> list[HandSet]:
    """The hands a landmark run learns from (and its int8 conversion calibrates on): each of the run config's
    ``train["data"]`` folders in each of its views."""
    hand = train.get("signed_with", "auto")
    return [as_signed_with(extract_folder(d, settings, **view), hand, view.get("mirror", False))
            for d in train["data"] for view in training_views(train)]


def run_data_folders(cfg: dict[str, Any]) -> list[str]:
    """A landmark run's training folders (``cfg``: its config.json): as typed when they are there from the current
    folder, else where they were when it trained (a run converted from another folder than it was trained in)."""
    typed, resolved = cfg["train"]["data"], cfg.get("data_resolved") or []
    return [d if Path(d).exists() or i >= len(resolved) else resolved[i] for i, d in enumerate(typed)]


def as_signed_with(s: HandSet, hand: str, mirrored: bool = False) -> HandSet:
    """``s`` with every found hand taken as ``hand`` (right or left; the other one when the photos were mirrored);
    ``auto`` leaves each frame's handedness score."""
    if hand not in SIGNING_HANDS:
        raise EdgesignError(f"signed_with {hand!r}: right, left or auto")
    if hand == "auto":
        return s
    right = handedness(hand, 0.5)
    return replace(s, right=np.full_like(s.right, 1.0 - right if mirrored else right))


def trained_on(train: dict[str, Any]) -> list[str]:
    """A run's training folders as a model file names them (``train``: the run config's ``train``)."""
    small = f" (and shrunk to {', '.join(map(str, train['small']))} px)" if train.get("small") else ""
    return [d + (" (and mirrored)" if train.get("mirror") else "") + small for d in train["data"]]


def train_landmarks(cfg: LandmarkConfig) -> dict[str, Any]:
    """Train, keep the best epoch by validation accuracy, write the run folder; returns the summary."""
    from .tf_env import keras, tf

    out = Path(cfg.out)
    if out.exists() and any(out.iterdir()):
        raise EdgesignError(f"run folder {out} is not empty: pick another -o (a landmark run is not resumed: it "
                            "trains again in minutes, its landmarks cached)")
    t0 = time.perf_counter()
    settings = HandSettings(**cfg.hand)
    sets = training_sets(asdict(cfg), settings)
    held = [extract_folder(d, settings) for d in cfg.test_data]
    classes = union_classes(sets)
    (x_tr, y_tr), (x_va, y_va) = training_features(sets, classes, cfg)
    tf.keras.utils.set_random_seed(cfg.seed)
    scaling = {"mean": x_tr.mean(0).tolist(), "std": (x_tr.std(0) + 1e-6).tolist()}
    x_tr, x_va = standardize(x_tr, scaling), standardize(x_va, scaling)
    model = build_mlp(len(classes), cfg.hidden, cfg.dropout)
    steps = cfg.epochs * int(np.ceil(len(x_tr) / cfg.batch_size))
    model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(cfg.learning_rate, steps)),
                  keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing), metrics=["accuracy"])
    eye = np.eye(len(classes), dtype=np.float32)
    best = _BestWeights()
    from .train import EpochLog

    hist = model.fit(x_tr, eye[y_tr], batch_size=cfg.batch_size, epochs=cfg.epochs, verbose=0,
                     validation_data=(x_va, eye[y_va]), callbacks=[best, EpochLog(len(x_tr), cfg.epochs, "hands")],
                     shuffle=True)
    model.set_weights(best.weights)
    return _write_run(out, cfg, model, classes, scaling, hist.history, best, sets, held, len(x_tr),
                      time.perf_counter() - t0)


class _BestWeights:
    """Keep the weights of the epoch with the best validation accuracy (a Keras callback)."""

    def __new__(cls):
        from .tf_env import keras

        class Callback(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.best, self.epoch, self.weights = -1.0, 0, None

            def on_epoch_end(self, epoch, logs=None):
                if logs["val_accuracy"] > self.best:
                    self.best, self.epoch, self.weights = logs["val_accuracy"], epoch + 1, self.model.get_weights()

        return Callback()


def _write_run(out: Path, cfg: LandmarkConfig, model, classes: list[str], scaling: dict, history: dict, best,
               sets: list[HandSet],
               held: list[HandSet], n_train: int, seconds: float) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(out / "model.keras") as tmp:
        model.save(str(tmp.with_suffix(".keras")))
        tmp.with_suffix(".keras").replace(tmp)
    atomic.write_text(out / "labels.txt", "\n".join(classes) + "\n")
    config = {"kind": KIND, "classes": classes, "features": FEATURE_VERSION, "feature_scaling": scaling, "hand": cfg.hand,
              "no_hand_label": NO_HAND_LABEL, "train": {**asdict(cfg), "hidden": list(cfg.hidden)},
              "data_resolved": [str(Path(d).resolve()) for d in cfg.data]}
    atomic.write_json(out / "config.json", config)
    keys = list(history)
    with atomic.atomic_path(out / "history.csv") as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["epoch", *keys])
        for i in range(len(history[keys[0]])):
            w.writerow([i + 1, *(round(float(history[k][i]), 6) for k in keys)])
    plot_learning_curves(history, out / "learning_curves.png", f"{cfg.model} on {', '.join(cfg.data)}")
    summary = {"model": cfg.model, "best_val_accuracy": round(best.best, 6), "best_epoch": best.epoch,
               "n_train_features": n_train, "seconds": round(seconds, 1),
               "hands_found": {s.source: round(float(s.found.mean()), 4) for s in sets + held}, "held_out": {}}
    for i, full in enumerate(held):
        s, labels = known_subset(full, classes)
        m = compute_metrics(labels, pipeline_probabilities(model, s, classes, scaling), classes, s.source)
        write_metrics_files(m, out, prefix=f"heldout{i + 1}")
        summary["held_out"][s.source] = {"accuracy": round(m.accuracy, 6), "n": m.n,
                                         "skipped_unknown_classes": len(full.files) - len(s.files),
                                         "per_class": {k: round(v, 4) for k, v in m.per_class.items()}}
    atomic.write_json(out / "summary.json", summary)
    return summary


def load_config(run: Path) -> dict[str, Any] | None:
    """The run's config when it is a landmark run, else None."""
    path = Path(run) / "config.json"
    if not path.is_file():
        return None
    cfg = json.loads(path.read_text())
    return cfg if cfg.get("kind") == KIND else None


def feature_probabilities(run: str | Path):
    """For a landmark run folder: its float Keras classifier on standardized features (what ``check`` compares a
    converted pipeline with); None for anything else."""
    if not Path(run).is_dir() or load_config(Path(run)) is None:
        return None
    from .run import load_keras_model

    model = load_keras_model(Path(run) / "model.keras")
    return lambda x: model.predict(x, batch_size=1024, verbose=0)
