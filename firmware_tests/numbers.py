"""The suite's numeric options, checked once before any test runs (``python -m`` and pytest's own command alike)."""

from __future__ import annotations


def number_problem(min_accuracy: str | float | None, max_latency_ms: str | float | None) -> str | None:
    """Why the accuracy floor (a fraction, as convert and benchmark take it: 90 for 90 % would fail every model) or
    the latency ceiling cannot be used; None when both can."""
    from edgesign.certify import checked_number, validate_floor
    from edgesign.errors import EdgesignError

    try:
        validate_floor(min_accuracy)
        checked_number(max_latency_ms, "--max-latency-ms", "a positive number of milliseconds", lambda v: v > 0)
    except EdgesignError as exc:
        return str(exc)
    return None
