"""Estimators for the quote models' market parameters: sigma, and A, kappa of the arrival intensity.

Pure and fast (numpy arrays in, floats out) so the live service can call them on rolling windows.

Units: times in seconds, prices in quote currency. ``sigma`` is price per sqrt(second); ``A`` is
trades per second; ``kappa`` is per unit of price (so ``kappa*delta`` is dimensionless).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bot.core.models import glft_coefficients

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
) -> dict[str, float]:
    """Model parameters for a risk aversion ``gamma`` given the fitted market ``sigma, A, kappa``.

    Inventory ``q`` is in base units, ``gamma`` per unit of quote currency, ``horizon`` (T - t) in
    seconds.

    * A–S (2008): ``as_skew = gamma*sigma^2*horizon`` (reservation price shift per unit of q) and
      ``as_half_spread = (gamma*sigma^2*horizon + (2/gamma)*ln(1 + gamma/kappa)) / 2``.
    * GLFT: ``glft_half_spread`` and ``glft_skew`` (per unit of q) from
      :func:`bot.core.models.glft_coefficients`, the same function the quoting core uses (Guéant's
      closed form with an order size of one base unit, each arrival taken as one unit).
    * Linear skew: A–S with the horizon frozen, ``linear_skew = as_skew`` and
      ``linear_half_spread = (1/gamma)*ln(1 + gamma/kappa)`` (A–S's spread without the
      horizon term, which the skew already prices).
    * Limit heuristic: ``max_position`` is the inventory at which the skew alone has moved the
      quote centre by ``limit_half_spreads`` half-spreads: the growing side then sits at least
      ``limit_half_spreads + 1`` half-spreads from the mid and fills at most
      ``exp(-kappa*limit_half_spreads*h)`` as often as at the touch, so flow that still reaches it
      is more likely informed than noise. It is rounded down to whole lots, and at least one lot.
    """
    checks = {
        "sigma": sigma,
        "A": A,
        "kappa": kappa,
        "gamma": gamma,
        "order_size": order_size,
        "horizon": horizon,
        "limit_half_spreads": limit_half_spreads,
    }
    for name, value in checks.items():
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be positive, got {value!r}")
    as_skew = gamma * sigma**2 * horizon
    base_half = math.log1p(gamma / kappa) / gamma
    as_half = 0.5 * as_skew + base_half
    glft_half, glft_skew = glft_coefficients(gamma, sigma, A, kappa)
    lots = math.floor(limit_half_spreads * base_half / as_skew / order_size)
    max_position = max(1, lots) * order_size
    return {
        "sigma": sigma,
        "A": A,
        "kappa": kappa,
        "gamma": gamma,
        "horizon": horizon,
        "order_size": order_size,
        "as_skew": as_skew,
        "as_half_spread": as_half,
        "glft_half_spread": glft_half,
        "glft_skew": glft_skew,
        "linear_skew": as_skew,
        "linear_half_spread": base_half,
        "max_position": max_position,
    }
