"""Errors a user can cause and fix. The CLI prints their message on one line and exits non-zero."""

from __future__ import annotations


class EdgesignError(Exception):
    """A problem with the user's input (a path, a file, an option), not a bug in edgesign."""

    exit_code = 2


class GateFailed(EdgesignError):
    """A quantized model missed its accuracy budget: the check users gate CI on."""

    exit_code = 1


class MissingExtra(EdgesignError):
    """A command needs an optional dependency that is not installed."""

    def __init__(self, what: str, extra: str, package: str = "edgesign") -> None:
        super().__init__(f"{what} needs the '{extra}' extra: pip install '{package}[{extra}]' "
                         f"(from a clone: pip install -e '.[{extra}]')")
