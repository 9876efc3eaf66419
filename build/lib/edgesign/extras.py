"""Checks for optional extras, so a missing one ends in one line naming the install command."""

from __future__ import annotations

import importlib.util

from .errors import MissingExtra


def has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require_train(what: str) -> None:
    for module in ("tensorflow", "tf_keras"):
        if not has(module):
            raise MissingExtra(what, "train")
