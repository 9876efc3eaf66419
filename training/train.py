"""Train a registered model on a dataset and write a run folder.

A run folder holds: ``model.keras`` (the best epoch by validation accuracy), ``labels.txt``,
``config.json`` (everything needed to reproduce the run, preprocessing included),
``history.csv``, ``learning_curves.png`` and, when a test set is given, ``test_metrics.json``,
``confusion_matrix.png`` and per-class accuracy.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgesign import atomic
from edgesign.data import Dataset, class_folders, load_dataset, model_class_index
from edgesign.errors import EdgesignError
from edgesign.evaluate import Metrics, compute_metrics, write_metrics_files
from edgesign.preprocess import Preprocess

from .augment import Augment
from .models import FINE_TUNE_PREFIX, load_weights_file, pretrained
from .pipeline import make_dataset
from .registry import create_model, get_spec
from .run import predict_probs, read_history
from .tf_env import keras, tf

# TF checkpoint format (not HDF5): it restores distributed (MirroredStrategy) variables too.
BEST_CHECKPOINT = "best.ckpt"
# written when the epochs are done, before the final save: a run killed while saving resumes at the save
FIT_DONE = "fit_done.json"


@dataclass
class TrainConfig:
    model: str
    data: str
    out: str
    test_data: str | None = None
    input_size: int | None = None
    channels: int | None = None
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    warmup_epochs: int = 1
    label_smoothing: float = 0.1
    class_weights: bool = True
    patience: int = 10
    val_fraction: float = 0.15
    val_split: str = "random"  # random | blocks (hold out whole shooting sessions: see Dataset.split)
    seed: int = 0
    augment: dict[str, Any] = field(default_factory=dict)
    model_options: dict[str, Any] = field(default_factory=dict)
    weights: str | None = None  # transfer models: imagenet | none | PATH
    fine_tune_epochs: int = 5  # transfer models: second stage with the top block unfrozen
    fine_tune_lr: float = 1e-4
    mixed_precision: str = "auto"  # auto (on GPU) | on | off
    distribute: str = "auto"  # auto | none | mirrored | multiworker
    recipe: str | None = None  # the models/<name>.toml this run reproduces, if any
    # Train on the hand stage's crop of each photo (these HandSettings); the converted model is a hand pipeline.
    hand_crop: dict[str, Any] | None = None
    more_data: list[str] = field(default_factory=list)  # hand-crop models: more signers, each split on its own

    def preprocess(self) -> Preprocess:
        return get_spec(self.model).preprocess(self.input_size, self.channels)


@dataclass
class RunResult:
    run_dir: Path
    best_val_accuracy: float
    epochs_run: int
    seconds: float
    images_per_second: float
    test: Metrics | None


def get_strategy(kind: str = "auto"):
    """The tf.distribute strategy: MultiWorkerMirrored with TF_CONFIG, Mirrored on several GPUs."""
    gpus = tf.config.list_physical_devices("GPU")
    if kind == "multiworker" or (kind == "auto" and os.environ.get("TF_CONFIG")):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if kind == "mirrored" or (kind == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    if kind not in ("auto", "none", "mirrored", "multiworker"):
        raise EdgesignError(f"unknown distribution {kind!r}: auto, none, mirrored or multiworker")
    return tf.distribute.get_strategy()


def worker_role() -> tuple[bool, int]:
    """(is_chief, task index) from TF_CONFIG; a run without TF_CONFIG is its own chief."""
    cfg = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    task = cfg.get("task", {})
    kind, index = task.get("type", "chief"), int(task.get("index", 0))
    has_chief = "chief" in cfg.get("cluster", {})
    return (kind == "chief" or (kind == "worker" and index == 0 and not has_chief)), index


def _set_precision(mode: str) -> str:
    use = mode == "on" or (mode == "auto" and bool(tf.config.list_physical_devices("GPU")))
    policy = "mixed_float16" if use else "float32"
    keras.mixed_precision.set_global_policy(policy)
    return policy


def _class_weights(ds: Dataset) -> dict[int, float]:
    counts = ds.class_counts().astype(np.float64)
    weights = counts.sum() / (len(counts) * np.maximum(counts, 1))
    return {i: float(w) for i, w in enumerate(weights)}


def _optimizer(lr_peak: float, steps: int, warmup: int, weight_decay: float):
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=lr_peak / 10 if warmup else lr_peak,
        decay_steps=max(1, steps - warmup), alpha=0.01,
        warmup_target=lr_peak if warmup else None, warmup_steps=warmup)
    return keras.optimizers.AdamW(learning_rate=schedule, weight_decay=weight_decay)


class EpochLog(keras.callbacks.Callback):
    """One line per epoch on stderr, with training examples (``unit``) per second, for logs that are not a
    terminal (both trainers use it); given ``batch_size``, also a line every ``every`` seconds within a long
    epoch there (a ResNet epoch on a CPU takes minutes; a terminal has Keras's own bar)."""

    def __init__(self, n_train: int, total_epochs: int, unit: str = "img", batch_size: int | None = None,
                 every: float = 60.0) -> None:
        super().__init__()
        self.n_train, self.total, self.unit = n_train, total_epochs, unit
        self.batch_size, self.every = (None if sys.stderr.isatty() else batch_size), every
        self.rates: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = self._shown = time.perf_counter()
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self.batch_size and now - self._shown >= self.every:
            self._shown = now
            done = min((batch + 1) * self.batch_size, self.n_train)
            print(f"epoch {self.epoch + 1}/{self.total}  {done}/{self.n_train} {self.unit}  {now - self.t0:.0f} s"
                  f"  loss {(logs or {}).get('loss', 0):.4f}", file=sys.stderr, flush=True)

    def on_epoch_end(self, epoch, logs=None):
        dt = time.perf_counter() - self.t0
        self.rates.append(self.n_train / dt)
        logs = logs or {}
        print(f"epoch {epoch + 1}/{self.total}  loss {logs.get('loss', 0):.4f}  acc {logs.get('accuracy', 0):.4f}"
              f"  val_loss {logs.get('val_loss', 0):.4f}  val_acc {logs.get('val_accuracy', 0):.4f}"
              f"  {dt:.1f} s  {self.n_train / dt:.0f} {self.unit}/s", file=sys.stderr, flush=True)


class LearningRateLog(keras.callbacks.Callback):
    """The learning rate of the epoch's last step, into the epoch's logs (``lr`` in history.csv)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = float(keras.backend.get_value(self.model.optimizer.learning_rate))


def _fit(model, train_ds, val_ds, cfg: TrainConfig, run: Path, epochs: int, initial_epoch: int,
         lr: float, n_train: int, class_weight, tag: str):
    # a step takes cfg.batch_size images on each replica (train() batches the dataset that way): the schedule
    # counts those global steps, so that its cosine ends with the last epoch on any number of replicas
    global_batch = cfg.batch_size * model.distribute_strategy.num_replicas_in_sync
    steps_per_epoch = int(np.ceil(n_train / global_batch))
    warmup = cfg.warmup_epochs * steps_per_epoch if tag == "main" else 0
    model.compile(optimizer=_optimizer(lr, steps_per_epoch * epochs, warmup, cfg.weight_decay),
                  loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
                  metrics=["accuracy"])
    best_ckpt = run / BEST_CHECKPOINT
    checkpoint = keras.callbacks.ModelCheckpoint(str(best_ckpt), monitor="val_accuracy", mode="max",
                                                 save_best_only=True, save_weights_only=True)
    prior_best = max(read_history(run / "history.csv").get("val_accuracy", []), default=None)
    if prior_best is not None and (run / f"{BEST_CHECKPOINT}.index").exists():
        checkpoint.best = prior_best  # a resumed run keeps the best epoch of its first part
    callbacks = [
        keras.callbacks.BackupAndRestore(str(run / f"backup_{tag}")),
        checkpoint,
        LearningRateLog(),  # before the CSV logger, which writes the logs it is handed
        keras.callbacks.CSVLogger(str(run / "history.csv"), append=True),
        keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=cfg.patience),
        keras.callbacks.TerminateOnNaN(),
        EpochLog(n_train, initial_epoch + epochs, batch_size=global_batch),
    ]
    hist = model.fit(train_ds, validation_data=val_ds, epochs=initial_epoch + epochs,
                     initial_epoch=initial_epoch, callbacks=callbacks, class_weight=class_weight,
                     verbose=1 if sys.stderr.isatty() else 0)
    return hist, callbacks[-1].rates


def train(cfg: TrainConfig, *, resume: bool = False) -> RunResult:
    """Train ``cfg.model`` on ``cfg.data``; the best epoch by validation accuracy is kept."""
    pre = cfg.preprocess()
    run, chief = _run_folder(cfg, resume)
    keras.utils.set_random_seed(cfg.seed)
    policy = _set_precision(cfg.mixed_precision)
    full, train_part, val_part = _load_splits(cfg, pre)
    _check_test_folders(cfg.test_data, full.class_names)
    strategy = get_strategy(cfg.distribute)
    batch = cfg.batch_size * strategy.num_replicas_in_sync
    train_ds = make_dataset(train_part, pre, batch, training=True, augment=Augment.from_dict(cfg.augment), seed=cfg.seed)
    val_ds = make_dataset(val_part, pre, batch, training=False)
    options = _model_options(cfg)
    fitted = run / FIT_DONE
    if resume and fitted.exists():  # killed after fitting, while saving: the epochs are done, only the save is not
        done = json.loads(fitted.read_text())
        print("resuming after the fit: saving the best epoch", file=sys.stderr)
        return _finish_run(cfg, options, pre, full.class_names, run, done["epochs_run"], done["seconds"], done["rate"])
    # built before the run is written: ImageNet weights that cannot be fetched leave no half-made run behind
    model = _new_model(cfg, options, strategy, pre, len(full.class_names))
    if not resume:
        atomic.write_json(run / "config.json", {
            "train": asdict(cfg), "preprocess": pre.to_dict(), "classes": full.class_names, "data_digest": full.digest,
            "n_train": len(train_part), "n_val": len(val_part), "precision": policy,
            "replicas": strategy.num_replicas_in_sync, "tensorflow": tf.__version__})
        atomic.write_text(run / "labels.txt", "\n".join(full.class_names) + "\n")
    print(f"training {cfg.model} on {len(train_part)} images ({len(val_part)} for validation), "
          f"{len(full.class_names)} classes, input {pre.height}x{pre.width}x{pre.channels}, "
          f"{strategy.num_replicas_in_sync} replica(s), {policy}", file=sys.stderr)
    t0 = time.perf_counter()
    rates = _fit_stages(cfg, model, options, strategy, train_part, train_ds, val_ds, run)
    seconds = time.perf_counter() - t0
    rate = float(np.median(rates)) if rates else 0.0
    losses = read_history(run / "history.csv").get("loss", [])
    if not losses or not np.isfinite(losses[-1]):
        raise EdgesignError(f"training diverged (loss {losses[-1] if losses else 'not recorded'}): no model saved; "
                            "lower --lr")
    if not chief:  # the chief holds the best checkpoint and writes the run
        return RunResult(run, 0.0, len(rates), seconds, rate, None)
    atomic.write_json(fitted, {"epochs_run": len(rates), "seconds": round(seconds, 1), "rate": rate})
    return _finish_run(cfg, options, pre, full.class_names, run, len(rates), seconds, rate)


def _run_folder(cfg: TrainConfig, resume: bool) -> tuple[Path, bool]:
    """The run folder (a worker's own beside the chief's in a multi-worker run) and whether this is the chief."""
    run = Path(cfg.out)
    chief, index = worker_role()
    if not chief:  # other workers of a MultiWorkerMirroredStrategy write beside the chief's run, not over it
        run = run / f".worker{index}"
    # other workers' folders (.workerN) may appear before the chief gets here: they do not count
    if run.exists() and any(not p.name.startswith(".worker") for p in run.iterdir()) and not resume:
        raise EdgesignError(f"run folder {run} is not empty: pass --resume to continue it, or pick another -o")
    if resume and not (run / "config.json").exists():
        raise EdgesignError(f"nothing to resume in {run} (no config.json)")
    run.mkdir(parents=True, exist_ok=True)
    return run, chief


def _check_test_folders(test_data: str | None, classes: list[str]) -> None:
    """Test class folders the model will not know, named before training rather than after it (a .csv or .h5 file
    is read once trained); folders may be in any case and hold some of the classes."""
    if test_data and Path(test_data).is_dir():
        model_class_index([d.name for d in class_folders(Path(test_data))], classes, test_data)


def _load_splits(cfg: TrainConfig, pre: Preprocess) -> tuple[Dataset, Dataset, Dataset]:
    """The whole training set and its (train, validation) split."""
    if cfg.hand_crop:
        return _load_crop_splits(cfg, pre)
    if cfg.more_data:
        raise EdgesignError("an image model trains on one --data (several signers: train on hand crops)")
    full = load_dataset(cfg.data, pre)
    _check_counts(full, cfg.data)
    train_part, val_part = full.split(cfg.val_fraction, cfg.seed, cfg.val_split)
    return full, train_part, val_part


def _load_crop_splits(cfg: TrainConfig, pre: Preprocess) -> tuple[Dataset, Dataset, Dataset]:
    """Hand crops of each signer's photos, each signer split on its own, then joined."""
    from edgesign.hands import HandSettings
    from edgesign.pipeline import NO_HAND_LABEL

    from .handcrops import concat, crop_set, relabelled, union_classes

    sets = [crop_set(d, HandSettings(**cfg.hand_crop), pre) for d in [cfg.data, *cfg.more_data]]
    classes = union_classes(sets)
    signers = [relabelled(s, classes) for s in sets]
    full = concat(signers, " + ".join(f"hand crops of {s.source}" for s in sets))
    # Nothing may have no crops at all (a signer's empty scenes): the pipeline's rule answers there, not the model
    _check_counts(full, full.source, skip=[c for c in classes if c.lower() == NO_HAND_LABEL.lower()])
    splits = [d.split(cfg.val_fraction, cfg.seed, cfg.val_split) for d in signers]
    return full, concat([t for t, _ in splits]), concat([v for _, v in splits])


def _check_counts(full: Dataset, source: str, skip: list[str] = ()) -> None:
    if len(full.class_names) < 2:
        raise EdgesignError(f"{source} has a single class ({full.class_names[0]}): a classifier needs two or more")
    few = [n for n, c in zip(full.class_names, full.class_counts()) if c < 2 and n not in skip]
    if few:
        raise EdgesignError(f"classes with fewer than 2 images cannot be split for validation: {', '.join(few)}")


def _model_options(cfg: TrainConfig) -> dict[str, Any]:
    options = dict(cfg.model_options)
    if get_spec(cfg.model).transfer:
        options.setdefault("weights", cfg.weights or "imagenet")
    elif cfg.weights not in (None, "none"):
        options["_init_weights"] = cfg.weights
    return options


def _new_model(cfg: TrainConfig, options: dict[str, Any], strategy, pre: Preprocess, n_classes: int):
    """The registered model, built in the strategy's scope, its ``--weights`` loaded."""
    options = dict(options)
    init = options.pop("_init_weights", None)
    with strategy.scope():
        model = create_model(cfg.model, pre.shape, n_classes, **options)
        if init:
            load_weights_file(model, init)
    return model


def _fit_stages(cfg: TrainConfig, model, options: dict[str, Any], strategy, train_part: Dataset, train_ds, val_ds,
                run: Path) -> list[float]:
    """The main stage, then (transfer models) the fine-tune with the top block unfrozen; images/s per epoch."""
    class_weight = _class_weights(train_part) if cfg.class_weights else None
    _, rates = _fit(model, train_ds, val_ds, cfg, run, cfg.epochs, 0, cfg.learning_rate,
                    len(train_part), class_weight, "main")
    if get_spec(cfg.model).transfer and cfg.fine_tune_epochs > 0 and pretrained(options.get("weights")):
        model.load_weights(str(run / BEST_CHECKPOINT))
        _unfreeze_top(model)
        trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
        print(f"fine-tuning with the top block unfrozen: {trainable:,} trainable parameters, "
              f"learning rate {cfg.fine_tune_lr}", file=sys.stderr)
        done = len(read_history(run / "history.csv").get("loss", []))
        with strategy.scope():
            _, more = _fit(model, train_ds, val_ds, cfg, run, cfg.fine_tune_epochs, done, cfg.fine_tune_lr,
                           len(train_part), class_weight, "finetune")
        rates += more
    return rates


def _finish_run(cfg: TrainConfig, options: dict[str, Any], pre: Preprocess, classes: list[str], run: Path,
                epochs_run: int, seconds: float, rate: float) -> RunResult:
    """The best epoch saved as model.keras, the curves, the test metrics and the summary."""
    # The final model is rebuilt outside the distribution strategy, so that saving and evaluating it
    # need no collective ops (every worker of a multi-worker run does this on its own).
    options = {k: v for k, v in options.items() if k != "_init_weights"}
    if get_spec(cfg.model).transfer:
        options = {**options, "weights": "none", "freeze": pretrained(options.get("weights"))}
    model = create_model(cfg.model, pre.shape, len(classes), **options)
    model.load_weights(str(run / BEST_CHECKPOINT)).expect_partial()
    with atomic.atomic_path(run / "model.keras") as tmp:
        model.save(str(tmp.with_suffix(".keras")))
        os.replace(tmp.with_suffix(".keras"), tmp)
    history = read_history(run / "history.csv")
    from .plots import plot_learning_curves

    plot_learning_curves(history, run / "learning_curves.png", title=f"{cfg.model} on {Path(cfg.data).name}")
    best_val = max(history.get("val_accuracy", [0.0]))
    test = None
    if cfg.test_data:
        test = _test_metrics(cfg, model, pre, classes)
        write_metrics_files(test, run, prefix="test")
    summary = {"best_val_accuracy": best_val, "epochs_run": epochs_run, "train_seconds": round(seconds, 1),
               "train_images_per_second": round(rate, 1), "test_accuracy": test.accuracy if test else None,
               "params": int(model.count_params()), "machine": machine_description()}
    atomic.write_json(run / "summary.json", summary)
    return RunResult(run, best_val, epochs_run, seconds, summary["train_images_per_second"], test)


def machine_description() -> str:
    """What trained a run, for its summary and card: the CPU's model name and cores, and the GPUs TensorFlow sees
    ('AMD EPYC, 2 CPU cores'; 'Intel Xeon ..., 16 CPU cores, 1 GPU (NVIDIA H100 80GB HBM3)')."""
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    text = f"{cpu}, {os.cpu_count()} CPU cores"
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        names = sorted({tf.config.experimental.get_device_details(g).get("device_name", "GPU") for g in gpus})
        text += f", {len(gpus)} GPU ({', '.join(names)})"
    return text


def _test_metrics(cfg: TrainConfig, model, pre: Preprocess, classes: list[str]) -> Metrics:
    """Metrics on the test data: an image model's on its photos; a hand-crop model's are the pipeline's
    (no hand found: ``Nothing``)."""
    if cfg.hand_crop:
        from edgesign.hands import HandSettings

        from .handcrops import crop_set, pipeline_probabilities

        s = crop_set(cfg.test_data, HandSettings(**cfg.hand_crop), pre)
        labels, probs = pipeline_probabilities(s, predict_probs(model, s.crops, pre, cfg.batch_size), classes)
        return compute_metrics(labels, probs, classes, f"{s.source} (pipeline: hand stage + crop classifier)")
    test_set = load_dataset(cfg.test_data, pre).in_model_classes(classes)  # any case, some of the classes
    return compute_metrics(test_set.labels, predict_probs(model, test_set, pre, cfg.batch_size), classes,
                           test_set.source)


def _unfreeze_top(model) -> None:
    """Second transfer stage: unfreeze the top block of the base, BatchNorm layers stay frozen."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):  # the ImageNet base
            layer.trainable = True
            prefix = next((p for k, p in FINE_TUNE_PREFIX.items() if k in layer.name), None)
            for sub in layer.layers:
                sub.trainable = bool(prefix and sub.name.startswith(prefix)) and not isinstance(
                    sub, keras.layers.BatchNormalization)
