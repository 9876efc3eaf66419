"""The one place that imports TensorFlow and Keras 2 (tf-keras).

tfmot 0.8.1 only accepts Keras 2 models, so ``TF_USE_LEGACY_KERAS=1`` must be set before
TensorFlow is first imported; every module of training/ and converters/ imports TF from here.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# quiet by default: without a GPU, TensorFlow logs cuInit failures as errors on every run; --verbose shows them
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if os.environ.get("EDGESIGN_VERBOSE") else "3")

import warnings  # noqa: E402

from edgesign.errors import MissingExtra  # noqa: E402

if not os.environ.get("EDGESIGN_VERBOSE"):  # the converter's "Statistics for quantized inputs ..." and the like
    warnings.filterwarnings("ignore", category=UserWarning, module=r"tensorflow\.lite")


def _import():
    from edgesign.interpreter import quiet_native_stderr

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
