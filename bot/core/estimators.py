"""Online estimators for the live quoter: volatility and order-arrival intensity.

Pure: every method takes the time ``t`` (seconds, any monotone clock) as an argument; no clock,
no I/O, no asyncio. Until an estimator is *warm* its ``value`` is ``None`` and the caller quotes with
the configured fallback parameters.

- :class:`EwmaVolatility`: sigma in price units per sqrt(second), from mid changes.
- :class:`IntensityEstimator`: (A, kappa) of ``lambda(delta) = A * exp(-kappa * delta)``, the rate at
  which market orders reach depth ``delta`` from the mid on one side, from a rolling window of trades,
  fitted with :func:`bot.core.calibration.fit_intensity` (maximum likelihood).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from bot.core.calibration import fit_intensity

LN2 = math.log(2.0)


@dataclass
class EwmaVolatility:
    """Time-weighted EWMA of squared mid changes per second.

    For consecutive observations ``(t0, m0), (t1, m1)`` with ``dt = t1 - t0 > 0`` the sample is
    ``(m1 - m0)**2 / dt`` (a variance rate, price^2 per second) and the estimate moves towards it with
    weight ``w = 1 - 2**(-dt / halflife)``; the first sample initialises it. ``sigma = sqrt(var)``.
    Observations with ``dt <= 0`` are ignored (the first one at a timestamp wins).
    Warm after ``min_samples`` samples.
    """

    halflife: float = 30.0
    min_samples: int = 20
    var: float = 0.0
    samples: int = 0
    _last_t: float | None = field(default=None, repr=False)
    _last_mid: float | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.halflife <= 0:
            raise ValueError("halflife must be > 0")
        if self.min_samples < 1:
            raise ValueError("min_samples must be >= 1")

    def update(self, t: float, mid: float) -> None:
        if self._last_t is None or self._last_mid is None:
            self._last_t, self._last_mid = t, mid
            return
        dt = t - self._last_t
        if dt <= 0:
            return
        sample = (mid - self._last_mid) ** 2 / dt
        if self.samples == 0:
            self.var = sample
        else:
            w = 1.0 - math.exp(-dt * LN2 / self.halflife)
            self.var += w * (sample - self.var)
        self.samples += 1
        self._last_t, self._last_mid = t, mid

    @property
    def warm(self) -> bool:
        return self.samples >= self.min_samples

    @property
    def sigma(self) -> float | None:
        """Volatility per sqrt(second) once warm, else None."""
        return math.sqrt(self.var) if self.warm else None


@dataclass
class IntensityEstimator:
    """Rolling-window estimate of (A, kappa) from trades relative to the mid, per book side.

    ``add_trade(t, price, mid)`` records the depth ``|price - mid|``; trades older than ``window``
    seconds are forgotten, and so are the oldest beyond ``max_trades`` (a busy market: memory stays
    bounded; the window then starts at the newest trade so dropped, ``cut``). With
    ``D = min(window, t - first_seen, t - cut)`` and both sides pooled, the fit is
    :func:`~bot.core.calibration.fit_intensity` over a duration of ``sides * D`` (so ``A`` is a per-side
    rate) with ``min_depth`` the smallest depth in the window (trades cannot print inside the touch;
    fitting from 0 would bias kappa down). Warm once at least ``min_trades`` trades are in the window,
    ``min_time`` seconds have passed since the first observation, and the fit succeeds.
    """

    window: float = 120.0
    min_trades: int = 30
    min_time: float = 10.0
    sides: int = 2
    max_trades: int = 10_000
    _trades: deque[tuple[float, float]] = field(default_factory=deque, repr=False)
    _first_t: float | None = field(default=None, repr=False)
    _cut: float | None = field(default=None, repr=False)

    def add_trade(self, t: float, price: float, mid: float) -> None:
        if self._first_t is None:
            self._first_t = t
        self._trades.append((t, abs(price - mid)))
        self._expire(t)
        while len(self._trades) > self.max_trades:
            self._cut = self._trades.popleft()[0]

    def _expire(self, t: float) -> None:
        while self._trades and self._trades[0][0] < t - self.window:
            self._trades.popleft()

    @property
    def trades(self) -> int:
        return len(self._trades)

    def estimate(self, t: float) -> tuple[float, float] | None:
        """(A, kappa) at time ``t`` once warm, else None."""
        if self._first_t is None:
            return None
        self._expire(t)
        elapsed = t - self._first_t
        if elapsed < self.min_time or len(self._trades) < self.min_trades:
            return None
        span = min(self.window, elapsed) if self._cut is None else min(self.window, elapsed, t - self._cut)
        depths = [d for _, d in self._trades]
        try:
            return fit_intensity(depths, self.sides * span, min_depth=min(depths))
        except ValueError:
            return None
