"""The one place that imports TensorFlow and Keras 2 (tf-keras).

tfmot 0.8.1 only accepts Keras 2 models, so ``TF_USE_LEGACY_KERAS=1`` must be set before
TensorFlow is first imported; every module of training/ and converters/ imports TF from here.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from edgesign.errors import MissingExtra  # noqa: E402
from edgesign.interpreter import quiet_native_stderr, quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # before TensorFlow is first imported; --verbose shows its logs


def _import():
    try:
        with quiet_native_stderr():  # absl's "WARNING: All log messages before absl::InitializeLog() ..."
            import tensorflow as tf
            import tf_keras as keras
    except ImportError:
        raise MissingExtra("training and conversion", "train") from None
    return tf, keras


tf, keras = _import()


def tfmot():
    """tensorflow-model-optimization, imported on first use (it is slow to import)."""
    try:
        import tensorflow_model_optimization as mot
    except ImportError:
        raise MissingExtra("pruning and QAT", "train") from None
    return mot
