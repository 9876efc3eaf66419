"""Training: datasets to tf.data, the model registry and the training loop (needs the 'train' extra)."""

from .registry import ModelSpec, create_model, get_spec, list_models, register_model

__all__ = ["ModelSpec", "create_model", "get_spec", "list_models", "register_model"]
