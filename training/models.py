"""The five model families of edgesign, built with tf-keras so pruning and QAT work on them.

Every builder takes ``(input_shape, num_classes, **options)`` and returns an uncompiled model
whose input is the preprocessed image (see :mod:`edgesign.preprocess`): no rescaling or
augmentation layers inside, so the graph that gets quantized is only the network.
"""

from __future__ import annotations

import os

from edgesign.errors import EdgesignError

from .registry import register_model


def _k():
    from .tf_env import keras

    return keras


def _head_softmax(x, num_classes: int):
    # float32 output even under mixed precision (a float16 softmax loses accuracy)
    return _k().layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(x)


# ---------------------------------------------------------------- ResNet-18 (sign-language seed)

def _padded_stem(x):
    """3-pixel zero padding, 7x7 stride-2 conv with 64 filters, BN, ReLU (both seeds' stem)."""
    L = _k().layers
    x = L.ZeroPadding2D(3, name="stem_pad")(x)
    x = L.Conv2D(64, 7, strides=2, name="stem_conv")(x)
    x = L.BatchNormalization(name="stem_bn")(x)
    return L.ReLU(name="stem_relu")(x)


def _seed_conv_block(x, filters: int, stage: int):
    L = _k().layers
    shortcut = L.Conv2D(filters, 3, strides=2, padding="same", name=f"s{stage}_proj")(x)
    shortcut = L.BatchNormalization(name=f"s{stage}_proj_bn")(shortcut)
    x = L.Conv2D(filters, 3, strides=2, padding="same", name=f"s{stage}a_conv1")(x)
    x = L.BatchNormalization(name=f"s{stage}a_bn1")(x)
    x = L.ReLU(name=f"s{stage}a_relu1")(x)
    x = L.Conv2D(filters, 3, padding="same", name=f"s{stage}a_conv2")(x)
    x = L.BatchNormalization(name=f"s{stage}a_bn2")(x)
    x = L.Add(name=f"s{stage}a_add")([x, shortcut])
    return L.ReLU(name=f"s{stage}a_out")(x)


def _basic_identity_block(x, filters: int, name: str):
    L = _k().layers
    y = L.Conv2D(filters, 3, padding="same", name=f"{name}_conv1")(x)
    y = L.BatchNormalization(name=f"{name}_bn1")(y)
    y = L.ReLU(name=f"{name}_relu1")(y)
    y = L.Conv2D(filters, 3, padding="same", name=f"{name}_conv2")(y)
    y = L.BatchNormalization(name=f"{name}_bn2")(y)
    y = L.Add(name=f"{name}_add")([y, x])
    return L.ReLU(name=f"{name}_out")(y)


@register_model("resnet18", default_size=64, default_channels=3, min_size=28)
def resnet18(input_shape, num_classes: int, dropout: float = 0.0):
    """ResNet-18 of the sign-language seed: 3-px padding, 7x7/2 stem, no max-pool, stride-2 stages, Flatten."""
    keras = _k()
    L = keras.layers
    inp = keras.Input(input_shape, name="image")
    x = _padded_stem(inp)
    for stage, filters in enumerate((64, 128, 256, 512), start=1):
        x = _seed_conv_block(x, filters, stage)
        x = _basic_identity_block(x, filters, f"s{stage}b")
    x = L.Flatten(name="flatten")(x)
    if dropout:
        x = L.Dropout(dropout, name="dropout")(x)
    return keras.Model(inp, _head_softmax(x, num_classes), name="resnet18")


@register_model("resnet18-standard", default_size=96, default_channels=3, min_size=32)
def resnet18_standard(input_shape, num_classes: int, dropout: float = 0.0):
    """Standard ResNet-18: 7x7/2 stem + 3x3/2 max-pool, 1x1 projection shortcuts, global average pooling."""
    keras = _k()
    L = keras.layers
    inp = keras.Input(input_shape, name="image")
    x = L.Conv2D(64, 7, strides=2, padding="same", name="stem_conv")(inp)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.ReLU(name="stem_relu")(x)
    x = L.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    for stage, filters in enumerate((64, 128, 256, 512), start=1):
        stride = 1 if stage == 1 else 2
        name = f"s{stage}a"
        if stride == 1:
            x = _basic_identity_block(x, filters, name)
        else:
            sc = L.Conv2D(filters, 1, strides=stride, name=f"{name}_proj")(x)
            sc = L.BatchNormalization(name=f"{name}_proj_bn")(sc)
            y = L.Conv2D(filters, 3, strides=stride, padding="same", name=f"{name}_conv1")(x)
            y = L.BatchNormalization(name=f"{name}_bn1")(y)
            y = L.ReLU(name=f"{name}_relu1")(y)
            y = L.Conv2D(filters, 3, padding="same", name=f"{name}_conv2")(y)
            y = L.BatchNormalization(name=f"{name}_bn2")(y)
            x = L.ReLU(name=f"{name}_out")(L.Add(name=f"{name}_add")([y, sc]))
        x = _basic_identity_block(x, filters, f"s{stage}b")
    x = L.GlobalAveragePooling2D(name="gap")(x)
    if dropout:
        x = L.Dropout(dropout, name="dropout")(x)
    return keras.Model(inp, _head_softmax(x, num_classes), name="resnet18_standard")


# ---------------------------------------------------------------- ResNet-50 (SIGNS seed)

def _bottleneck(x, filters: tuple[int, int, int], stride: int, project: bool, name: str):
    L = _k().layers
    f1, f2, f3 = filters
    sc = x
    if project:
        sc = L.Conv2D(f3, 1, strides=stride, name=f"{name}_proj")(x)
        sc = L.BatchNormalization(name=f"{name}_proj_bn")(sc)
    y = L.Conv2D(f1, 1, strides=stride, name=f"{name}_conv1")(x)
    y = L.BatchNormalization(name=f"{name}_bn1")(y)
    y = L.ReLU(name=f"{name}_relu1")(y)
    y = L.Conv2D(f2, 3, padding="same", name=f"{name}_conv2")(y)
    y = L.BatchNormalization(name=f"{name}_bn2")(y)
    y = L.ReLU(name=f"{name}_relu2")(y)
    y = L.Conv2D(f3, 1, name=f"{name}_conv3")(y)
    y = L.BatchNormalization(name=f"{name}_bn3")(y)
    return L.ReLU(name=f"{name}_out")(L.Add(name=f"{name}_add")([y, sc]))


@register_model("resnet50", default_size=64, default_channels=3, min_size=32)
def resnet50(input_shape, num_classes: int, dropout: float = 0.0):
    """ResNet-50 of the SIGNS seed: bottleneck stages x3/x4/x6/x3, 7x7/2 stem + 3x3/2 max-pool, average pool."""
    keras = _k()
    L = keras.layers
    inp = keras.Input(input_shape, name="image")
    x = _padded_stem(inp)
    x = L.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    stages = [((64, 64, 256), 3), ((128, 128, 512), 4), ((256, 256, 1024), 6), ((512, 512, 2048), 3)]
    for s, (filters, blocks) in enumerate(stages, start=2):
        for b in range(blocks):
            stride = (1 if s == 2 else 2) if b == 0 else 1
            x = _bottleneck(x, filters, stride, project=(b == 0), name=f"s{s}{chr(ord('a') + b)}")
    x = L.GlobalAveragePooling2D(name="avg_pool")(x)
    if dropout:
        x = L.Dropout(dropout, name="dropout")(x)
    return keras.Model(inp, _head_softmax(x, num_classes), name="resnet50")


# ---------------------------------------------------------------- transfer models

def pretrained(weights: str | None) -> bool:
    """Whether a transfer model's ``weights`` option names pretrained weights ('imagenet' or a file)."""
    return weights not in (None, "none", "")


def _imagenet_base(app, input_shape, weights: str | None, freeze: bool | None):
    """A Keras application without its top; weights 'imagenet', None/'none' or a local file.

    A pretrained base is frozen (and its BatchNorm layers run in inference mode, see ``_call_base``);
    without weights there is nothing to preserve, so the base trains from scratch with the head.
    ``freeze`` overrides that (a trained model is rebuilt without weights but as it was trained).
    """
    w = weights if pretrained(weights) else None
    local = w not in (None, "imagenet")
    try:
        base = app(include_top=False, weights=None if local else w, input_shape=input_shape)
    except Exception as exc:  # Keras' get_file raises a bare Exception when the download fails
        if "URL fetch failure" not in str(exc):
            raise
        raise EdgesignError(f"the ImageNet weights of {app.__name__} could not be downloaded (no network here?): "
                            "put Keras' file in ~/.keras/models, or pass --weights FILE, or --weights none to "
                            "train the base from scratch") from None
    if local:
        load_weights_file(base, w)
    base.trainable = not (pretrained(weights) if freeze is None else freeze)
    return base


def load_weights_file(model, path: str) -> None:
    """Load a weights file (.weights.h5, .keras, .h5) or a TF checkpoint prefix into ``model``.

    A file that is missing or does not fit the architecture is a one-line error.
    """
    keras = _k()
    if not (os.path.exists(path) or os.path.exists(f"{path}.index")):  # a file, or a TF checkpoint prefix
        raise EdgesignError(f"weights file not found: {path}")
    try:
        if os.path.exists(f"{path}.index"):
            # A TF checkpoint also holds its optimizer (step count included); restored into the model
            # itself, that state would be applied to the new optimizer and skip its schedule. Restore
            # into a twin and copy the weights only.
            twin = keras.models.clone_model(model)
            twin.load_weights(path).expect_partial()
            model.set_weights(twin.get_weights())
        else:
            model.load_weights(path)
    except Exception as exc:  # h5py, Keras and TF raise ValueError, OSError, KeyError or OpError here
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise EdgesignError(f"weights file {path} does not fit {model.name}: {first}") from None


def _call_base(base, inp):
    """A frozen pretrained base runs in inference mode; one trained from scratch updates its BatchNorm."""
    return base(inp) if base.trainable else base(inp, training=False)


# Seed head: over 200 M parameters at 224x224 (Flatten of 7x7x512 = 25,088 -> 8,192 alone is 205 M).
VGG_HEADS = ("gap", "seed")


@register_model("vgg16-transfer", default_size=128, default_channels=3, scaling="caffe", min_size=32,
                transfer=True)
def vgg16_transfer(input_shape, num_classes: int, weights: str | None = "imagenet", head: str = "gap",
                   dense: int = 256, dropout: float = 0.5, freeze: bool | None = None):
    """VGG16 base (frozen, ImageNet weights) with a small head: global average pool, Dense, Dropout."""
    keras = _k()
    L = keras.layers
    if head not in VGG_HEADS:
        raise EdgesignError(f"unknown VGG16 head {head!r}: one of {', '.join(VGG_HEADS)}")
    base = _imagenet_base(keras.applications.VGG16, input_shape, weights, freeze)
    inp = keras.Input(input_shape, name="image")
    x = _call_base(base, inp)
    if head == "seed":
        x = L.Flatten(name="flatten")(x)
        x = L.Dense(8192, activation="relu", name="fc1")(x)
        x = L.Dropout(0.8, name="drop1")(x)
        x = L.Dense(4096, activation="relu", name="fc2")(x)
        x = L.Dropout(0.5, name="drop2")(x)
    else:
        x = L.GlobalAveragePooling2D(name="gap")(x)
        x = L.Dense(dense, activation="relu", name="fc")(x)
        x = L.Dropout(dropout, name="dropout")(x)
    return keras.Model(inp, _head_softmax(x, num_classes), name=f"vgg16_transfer_{head}")


@register_model("resnet50-transfer", default_size=128, default_channels=3, scaling="caffe", min_size=32,
                transfer=True)
def resnet50_transfer(input_shape, num_classes: int, weights: str | None = "imagenet", dense: int = 256,
                      dropout: float = 0.5, freeze: bool | None = None):
    """ResNet50 base (frozen, ImageNet weights) with a fully connected head."""
    keras = _k()
    L = keras.layers
    base = _imagenet_base(keras.applications.ResNet50, input_shape, weights, freeze)
    inp = keras.Input(input_shape, name="image")
    x = _call_base(base, inp)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dense(dense, activation="relu", name="fc")(x)
    x = L.Dropout(dropout, name="dropout")(x)
    return keras.Model(inp, _head_softmax(x, num_classes), name="resnet50_transfer")


# Layers unfrozen in the second stage of transfer training (the top block of each base).
FINE_TUNE_PREFIX = {"vgg16": "block5", "resnet50": "conv5"}


# ---------------------------------------------------------------- small CNN baseline

@register_model("cnn", default_size=64, default_channels=3, min_size=28)
def cnn(input_shape, num_classes: int, dropout: float = 0.5):
    """Small CNN baseline of the tutorial seed: conv/pool pairs (32, 64, 128 filters), Dense 128, Dropout."""
    keras = _k()
    L = keras.layers
    inp = keras.Input(input_shape, name="image")
    x = inp
    for i, filters in enumerate((32, 64, 128), start=1):
        x = L.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}")(x)
        x = L.MaxPooling2D(2, name=f"pool{i}")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(128, activation="relu", name="fc")(x)
    x = L.Dropout(dropout, name="dropout")(x)
    return keras.Model(inp, _head_softmax(x, num_classes), name="cnn")


# ---------------------------------------------------------------- behind the hand stage

@register_model("landmark-mlp", default_size=0, default_channels=0, min_size=0, inputs="hand-landmarks")
def landmark_mlp(input_shape=None, num_classes: int = 29, hidden=(256, 128), dropout: float = 0.3):
    """MLP on hand-landmark features (wrist-centred, palm frame, thumb and tip distances, joint angles)."""
    from .landmarks import build_mlp

    return build_mlp(num_classes, tuple(hidden), dropout)
