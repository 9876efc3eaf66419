"""The training loop: pipeline, recipes, resume after a kill, class weights, distribution strategy."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import time

import numpy as np
import pytest
from conftest import E2E_SIZE, EDGESIGN, ROOT, run_cli

from edgesign.data import load_dataset
from edgesign.errors import EdgesignError
from edgesign.preprocess import Preprocess


def test_pipeline_shapes_scaling_and_augmentation(small_subset):
    from edgesign.training.augment import Augment
    from edgesign.training.pipeline import make_dataset

    pre = Preprocess(32, 32, 3)
    ds = load_dataset(small_subset, pre, progress=False)
    x, y = next(iter(make_dataset(ds, pre, 16, training=False)))
    assert x.shape == (16, 32, 32, 3) and y.shape == (16, 4)
    np.testing.assert_allclose(x.numpy(), ds.images[:16] / 255.0, atol=1e-6)  # same scaling as the device
    xa, _ = next(iter(make_dataset(ds, pre, 16, training=True, augment=Augment(cutout=0.3), seed=3)))
    assert 0.0 <= float(xa.numpy().min()) and float(xa.numpy().max()) <= 1.0
    assert Augment().flip is False  # handedness carries meaning


def test_recipe_expands_data_root(tmp_path):
    from edgesign.training.recipe import load_recipe

    r = load_recipe(ROOT / "models" / "asl29-resnet18.toml", data_root="/data", out=str(tmp_path / "o"))
    assert r.train.data == "/data/asl-photos/train" and r.train.model == "resnet18"
    assert r.certify["max_drop"] <= 1.0
    bad = tmp_path / "bad.toml"
    bad.write_text('[train]\nmodel = "cnn"\ndata = "x"\nepochz = 3\n')
    with pytest.raises(EdgesignError, match="epochz"):
        load_recipe(bad)
    # values are checked as the command line's options are, before a run folder is made (epochs = 0 was a Keras
    # ValueError traceback after config.json was written; epochs = "many" trained until Keras choked on it)
    for line, said in (('epochs = 0', "epochs = 0: must be 1 or more"),
                       ('epochs = "many"', "epochs = 'many': give a whole number"),
                       ('epochs = 2.5', "give a whole number"), ('batch_size = true', "give a whole number"),
                       ('learning_rate = -0.1', "learning_rate = -0.1: must be positive"),
                       ('learning_rate = nan', "give a number"),
                       ('val_fraction = 1.0', "must be a fraction, above 0 and below 1"),
                       ('label_smoothing = 1.5', "must be a fraction, at least 0 and below 1"),
                       ('patience = -1', "must be 0 or more"), ('more_data = "y"', "give a list"),
                       ('augment = 3', "give a dict"), ('test_data = 7', "give a string")):
        bad.write_text(f'[train]\nmodel = "cnn"\ndata = "x"\n{line}\n')
        with pytest.raises(EdgesignError, match=re.escape(said)):
            load_recipe(bad)


def test_class_weights_balance_counts():
    from edgesign.data import Dataset
    from edgesign.training.train import _class_weights

    ds = Dataset(np.zeros((4, 1, 1, 1), np.uint8), np.array([0, 0, 0, 1]), ["a", "b"], "x")
    w = _class_weights(ds)
    assert w[1] == pytest.approx(3 * w[0])


def test_resume_after_kill(small_subset, tmp_path):
    run = tmp_path / "run"
    args = ["train", "cnn", "--data", str(small_subset), "--size", "32", "--epochs", "12", "--patience", "50",
            "--batch-size", "16", "-o", str(run)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen([*EDGESIGN, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            cwd=ROOT)
    history = run / "history.csv"
    deadline = time.time() + 300
    while time.time() < deadline:
        if history.exists() and len(history.read_text().splitlines()) >= 4:  # header + 3 epochs
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with history.open() as f:
        done = len(list(csv.DictReader(f)))
    assert 3 <= done < 12, done
    again = run_cli(*args)
    assert again.returncode == 2 and "--resume" in again.stderr  # a run is never silently overwritten
    r = run_cli(*args, "--resume")
    assert r.returncode == 0, r.stderr[-2000:]
    with history.open() as f:
        epochs = [int(row["epoch"]) for row in csv.DictReader(f)]
    assert epochs[-1] == 11 and len(epochs) <= 12 + 1  # continued, not restarted
    assert f"epoch {done + 1}/12" in r.stderr or f"epoch {done}/12" in r.stderr
    assert (run / "model.keras").exists()


def test_resume_after_a_kill_during_the_final_save(small_subset, tmp_path):
    """Killed after the last epoch, while model.keras was being written: --resume saves, it does not retrain."""
    run = tmp_path / "run"
    args = ["train", "cnn", "--data", str(small_subset), "--size", "32", "--epochs", "2", "--batch-size", "16",
            "-o", str(run)]
    assert run_cli(*args).returncode == 0
    rows = (run / "history.csv").read_text()
    for name in ("model.keras", "summary.json", "learning_curves.png"):  # what the save had not written yet
        (run / name).unlink()
    r = run_cli(*args, "--resume")
    assert r.returncode == 0 and "resuming after the fit" in r.stderr, r.stderr[-2000:]
    assert (run / "history.csv").read_text() == rows and (run / "model.keras").exists()
    assert json.loads((run / "summary.json").read_text())["epochs_run"] == 2


def test_strategy_selection():
    from edgesign.training.tf_env import tf
    from edgesign.training.train import get_strategy

    assert get_strategy("none").num_replicas_in_sync == 1
    assert isinstance(get_strategy("mirrored"), tf.distribute.MirroredStrategy)
    with pytest.raises(EdgesignError):
        get_strategy("ring")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_multiworker_two_local_cpu_workers(small_subset, tmp_path):
    """MultiWorkerMirroredStrategy with TF_CONFIG: two worker processes on this machine train one model."""
    import json

    ports = [_free_port(), _free_port()]
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    run = tmp_path / "mw"
    procs = []
    for i in range(2):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
               "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})}
        procs.append(subprocess.Popen(
            [*EDGESIGN, "train", "cnn", "--data", str(small_subset), "--size", "32", "--epochs", "2",
             "--batch-size", "16", "-o", str(run)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env, cwd=ROOT))
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    assert "2 replica(s)" in outs[0][1]
    assert (run / "model.keras").exists() and (run / ".worker1").is_dir()
    with (run / "history.csv").open() as f:
        last = list(csv.DictReader(f))[-1]
    peak = json.loads((run / "config.json").read_text())["train"]["learning_rate"]
    # the warm-up and cosine count global steps (32 images): the last of 2 x 5 steps runs at about 0.1 x the peak;
    # counted in one replica's 16 images (9 a epoch), the warm-up alone lasted the whole run and it ran at the peak
    assert float(last["lr"]) < 0.3 * peak, (last, peak)


def test_transfer_model_two_stage_training_with_local_weights(small_subset, tmp_path):
    """Head on the frozen base, then the top block unfrozen; ImageNet bases use caffe preprocessing."""
    import json

    from edgesign.training.run import load_keras_model
    from edgesign.training.tf_env import keras

    weights = tmp_path / "vgg16_notop.weights.h5"
    keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3)).save_weights(weights)
    run = tmp_path / "vgg"
    r = run_cli("train", "vgg16-transfer", "--data", small_subset, "--size", "32", "--epochs", "1",
                "--fine-tune-epochs", "1", "--weights", weights, "--batch-size", "16", "-o", run)
    assert r.returncode == 0, r.stderr[-2000:]
    with (run / "history.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 2  # one head epoch + one fine-tune epoch
    config = json.loads((run / "config.json").read_text())
    assert config["preprocess"]["scaling"] == "caffe" and config["preprocess"]["bgr"] is True
    model = load_keras_model(run / "model.keras")
    base = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    original = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    original.load_weights(weights)

    def kernel(m, name):
        return m.get_layer(name).get_weights()[0]

    assert np.array_equal(kernel(base, "block1_conv1"), kernel(original, "block1_conv1"))  # stayed frozen
    head = sum(int(np.prod(w.shape)) for w in model.trainable_weights)  # the rebuilt model: base frozen
    block5 = sum(int(np.prod(w.shape)) for w in original.weights if w.name.startswith("block5"))
    assert f"fine-tuning with the top block unfrozen: {head + block5:,} trainable parameters" in r.stderr


def test_transfer_model_without_weights_trains_in_one_stage(small_subset, tmp_path):
    run = tmp_path / "vgg"  # (resnet50-transfer took 42 s here; the rule is the transfer spec's, not a model's)
    r = run_cli("train", "vgg16-transfer", "--data", small_subset, "--size", "32", "--epochs", "1",
                "--fine-tune-epochs", "1", "--weights", "none", "--batch-size", "32", "-o", run)
    assert r.returncode == 0, r.stderr[-2000:]
    with (run / "history.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 1  # the base trained with the head: no second stage
    assert "fine-tuning" not in r.stderr


def test_initial_weights_from_a_checkpoint_leave_its_optimizer_behind(e2e):
    """A TF checkpoint holds the optimizer's step: restored as is, a new schedule would start at its end."""
    from edgesign.training.models import load_weights_file
    from edgesign.training.registry import create_model
    from edgesign.training.tf_env import keras

    model = create_model("cnn", (E2E_SIZE, E2E_SIZE, 3), 29)
    load_weights_file(model, str(e2e["run"] / "best.ckpt"))
    trained = keras.models.load_model(e2e["run"] / "model.keras", compile=False)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), trained.get_weights()))
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss="categorical_crossentropy")
    model.optimizer.build(model.trainable_variables)
    assert int(model.optimizer.iterations.numpy()) == 0
    with pytest.raises(EdgesignError, match="not found"):
        load_weights_file(model, str(e2e["run"] / "nothing.ckpt"))


def test_background_swap_keeps_the_centre_and_swaps_the_border():
    from edgesign.training.pipeline import _background_swap
    from edgesign.training.tf_env import tf

    x = np.stack([np.full((20, 20, 3), 10.0 * (i + 1), np.float32) for i in range(6)])
    y = _background_swap(tf.constant(x), 1.0).numpy()
    np.testing.assert_array_equal(y[:, 10, 10], x[:, 10, 10])  # the hand stays
    corners = y[:, 0, 0, 0]
    assert set(corners.tolist()) <= set(x[:, 0, 0, 0].tolist())
    assert (corners != x[:, 0, 0, 0]).any()  # borders come from other images
    np.testing.assert_array_equal(_background_swap(tf.constant(x), 0.0).numpy(), x)


def test_a_long_epoch_shows_progress_in_a_log(capsys):
    """Not on a terminal (a log file), a training epoch says how far it is every `every` seconds, and at the
    end one epoch line; an epoch shorter than `every` prints only that line."""
    from edgesign.training.train import EpochLog

    log = EpochLog(1000, 3, batch_size=64, every=0.05)
    log.on_epoch_begin(1)
    for batch in range(16):
        time.sleep(0.01)
        log.on_train_batch_end(batch, {"loss": 1.5})
    log.on_epoch_end(1, {"loss": 1.5, "accuracy": 0.5, "val_loss": 1.6, "val_accuracy": 0.4})
    lines = capsys.readouterr().err.splitlines()
    within = [line for line in lines if line.startswith("epoch 2/3  ") and " img  " in line]
    assert 1 <= len(within) <= 16 and lines[-1].startswith("epoch 2/3  loss 1.5000"), lines
    done = [int(line.split()[2].split("/")[0]) for line in within]
    assert done == sorted(done) and all(0 < d <= 1000 for d in done) and "loss 1.5000" in within[0]

    quiet = EpochLog(1000, 3, batch_size=64)  # the default: a line a minute
    quiet.on_epoch_begin(0)
    for batch in range(16):
        quiet.on_train_batch_end(batch, {"loss": 1.0})
    quiet.on_epoch_end(0, {})
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_test_data_in_any_case_and_a_subset_of_the_classes(small_subset, tmp_path):
    """An image model's --test-data folders match its classes in any case and may hold some of them, as evaluate
    takes them (it was a class-mismatch error after the whole training)."""
    from conftest import link_photos

    held = tmp_path / "held"
    for name, folder in (("a", "A"), ("space", "Space")):
        link_photos(held / name, small_subset / folder, slice(30, 40))
    r = run_cli("train", "cnn", "--data", small_subset, "--test-data", held, "--size", "32", "--epochs", "1",
                "-o", tmp_path / "run")
    assert r.returncode == 0, r.stderr[-2000:]
    metrics = json.loads((tmp_path / "run" / "test_metrics.json").read_text())
    assert metrics["n"] == 20 and sorted(metrics["per_class_accuracy"]) == ["A", "Space"]
