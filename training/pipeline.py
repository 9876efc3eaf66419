"""The tf.data input pipeline: cached uint8 images -> shuffle -> batch -> augment -> scale -> prefetch.

Images are decoded and resized once by :mod:`edgesign.data` (the device's own code), so training,
calibration and the device see identical pixels. Augmentation runs here, in the pipeline, never
inside the model graph that is later quantized.
"""

from __future__ import annotations

import numpy as np

from edgesign.data import Dataset
from edgesign.preprocess import Preprocess

from .augment import Augment
from .tf_env import keras, tf


def _augment_layers(aug: Augment, seed: int) -> list:
    L = keras.layers
    layers = []
    if aug.flip:
        layers.append(L.RandomFlip("horizontal", seed=seed))
    if aug.rotation:
        layers.append(L.RandomRotation(aug.rotation, fill_mode="reflect", seed=seed + 1))
    if aug.zoom:
        layers.append(L.RandomZoom((-aug.zoom, aug.zoom), fill_mode="reflect", seed=seed + 2))
    if aug.shift:
        layers.append(L.RandomTranslation(aug.shift, aug.shift, fill_mode="reflect", seed=seed + 3))
    if aug.brightness:
        layers.append(L.RandomBrightness(aug.brightness, value_range=(0, 255), seed=seed + 4))
    if aug.contrast:
        layers.append(L.RandomContrast(aug.contrast, seed=seed + 5))
    return layers


def _cutout(x, frac: float):
    """Erase one random square per image (fills with the image mean) in a batch of NHWC floats."""
    shape = tf.shape(x)
    n, h, w = shape[0], shape[1], shape[2]
    side = tf.cast(tf.cast(tf.minimum(h, w), tf.float32) * frac, tf.int32)
    cy = tf.random.uniform([n, 1, 1], 0, h, tf.int32)
    cx = tf.random.uniform([n, 1, 1], 0, w, tf.int32)
    ys = tf.range(h)[None, :, None]
    xs = tf.range(w)[None, None, :]
    inside = (tf.abs(ys - cy) <= side // 2) & (tf.abs(xs - cx) <= side // 2)
    mean = tf.reduce_mean(x, axis=[1, 2], keepdims=True)
    return tf.where(inside[..., None], mean, x)


def _background_swap(x, prob: float):
    """Replace the outside of a random central box with another batch image's pixels (label kept)."""
    shape = tf.shape(x)
    n, h, w = shape[0], shape[1], shape[2]
    frac = tf.random.uniform([n, 1, 1], 0.55, 0.8)
    cy = 0.5 + tf.random.uniform([n, 1, 1], -0.08, 0.08)
    cx = 0.5 + tf.random.uniform([n, 1, 1], -0.08, 0.08)
    ys = (tf.cast(tf.range(h), tf.float32)[None, :, None] + 0.5) / tf.cast(h, tf.float32)
    xs = (tf.cast(tf.range(w), tf.float32)[None, None, :] + 0.5) / tf.cast(w, tf.float32)
    inside = (tf.abs(ys - cy) <= frac / 2) & (tf.abs(xs - cx) <= frac / 2)
    apply = tf.random.uniform([n, 1, 1]) < prob
    other = tf.gather(x, tf.random.shuffle(tf.range(n)))
    return tf.where((apply & ~inside)[..., None], other, x)


def make_augmenter(aug: Augment, channels: int, seed: int = 0):
    """A function from a float32 batch of pixels in [0, 255] to an augmented batch."""
    layers = _augment_layers(aug, seed)

    def apply(x):
        for layer in layers:
            x = layer(x, training=True)
        if channels == 3 and aug.saturation:
            x = tf.image.random_saturation(x / 255.0, 1 - aug.saturation, 1 + aug.saturation) * 255.0
        if channels == 3 and aug.hue:
            x = tf.image.random_hue(x / 255.0, aug.hue) * 255.0
        if aug.bgswap:
            x = _background_swap(x, aug.bgswap)
        if aug.cutout:
            x = _cutout(x, aug.cutout)
        return tf.clip_by_value(x, 0.0, 255.0)

    return apply


def make_dataset(ds: Dataset, pre: Preprocess, batch_size: int, *, training: bool,
                 augment: Augment | None = None, seed: int = 0, one_hot: bool = True):
    """A tf.data pipeline over a :class:`Dataset` that yields (preprocessed images, labels)."""
    a, b = (tf.constant(v) for v in pre.affine())
    num_classes = len(ds.class_names)
    # The decoded images stay in memory as uint8 (a quarter of float32 arrays); what is shuffled and
    # batched are indices, and each batch is one gather: no per-image elements, no shuffle buffer of
    # images, and scaling and augmentation run on whole batches in parallel with the training step.
    images, labels = tf.constant(ds.images), tf.constant(ds.labels.astype(np.int32))
    data = tf.data.Dataset.range(len(ds))
    if training:
        data = data.shuffle(len(ds), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size, drop_remainder=False)
    augmenter = make_augmenter(augment, pre.channels, seed) if (training and augment) else None

    def to_model_input(index):
        x, y = tf.cast(tf.gather(images, index), tf.float32), tf.gather(labels, index)
        if augmenter is not None:
            x = augmenter(x)
        if pre.bgr:
            x = x[..., ::-1]
        x = x * a + b
        return x, (tf.one_hot(y, num_classes) if one_hot else y)

    data = data.map(to_model_input, num_parallel_calls=tf.data.AUTOTUNE, deterministic=not training)
    return data.prefetch(tf.data.AUTOTUNE)
