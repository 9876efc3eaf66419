"""Acceptance checks of a deployed model on the device itself."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from edgesign.benchmark import time_calls_ms, workload
from edgesign.runtime import EdgeModel, open_model


@pytest.fixture(scope="module")
def model(option):
    """The deployed model: an image classifier, or a hand pipeline (hand stage + landmark classifier)."""
    return open_model(option("model"), device=option("device"))


def _is_pipeline(model) -> bool:
    return not isinstance(model, EdgeModel)


def test_runtime_has_no_tensorflow(model):
    assert "tensorflow" not in sys.modules, "the device runtime imported TensorFlow"


def test_model_is_certified(model):
    cert = model.certificate
    assert cert is not None, f"{model.path} carries no accuracy certificate (convert it with --eval)"
    assert cert["passed"], f"certificate says the budget was missed: {cert}"
    assert model.certificate_status != "MISMATCH", f"{model.path}: changed after certification (binding mismatch)"
    out = model.interpreter.get_output_details()[0]
    assert len(model.labels) == int(out["shape"][-1])


def test_output_is_a_distribution(model):
    rng = np.random.default_rng(0)
    from edgesign.pipeline import HandPipeline

    if isinstance(model, HandPipeline):  # a landmark classifier behind the hand stage
        from edgesign.handfeatures import N_FEATURES

        probs = model.classify_features(rng.normal(size=N_FEATURES).astype(np.float32))
    else:  # an image model, or a crop pipeline's image classifier
        pixels = rng.integers(0, 256, model.preprocess.shape, dtype=np.uint8)
        probs = model.classify_features(pixels) if _is_pipeline(model) else model.probabilities(pixels)
    assert probs.shape == (len(model.labels),) and np.isfinite(probs).all()
    assert abs(float(probs.sum()) - 1.0) < 0.02


def test_accuracy_on_device(model, option):
    data = option("data")
    if not data:
        pytest.skip("no --data given")
    from edgesign.api import evaluate_model

    out = option("out")
    metrics, _ = evaluate_model(model, data, out_dir=out)
    cert = model.certificate or {}
    floor = option("min-accuracy")
    if floor:
        assert metrics.accuracy >= float(floor), f"accuracy {metrics.accuracy:.4f} below {floor}"
    if _is_pipeline(model):
        from edgesign.api import pipeline_data

        digest = pipeline_data(model.labels, data).digest()
    else:
        from edgesign.data import load_dataset

        digest = load_dataset(data, model.preprocess, progress=False).digest
    if cert.get("data_digest") == digest:
        # the very data the model was certified on: the device must reproduce the certificate (a personal file's is
        # its base model's: measured without the user's head and hand)
        if getattr(model, "personal", None) is not None:
            metrics, _ = evaluate_model(model.base_only(), data, out_dir=os.path.join(out, "base"))
        assert abs(metrics.accuracy - cert["quantized_accuracy"]) <= 0.005, (
            f"device accuracy {metrics.accuracy:.4f} differs from the certified {cert['quantized_accuracy']:.4f}")


def test_latency(model, option):
    """p50 through the benchmark's own loop: one invoke, or for a hand pipeline a whole still image (hand stage +
    classifier) on the first photo of --edgesign-data."""
    ms = time_calls_ms(workload(model, option("data")).call, runs=50, warmup=5)
    p50 = float(np.median(ms))
    assert p50 <= float(option("max-latency-ms")), f"p50 latency {p50:.2f} ms"


@pytest.mark.device
def test_camera_delivers_frames(model, option):
    spec = option("camera")
    if not spec:
        pytest.skip("no --camera given")
    from edgesign.sources import camera_frames

    n = 0
    for frame in camera_frames(spec):
        probs = model.classify_frame(frame.image)
        assert np.isfinite(probs).all()
        n += 1
        if n == 30:
            break
    assert n == 30
