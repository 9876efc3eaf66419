"""Training: datasets to tf.data, the model registry and the training loop (needs the 'train' extra)."""

from . import models  # noqa: E402,F401  (registers the builders; imports no TensorFlow)
from .registry import ModelSpec, create_model, get_spec, list_models, register_model

__all__ = ["ModelSpec", "create_model", "get_spec", "list_models", "register_model"]
