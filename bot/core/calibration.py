"""Estimators for the quote models' market parameters: sigma, and A, kappa of the arrival intensity.

Pure and fast (numpy arrays in, floats out) so the live service can call them on rolling windows.

Units: times in seconds, prices in quote currency. ``sigma`` is price per sqrt(second); ``A`` is
trades per second; ``kappa`` is per unit of price (so ``kappa*delta`` is dimensionless).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bot.core.models import avellaneda_stoikov, glft_coefficients

ArrayLike = Sequence[float] | np.ndarray


def estimate_sigma(times: ArrayLike, mids: ArrayLike) -> float:
    """Volatility of an arithmetic Brownian mid, in price per sqrt(second).

    Estimator (realised variance): ``sigma^2 = sum((m[i+1] - m[i])^2) / (t[-1] - t[0])``, the
    quadratic variation of the observed mid divided by the elapsed time. It is unbiased for a
    driftless Brownian mid sampled at any (irregular) times, needs no regular grid, and ignores
    repeated mids for free. Microstructure noise (a mid bouncing between two ticks) biases it up
    on very dense samples; pass mids sampled on a coarser grid if that matters.

    Raises ValueError for fewer than two samples, unequal lengths, non-finite values, times that
    go backwards, or zero elapsed time.
    """
    t = np.asarray(times, dtype=float)
    m = np.asarray(mids, dtype=float)
    if t.ndim != 1 or m.ndim != 1 or t.shape != m.shape:
        raise ValueError(f"times and mids must be 1-D and of equal length, got {t.shape} and {m.shape}")
    if t.size < 2:
        raise ValueError(f"need at least two mid samples to estimate sigma, got {t.size}")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(m))):
        raise ValueError("times and mids must be finite")
    if np.any(np.diff(t) < 0):
        raise ValueError("times must be non-decreasing")
    elapsed = float(t[-1] - t[0])
    if elapsed <= 0:
        raise ValueError("mid samples span zero time; cannot estimate sigma")
    return math.sqrt(float(np.sum(np.diff(m) ** 2)) / elapsed)


def fit_intensity(
    depths: ArrayLike,
    duration: float,
    bin_width: float | None = None,
    min_depth: float = 0.0,
) -> tuple[float, float]:
    """Fit ``lambda(delta) = A*exp(-kappa*delta)`` to trade depths; returns ``(A, kappa)``.

    ``depths`` are the distances from the prevailing mid reached by taker trades (one entry per
    arrival, not volume-weighted), observed over ``duration`` seconds. ``lambda(delta)`` is the
    Poisson rate (per second) of arrivals reaching at least ``delta``:
    ``count(depth >= delta) / duration``. Negative depths (prints through a stale mid) count as 0.

    * ``bin_width=None`` (default): maximum likelihood. If arrivals form a Poisson process of rate
      ``R`` whose depths beyond ``min_depth`` are exponential with rate ``kappa``, then the rate of
      reaching ``delta >= min_depth`` is ``R*exp(-kappa*(delta - min_depth))`` and the MLEs are
      ``R = n/duration`` and ``kappa = 1/mean(depth - min_depth)`` over the ``n`` depths
      ``>= min_depth``; hence ``A = R*exp(kappa*min_depth)``. With ``min_depth = 0`` this is
      ``kappa = 1/mean(depth)``, ``A = n/duration``. Set ``min_depth`` to the typical half-spread
      when no trade can print nearer the mid than the touch (otherwise kappa is biased down).
    * ``bin_width=w``: least squares of ``log(count(depth >= delta_j)/duration)`` on ``delta_j``
      at ``delta_j = min_depth + j*w`` for every j with a non-zero count (needs two such points).
      Less efficient than the MLE, but it checks the exponential shape instead of assuming it.

    Raises ValueError on empty input, a non-positive duration or bin width, a degenerate sample
    (all depths equal ``min_depth``) or a fit with a non-positive kappa.
    """
    if not (math.isfinite(duration) and duration > 0):
        raise ValueError(f"duration must be a positive number of seconds, got {duration!r}")
    d = np.asarray(depths, dtype=float)
    if d.ndim != 1:
        raise ValueError("depths must be a 1-D array")
    if d.size == 0:
        raise ValueError("no trades to fit the arrival intensity to (empty depths)")
    if not np.all(np.isfinite(d)):
        raise ValueError("depths must be finite")
    d = np.maximum(d, 0.0)
    d = d[d >= min_depth]
    if d.size == 0:
        raise ValueError(f"no trade reached min_depth={min_depth}")
    if bin_width is None:
        excess = float(np.mean(d - min_depth))
        if excess <= 0:
            raise ValueError("all trade depths equal min_depth; kappa is not identifiable")
        kappa = 1.0 / excess
        return (d.size / duration) * math.exp(kappa * min_depth), kappa
    if not (math.isfinite(bin_width) and bin_width > 0):
        raise ValueError(f"bin_width must be positive, got {bin_width!r}")
    grid = min_depth + bin_width * np.arange(int((d.max() - min_depth) // bin_width) + 1)
    sorted_d = np.sort(d)
    counts = sorted_d.size - np.searchsorted(sorted_d, grid, side="left")
    keep = counts > 0
    if np.count_nonzero(keep) < 2:
        raise ValueError("need at least two depth bins with trades for a least-squares fit; lower bin_width")
    slope, intercept = np.polyfit(grid[keep], np.log(counts[keep] / duration), 1)
    kappa = -float(slope)
    if kappa <= 0:
        raise ValueError("least-squares fit gave a non-decreasing intensity (kappa <= 0)")
    return math.exp(float(intercept)), kappa


def suggest_parameters(
    sigma: float,
    A: float,
    kappa: float,
    gamma: float,
    order_size: float,
    horizon: float = 60.0,
    limit_half_spreads: float = 3.0,
    tick: float = 1.0,
) -> dict[str, float]:
    """Model parameters for a risk aversion ``gamma`` given the fitted market ``sigma, A, kappa``.

    Units as the quoting core's (:mod:`bot.core.models`): ``sigma`` price per sqrt(second), ``kappa`` per price
    unit, ``A`` per second; ``gamma`` per (tick x order), the A-S/GLFT inventory counted in orders of
    ``order_size`` base units and prices in ticks of ``tick``; ``horizon`` (T - t) in seconds.

    * A–S (2008), from :func:`bot.core.models.avellaneda_stoikov`: ``as_skew`` (reservation shift per order, price)
      and ``as_half_spread`` at q = q*.
    * GLFT: ``glft_half_spread`` and ``glft_skew`` (per order) from :func:`bot.core.models.glft_coefficients`.
    * Linear skew: GLFT's skew and half-spread held fixed (GLFT has no horizon to choose, A–S's skew grows with
      it): ``linear_skew = glft_skew / order_size`` (linear counts q in base units), ``linear_half_spread =
      glft_half_spread``.
    * Limit heuristic: ``max_position`` is the inventory at which the skew alone has moved the quote centre by
      ``limit_half_spreads`` half-spreads: the growing side then sits at least ``limit_half_spreads + 1``
      half-spreads from the mid and fills at most ``exp(-kappa*limit_half_spreads*h)`` as often as at the touch,
      so flow that still reaches it is more likely informed than noise. In whole orders, at least one.
    """
    checks = {
        "sigma": sigma,
        "A": A,
        "kappa": kappa,
        "gamma": gamma,
        "order_size": order_size,
        "horizon": horizon,
        "limit_half_spreads": limit_half_spreads,
        "tick": tick,
    }
    for name, value in checks.items():
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be positive, got {value!r}")
    centre, as_half = avellaneda_stoikov(0.0, 1.0, gamma, sigma, kappa, horizon, tick)
    glft_half, glft_skew = glft_coefficients(gamma, sigma, A, kappa, tick)
    orders = math.floor(limit_half_spreads * glft_half / glft_skew + 1e-9)
    max_position = max(1, orders) * order_size
    return {
        "sigma": sigma,
        "A": A,
        "kappa": kappa,
        "gamma": gamma,
        "horizon": horizon,
        "order_size": order_size,
        "tick": tick,
        "as_skew": -centre,
        "as_half_spread": as_half,
        "glft_half_spread": glft_half,
        "glft_skew": glft_skew,
        "linear_skew": glft_skew / order_size,
        "linear_half_spread": glft_half,
        "max_position": max_position,
    }
