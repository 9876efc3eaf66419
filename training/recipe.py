"""Recipes: ``models/<name>.toml`` files that reproduce a shipped model.

``[train]`` holds :class:`TrainConfig` fields (``{data}`` expands to the data root, from
``--data-root`` or ``$EDGESIGN_DATA``); ``[certify]`` holds what the model is certified against
(test-accuracy floor, int8 drop budget) and ``[convert]`` how it is converted.
"""

from __future__ import annotations

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
    return Recipe(doc.get("name", p.stem), TrainConfig(**t), doc.get("certify", {}),
                  {k: expand(v) for k, v in doc.get("convert", {}).items()})
