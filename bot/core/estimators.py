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
from typing import Any

import numpy as np

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

    Cost: the depths live in one float64 array (the window is a slice of it, so no list is built per
    estimate) and the fit's window statistics (``n``, ``min_depth``, ``kappa``) are refitted only when the
    window's trades changed; between changes only ``A``'s duration moves with ``t``. Every estimate is the
    same float as :func:`~bot.core.calibration.fit_intensity` on the window's depths (same arrays, same
    numpy reductions); an empty window (``min_trades`` 0) is not warm.
    """

    __slots__ = ("_added", "_buf", "_cut", "_dropped", "_first_t", "_fit", "_head", "_mins", "_nonfinite", "_tail",
                 "_trades", "_version", "max_trades", "min_time", "min_trades", "sides", "window")

    def __init__(self, window: float = 120.0, min_trades: int = 30, min_time: float = 10.0, sides: int = 2,
                 max_trades: int = 10_000) -> None:
        self.window = window
        self.min_trades = min_trades
        self.min_time = min_time
        self.sides = sides
        self.max_trades = max_trades
        self._trades: deque[tuple[float, float]] = deque()  # the window's (time, depth), oldest first
        self._buf: Any = np.empty(64)  # the same depths: the window is _buf[_head:_tail]
        self._head = 0
        self._tail = 0
        # the window's minimum: (trade number, depth) of the finite depths that are smaller than every later one
        self._mins: deque[tuple[int, float]] = deque()
        self._added = 0  # trades added so far (the next one's number)
        self._dropped = 0  # trades forgotten so far (the oldest one's number)
        self._nonfinite = 0  # depths in the window that are not finite (the fit then fails)
        self._first_t: float | None = None
        self._cut: float | None = None
        self._version = 0  # bumped whenever the window's trades change
        self._fit: tuple[int, int, float, float, float] | None = None  # (version, n, kappa, exp(kappa*min), ok)

    def add_trade(self, t: float, price: float, mid: float) -> None:
        if self._first_t is None:
            self._first_t = t
        depth = abs(price - mid)
        if self._tail == len(self._buf):
            self._compact()
        self._buf[self._tail] = depth
        self._tail += 1
        self._trades.append((t, depth))
        if math.isfinite(depth):
            mins = self._mins
            while mins and mins[-1][1] >= depth:
                mins.pop()
            mins.append((self._added, depth))
        else:
            self._nonfinite += 1
        self._added += 1
        self._version += 1
        self._expire(t)
        while len(self._trades) > self.max_trades:
            self._cut = self._drop_oldest()

    def _compact(self) -> None:
        """Move the window to the start of the buffer, doubling it when the window fills half of it."""
        n = self._tail - self._head
        buf = self._buf
        if 2 * n > len(buf):
            grown = np.empty(2 * len(buf))
            grown[:n] = buf[self._head:self._tail]
            self._buf = grown
        else:
            buf[:n] = buf[self._head:self._tail].copy()
        self._head, self._tail = 0, n

    def _drop_oldest(self) -> float:
        """Forget the oldest trade; returns its time."""
        t, depth = self._trades.popleft()
        if not math.isfinite(depth):
            self._nonfinite -= 1
        mins = self._mins
        if mins and mins[0][0] == self._dropped:
            mins.popleft()
        self._dropped += 1
        self._head += 1
        self._version += 1
        return t

    def _expire(self, t: float) -> None:
        trades = self._trades
        while trades and trades[0][0] < t - self.window:
            self._drop_oldest()

    @property
    def trades(self) -> int:
        return len(self._trades)

    def estimate(self, t: float) -> tuple[float, float] | None:
        """(A, kappa) at time ``t`` once warm, else None."""
        if self._first_t is None:
            return None
        self._expire(t)
        elapsed = t - self._first_t
        n = len(self._trades)
        if elapsed < self.min_time or n < self.min_trades or n == 0:
            return None
        span = min(self.window, elapsed) if self._cut is None else min(self.window, elapsed, t - self._cut)
        duration = self.sides * span
        if not (math.isfinite(duration) and duration > 0):
            return None  # fit_intensity rejects the duration
        fit = self._fit
        if fit is None or fit[0] != self._version:
            fit = self._fit = self._refit(n)
        if fit[4] == 0.0:
            return None
        return (fit[1] / duration) * fit[3], fit[2]

    def _refit(self, n: int) -> tuple[int, int, float, float, float]:
        """The window's (version, n, kappa, exp(kappa * min_depth), ok): fit_intensity's maximum likelihood
        with min_depth the smallest depth (every depth is >= 0 and >= min_depth, so none is filtered out)."""
        if self._nonfinite:
            return self._version, n, 0.0, 0.0, 0.0  # fit_intensity: depths must be finite
        min_depth = self._mins[0][1]
        excess = float(np.add.reduce(self._buf[self._head:self._tail] - min_depth)) / n  # np.mean's float
        if excess <= 0:
            return self._version, n, 0.0, 0.0, 0.0  # every depth equals min_depth: kappa not identifiable
        kappa = 1.0 / excess
        return self._version, n, kappa, math.exp(kappa * min_depth), 1.0
