"""The suite's numeric options, checked once before any test runs (``python -m`` and pytest's own command alike)."""

from __future__ import annotations

import math


def number_problem(min_accuracy: str | float | None, max_latency_ms: str | float | None) -> str | None:
    """Why the accuracy floor (a fraction, as convert and benchmark take it: 90 for 90 % would fail every model) or
    the latency ceiling cannot be used; None when both can."""
    from edgesign.certify import validate_floor
    from edgesign.errors import EdgesignError

    try:
        validate_floor(min_accuracy)
    except EdgesignError as exc:
        return str(exc)
    if max_latency_ms is not None:
        try:
            ceiling = float(max_latency_ms)
        except ValueError:
            ceiling = math.nan
        if not (math.isfinite(ceiling) and ceiling > 0):
            return f"--max-latency-ms must be a positive number of milliseconds, got {max_latency_ms}"
    return None
