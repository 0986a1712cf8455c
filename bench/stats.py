"""Summaries of measured samples. Pure."""

from __future__ import annotations

import statistics
from typing import Iterable


def percentile(values: Iterable[float], q: int) -> float | None:
    """The q-th percentile (1..99), linear between the closest ranks; None for no samples."""
    data = sorted(values)
    if not 1 <= q <= 99:
        raise ValueError(f"q must be between 1 and 99, got {q}")
    if not data:
        return None
    if len(data) == 1:
        return data[0]
    return statistics.quantiles(data, n=100, method="inclusive")[q - 1]


def summary(values: Iterable[float], scale: float = 1.0, digits: int = 1) -> dict[str, float | int | None]:
    """count, p50, p99 and max, each multiplied by `scale` (e.g. 1000 for seconds -> ms)."""
    data = sorted(values)

    def scaled(value: float | None) -> float | None:
        return None if value is None else round(value * scale, digits)

    return {"count": len(data), "p50": scaled(percentile(data, 50)), "p99": scaled(percentile(data, 99)),
            "max": scaled(data[-1] if data else None)}


def ratio(numerator: float | None, denominator: float | None, digits: int = 3) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, digits)
