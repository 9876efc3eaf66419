"""Recipes: ``models/<name>.toml`` files that reproduce a shipped model.

``[train]`` holds :class:`TrainConfig` fields (``{data}`` expands to the data root, from
``--data-root`` or ``$EDGESIGN_DATA``); ``[certify]`` holds what the model is certified against
(test-accuracy floor, int8 drop budget) and ``[convert]`` how it is converted.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgesign.errors import EdgesignError

from .train import TrainConfig

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib  # type: ignore[no-redef]


@dataclass
class Recipe:
    name: str
    train: TrainConfig
    certify: dict[str, Any] = field(default_factory=dict)
    convert: dict[str, Any] = field(default_factory=dict)


# What each number of [train] may be (the command line's options check the same before a training starts)
_AT_LEAST = {"epochs": 1, "batch_size": 1, "input_size": 1, "patience": 0, "warmup_epochs": 0, "fine_tune_epochs": 0,
             "seed": 0, "weight_decay": 0.0}
_POSITIVE = ("learning_rate", "fine_tune_lr")
_FRACTION = {"label_smoothing": (0.0, False), "val_fraction": (0.0, True)}  # (low, low excluded); below 1 both


def _value_problem(key: str, value: Any) -> str | None:
    """Why ``value`` cannot be :class:`TrainConfig`'s ``key`` (a recipe is read as written, never coerced)."""
    kind = TrainConfig.__dataclass_fields__[key].type.replace(" | None", "")
    if value is None and kind != TrainConfig.__dataclass_fields__[key].type:
        return None
    if kind == "int" and not (isinstance(value, int) and not isinstance(value, bool)):
        return "give a whole number"
    if kind == "float" and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                and math.isfinite(value)):
        return "give a number"
    expected = {"bool": bool, "str": str, "list[str]": list}.get(kind) or (dict if kind.startswith("dict") else None)
    if expected and not isinstance(value, expected):
        return f"give a {expected.__name__}" if expected is not str else "give a string"
    if key in _AT_LEAST and value < _AT_LEAST[key]:
        return f"must be {_AT_LEAST[key]} or more"
    if key in _POSITIVE and value <= 0:
        return "must be positive"
    if key in _FRACTION:
        low, excluded = _FRACTION[key]
        if not (low < value < 1 if excluded else low <= value < 1):
            return f"must be a fraction, {'above' if excluded else 'at least'} {low:g} and below 1"
    return None


def default_data_root() -> str:
    return os.environ.get("EDGESIGN_DATA", "../shared/data")


def load_recipe(path: str | os.PathLike, data_root: str | None = None, out: str | None = None) -> Recipe:
    p = Path(path)
    if not p.exists():
        raise EdgesignError(f"recipe not found: {p}")
    try:
        doc = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise EdgesignError(f"recipe {p} is not valid TOML: {exc}") from None
    root = data_root or default_data_root()

    def expand(v: Any) -> Any:
        if isinstance(v, list):
            return [expand(x) for x in v]
        return v.replace("{data}", root) if isinstance(v, str) else v

    t = {k: expand(v) for k, v in doc.get("train", {}).items()}
    t["out"] = out or t.get("out") or f"runs/{p.stem}"
    t["recipe"] = p.name
    unknown = set(t) - set(TrainConfig.__dataclass_fields__)
    if unknown:
        raise EdgesignError(f"recipe {p}: unknown [train] key(s): {', '.join(sorted(unknown))}")
    if "model" not in t or "data" not in t:
        raise EdgesignError(f"recipe {p}: [train] needs 'model' and 'data'")
    for key, value in t.items():
        problem = _value_problem(key, value)
        if problem:
            raise EdgesignError(f"recipe {p}: [train] {key} = {value!r}: {problem}")
    return Recipe(doc.get("name", p.stem), TrainConfig(**t), doc.get("certify", {}),
                  {k: expand(v) for k, v in doc.get("convert", {}).items()})
