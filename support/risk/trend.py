"""Trend helpers: an exponentially weighted moving average, its change, and an OLS slope.

The trend exists so that rising strain shows before it is high (research c.4). The EWMA damps
week-to-week noise; Δ = EWMA_t − EWMA_{t−k} says whether the smoothed index has moved by about
one band of a major driver; the OLS slope is only for display, in points per month.

Pure module: no Django imports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from .config import TrendSettings

RISING = "rising"
FALLING = "falling"
STEADY = "steady"
UNKNOWN = "unknown"

DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class TrendPoint:
    """R on one scoring day; None when too little was known that day to compute it."""

    on: date
    r: float | None


@dataclass(frozen=True)
class Trend:
    direction: str  # RISING | FALLING | STEADY | UNKNOWN
    delta: float | None  # EWMA_t - EWMA_(t-k), rounded to one decimal
    slope_per_month: float | None  # OLS over the last few points, for display only
    ewma: float | None
    points: tuple[TrendPoint, ...]  # oldest first


def ewma(values: Sequence[float], lam: float) -> list[float]:
    """EWMA_t = λ·x_t + (1 − λ)·EWMA_{t−1}, started at the first value (research c.4)."""
    if not 0 < lam <= 1:
        raise ValueError("lambda must lie in (0, 1]")
    out: list[float] = []
    for x in values:
        out.append(x if not out else lam * x + (1 - lam) * out[-1])
    return out


def ewma_delta(values: Sequence[float], lam: float, cycles: int) -> float | None:
    """EWMA now minus EWMA `cycles` reports earlier; None until there are enough reports."""
    if len(values) <= cycles:
        return None
    smoothed = ewma(values, lam)
    return smoothed[-1] - smoothed[-1 - cycles]


def ols_slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Least-squares slope of ys on xs; None with fewer than two distinct xs."""
    if len(xs) != len(ys):
        raise ValueError("xs and ys differ in length")
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def direction(delta: float | None, threshold: float) -> str:
    if delta is None:
        return UNKNOWN
    if delta >= threshold:
        return RISING
    if delta <= -threshold:
        return FALLING
    return STEADY


def summarise(points: Sequence[TrendPoint], settings: TrendSettings) -> Trend:
    """The trend of R over `points` (oldest first).

    Days without an R are skipped rather than filled: Δ is over the last k *reports*, as in the
    research, and inventing values for missing weeks would be the false reassurance the model
    card warns against.
    """
    known = [p for p in points if p.r is not None]
    values = [p.r for p in known]
    delta = ewma_delta(values, settings.ewma_lambda, settings.delta_cycles)  # type: ignore[arg-type]
    if delta is not None:
        # Compared as shown: the consultant sees one decimal, so the rule uses one decimal.
        delta = round(delta, 1)
    recent = known[-settings.slope_points:]
    slope = None
    if len(recent) >= 2:
        first = recent[0].on
        per_day = ols_slope([(p.on - first).days for p in recent], [p.r for p in recent])  # type: ignore[misc]
        slope = None if per_day is None else round(per_day * DAYS_PER_MONTH, 1)
    smoothed = ewma(values, settings.ewma_lambda)[-1] if values else None  # type: ignore[arg-type]
    return Trend(
        direction=direction(delta, settings.rising_delta),
        delta=delta,
        slope_per_month=slope,
        ewma=None if smoothed is None else round(smoothed, 1),
        points=tuple(points),
    )
