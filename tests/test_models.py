"""Every registered model gets the same checks: build, forward, one training step, save/load, TFLite (the two
ResNet-50s' TFLite conversion in the slow run)."""

from __future__ import annotations

import numpy as np
import pytest

from edgesign.data import load_dataset
from edgesign.errors import EdgesignError
from edgesign.runtime import EdgeModel
from edgesign.training import create_model, get_spec, list_models
from edgesign.training.run import _load_keras_archive
from edgesign.training.tf_env import keras, tf

SIZE = 32


@pytest.fixture(scope="module")
def batch(small_subset):
    names = list_models(inputs="image")
    pre = get_spec(names[0]).preprocess(SIZE, 3)
    ds = load_dataset(small_subset, pre, progress=False).stratified_sample(8)
    return ds


def _options(name, tmp_path):
    spec = get_spec(name)
    if not spec.transfer:
        return {}
    # A weights file the test makes itself: ImageNet weights cannot be downloaded here.
    base_app = keras.applications.VGG16 if name.startswith("vgg16") else keras.applications.ResNet50
    path = tmp_path / f"{name}_base.weights.h5"
    base_app(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3)).save_weights(path)
    return {"weights": str(path)}


# TFLite conversions of 33 s each on two cores: in the slow run only. Their layers are resnet18's (convolution, batch
# norm, add, ReLU, pooling) and, for the transfer base, vgg16-transfer's caffe preprocessing: converted by default.
SLOW_TO_CONVERT = {"resnet50", "resnet50-transfer"}


@pytest.mark.parametrize("name", list_models(inputs="image"))
def test_registered_model(name, batch, tmp_path):
    spec = get_spec(name)
    pre = spec.preprocess(SIZE, 3)
    model = create_model(name, pre.shape, 4, **_options(name, tmp_path))
    from edgesign.preprocess import normalize

    x = normalize(batch.images, pre)
    y = keras.utils.to_categorical(batch.labels, 4)
    out = model(x, training=False).numpy()
    assert out.shape == (8, 4) and np.isfinite(out).all()
    np.testing.assert_allclose(out.sum(1), 1, rtol=1e-4)

    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    trainable_before = [w.numpy().copy() for w in model.trainable_weights]
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    assert any(not np.allclose(a, w.numpy()) for a, w in zip(trainable_before, model.trainable_weights))

    path = tmp_path / "m.keras"
    model.save(path)
    again = _load_keras_archive(path)  # the loader convert uses, its quick path (tf-keras's took 100 s for resnet50)
    assert again is not None
    np.testing.assert_allclose(again(x, training=False).numpy(), model(x, training=False).numpy(), atol=1e-5)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_TO_CONVERT else n
                                  for n in list_models(inputs="image")])
def test_registered_model_converts_to_tflite(name, batch, tmp_path):
    from edgesign.preprocess import normalize

    pre = get_spec(name).preprocess(SIZE, 3)
    model = create_model(name, pre.shape, 4, **_options(name, tmp_path))
    x = normalize(batch.images, pre)
    content = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    tfl = tmp_path / "m.tflite"
    tfl.write_bytes(content)
    edge = EdgeModel(tfl, warn=False)
    got = edge.from_output(edge.invoke(x[:1].astype(np.float32)))
    np.testing.assert_allclose(got, model(x[:1], training=False).numpy()[0], atol=1e-4)


def test_seed_resnet18_layout():
    model = create_model("resnet18", (28, 28, 1), 24)
    names = [layer.name for layer in model.layers]
    assert "stem_pad" in names and not any("pool" in n for n in names) and "flatten" in names
    assert model.get_layer("stem_conv").kernel_size == (7, 7) and model.get_layer("stem_conv").strides == (2, 2)
    assert model.get_layer("s1_proj").kernel_size == (3, 3) and model.get_layer("s1_proj").strides == (2, 2)
    assert [model.get_layer(f"s{i}a_conv1").filters for i in range(1, 5)] == [64, 128, 256, 512]


def test_resnet50_layout():
    model = create_model("resnet50", (64, 64, 3), 6)
    convs = [layer for layer in model.layers if layer.name.endswith("_conv3")]
    assert len(convs) == 16 and convs[-1].filters == 2048
    assert model.get_layer("s2a_conv1").strides == (1, 1) and model.get_layer("s3a_conv1").strides == (2, 2)


def test_vgg_seed_head_is_huge_and_named():
    model = create_model("vgg16-transfer", (224, 224, 3), 29, weights="none", head="seed")
    assert model.count_params() > 200_000_000
    small = create_model("vgg16-transfer", (224, 224, 3), 29, weights="none")
    assert small.count_params() < 16_000_000


def test_transfer_base_is_frozen_only_when_pretrained(tmp_path):
    """--weights none trains the whole network (a frozen random base would learn nothing)."""
    path = tmp_path / "r50.weights.h5"
    keras.applications.ResNet50(include_top=False, weights=None, input_shape=(32, 32, 3)).save_weights(path)

    def base(model):
        return next(layer for layer in model.layers if isinstance(layer, keras.Model))

    scratch = create_model("resnet50-transfer", (32, 32, 3), 4, weights="none")
    pretrained = create_model("resnet50-transfer", (32, 32, 3), 4, weights=str(path))
    rebuilt = create_model("resnet50-transfer", (32, 32, 3), 4, weights="none", freeze=True)
    assert base(scratch).trainable and not base(pretrained).trainable and not base(rebuilt).trainable
    head = 2048 * 256 + 256 + 256 * 4 + 4
    assert sum(int(np.prod(w.shape)) for w in pretrained.trainable_weights) == head
    assert sum(int(np.prod(w.shape)) for w in scratch.trainable_weights) > 23_000_000


def test_weights_that_do_not_fit(tmp_path):
    path = tmp_path / "vgg.weights.h5"
    keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3)).save_weights(path)
    with pytest.raises(EdgesignError, match="does not fit"):
        create_model("resnet50-transfer", (32, 32, 3), 4, weights=str(path))


def test_unknown_and_too_small():
    with pytest.raises(EdgesignError, match="did you mean resnet50"):
        get_spec("resnet5O")
    with pytest.raises(EdgesignError, match="too small"):
        create_model("resnet50", (16, 16, 3), 4)
    with pytest.raises(EdgesignError, match="3 channels"):
        get_spec("vgg16-transfer").preprocess(64, 1)
