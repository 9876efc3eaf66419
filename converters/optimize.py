"""Pruning and quantization-aware training (tfmot) on tf-keras models, as short fine-tunes."""

from __future__ import annotations

import sys

from edgesign.data import Dataset
from edgesign.errors import EdgesignError
from edgesign.preprocess import Preprocess
from edgesign.training.augment import Augment
from edgesign.training.pipeline import make_dataset
from edgesign.training.tf_env import keras, tfmot


def _copy(model):
    """A copy with its own weights: tfmot wraps the original layer objects, so fine-tuning the wrapped
    model would otherwise change the float model the gate compares against."""
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def _check_flat(model) -> None:
    if any(isinstance(layer, keras.Model) for layer in model.layers):
        raise EdgesignError(f"{model.name} nests a base model (transfer model): pruning and QAT need a flat model")


def _fit(model, train: Dataset, pre: Preprocess, epochs: int, lr: float, callbacks=(), batch_size: int = 64,
         augment: Augment | None = None):
    data = make_dataset(train, pre, batch_size, training=True, augment=augment or Augment(), seed=1)
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=keras.losses.CategoricalCrossentropy(),
                  metrics=["accuracy"])
    print(f"fine-tuning {epochs} epoch(s) on {len(train)} images", file=sys.stderr)
    model.fit(data, epochs=epochs, callbacks=list(callbacks), verbose=1 if sys.stderr.isatty() else 2)
    return model


def prune(model, train: Dataset, pre: Preprocess, sparsity: float, epochs: int = 2, lr: float = 1e-4,
          augment: Augment | None = None):
    """Magnitude pruning to ``sparsity`` with a polynomial-decay schedule, then strip the wrappers.

    ``augment``: the augmentation the model was trained with (a fine-tune without it, background swap
    above all, unlearns the robustness it gave)."""
    if not 0.0 < sparsity < 1.0:
        raise EdgesignError(f"--prune must be a sparsity between 0 and 1, got {sparsity}")
    _check_flat(model)
    model = _copy(model)
    mot = tfmot()
    steps = -(-len(train) // 64) * epochs
    schedule = mot.sparsity.keras.PolynomialDecay(initial_sparsity=0.0, final_sparsity=sparsity, begin_step=0,
                                                  end_step=max(1, int(steps * 0.7)), frequency=max(1, steps // 20))
    pruned = mot.sparsity.keras.prune_low_magnitude(model, pruning_schedule=schedule)
    _fit(pruned, train, pre, epochs, lr, [mot.sparsity.keras.UpdatePruningStep()], augment=augment)
    return mot.sparsity.keras.strip_pruning(pruned)


def quantize_aware(model, train: Dataset, pre: Preprocess, epochs: int = 2, lr: float = 1e-5,
                   preserve_sparsity: bool = False, augment: Augment | None = None):
    """QAT fine-tune; with ``preserve_sparsity`` the prune-preserving scheme keeps the zeros."""
    _check_flat(model)
    model = _copy(model)
    mot = tfmot()
    try:
        if preserve_sparsity:
            annotated = mot.quantization.keras.quantize_annotate_model(model)
            qat = mot.quantization.keras.quantize_apply(
                annotated, mot.experimental.combine.Default8BitPrunePreserveQuantizeScheme())
        else:
            qat = mot.quantization.keras.quantize_model(model)
    except (ValueError, RuntimeError) as exc:
        raise EdgesignError(f"QAT does not support this model: {str(exc).splitlines()[0][:200]}") from None
    return _fit(qat, train, pre, epochs, lr, augment=augment)
