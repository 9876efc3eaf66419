"""Augmentation options: what the training pipeline (and a pruning or QAT fine-tune) applies to batches.

Plain data, no TensorFlow: a conversion reads a run's options without importing the training pipeline.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Augment:
    """Random transforms applied to training batches. Horizontal flip is off by default:
    handedness carries meaning in signs."""

    rotation: float = 0.05  # fraction of a full turn
    zoom: float = 0.15
    shift: float = 0.1
    brightness: float = 0.3
    contrast: float = 0.3
    saturation: float = 0.3  # RGB only
    hue: float = 0.05  # RGB only
    cutout: float = 0.0  # side of a random erased square, as a fraction of the image side
    # Background swap: with this probability, everything outside a central box (55-80 % of each
    # side) is replaced by the same region of another image of the batch. Signs are photographed
    # hand-centred; this breaks the link between a class and the backgrounds it was shot against.
    bgswap: float = 0.0
    flip: bool = False

    @classmethod
    def none(cls) -> Augment:
        """No augmentation at all (``--augment none``)."""
        return cls(**{name: 0.0 for name in cls.__dataclass_fields__ if name != "flip"}, flip=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Augment:
        if d is None:
            return cls()
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            from edgesign.errors import EdgesignError

            raise EdgesignError(f"unknown augmentation option(s): {', '.join(sorted(unknown))}")
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
