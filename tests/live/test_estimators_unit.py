"""Estimators: EWMA volatility and the (A, kappa) intensity fit."""

from __future__ import annotations

import math
import random

from hypothesis import given
from hypothesis import strategies as st

from bot.core.estimators import EwmaVolatility, IntensityEstimator


def test_volatility_not_warm_until_min_samples() -> None:
    est = EwmaVolatility(halflife=10, min_samples=5)
    for i in range(5):
        est.update(float(i), 100.0 + i)
        assert est.sigma is None
    est.update(5.0, 106.0)
    assert est.sigma is not None


def test_volatility_recovers_brownian_sigma() -> None:
    rng = random.Random(7)
    sigma, dt = 0.3, 0.1
    est = EwmaVolatility(halflife=200.0, min_samples=10)
    mid, t = 100.0, 0.0
    for _ in range(20000):
        est.update(t, mid)
        t += dt
        mid += rng.gauss(0.0, sigma * math.sqrt(dt))
    assert est.sigma is not None
    assert abs(est.sigma - sigma) / sigma < 0.1


def test_volatility_constant_mid_is_zero_and_ignores_duplicate_times() -> None:
    est = EwmaVolatility(halflife=1, min_samples=1)
    est.update(0.0, 50.0)
    est.update(0.0, 60.0)  # same timestamp: ignored
    est.update(1.0, 50.0)
    assert est.sigma == 0.0


@given(st.lists(st.floats(1, 1000), min_size=2, max_size=50), st.floats(0.01, 10))
def test_volatility_scales_linearly_with_price_moves(mids: list[float], scale: float) -> None:
    a, b = EwmaVolatility(halflife=5, min_samples=1), EwmaVolatility(halflife=5, min_samples=1)
    for i, m in enumerate(mids):
        a.update(i * 0.5, m)
        b.update(i * 0.5, m * scale)
    assert a.sigma is not None and b.sigma is not None
    assert math.isclose(b.sigma, a.sigma * scale, rel_tol=1e-6, abs_tol=1e-9)


def test_intensity_estimator_recovers_per_side_parameters() -> None:
    """Per side Poisson(A) arrivals at depth touch + Exp(kappa): the estimate recovers A e^{-kappa*touch}, kappa."""
    rng = random.Random(3)
    A, kappa, touch = 2.0, 8.0, 0.02
    est = IntensityEstimator(window=10_000.0, min_trades=10, min_time=1.0)
    events = []
    for side in (-1, 1):
        t = rng.expovariate(A)
        while t < 2000.0:
            events.append((t, 100.0 + side * (touch + rng.expovariate(kappa))))
            t += rng.expovariate(A)
    for t, price in sorted(events):
        est.add_trade(t, price, 100.0)
    fit = est.estimate(2000.0)
    assert fit is not None
    a_touch = fit[0] * math.exp(-fit[1] * touch)  # the rate at the touch, which the data pins down
    assert abs(a_touch - A) / A < 0.1
    assert abs(fit[1] - kappa) / kappa < 0.1


def test_intensity_estimator_degenerate_is_none() -> None:
    est = IntensityEstimator(window=100.0, min_trades=2, min_time=0.0)
    for i in range(5):
        est.add_trade(float(i), 100.02, 100.0)  # every trade at the same depth: kappa unidentifiable
    assert est.estimate(5.0) is None


def test_intensity_estimator_warms_and_forgets() -> None:
    rng = random.Random(1)
    est = IntensityEstimator(window=50.0, min_trades=20, min_time=5.0)
    assert est.estimate(0.0) is None
    t = 0.0
    while t < 30.0:
        t += rng.expovariate(10.0)
        est.add_trade(t, 100.0 + rng.choice((-1, 1)) * rng.expovariate(5.0), 100.0)
    fit = est.estimate(t)
    assert fit is not None and fit[1] > 0
    assert est.estimate(t + 100.0) is None  # window emptied
    assert est.trades == 0


def test_intensity_estimator_keeps_at_most_max_trades_and_fits_the_span_they_cover() -> None:
    """A market busier than ``max_trades`` per window: memory stays at the cap, and the fit over the kept
    trades uses the time they cover, so the rate is still right (not diluted by the whole window)."""
    rng = random.Random(5)
    A, kappa, touch = 50.0, 8.0, 0.02  # 100 trades/s over both sides: 12,000 in a 120 s window
    est = IntensityEstimator(window=120.0, min_trades=30, min_time=1.0, max_trades=2000)
    events = []
    for side in (-1, 1):
        t = rng.expovariate(A)
        while t < 300.0:
            events.append((t, 100.0 + side * (touch + rng.expovariate(kappa))))
            t += rng.expovariate(A)
    most = 0
    for t, price in sorted(events):
        est.add_trade(t, price, 100.0)
        most = max(most, est.trades)
    assert most == 2000 and est.trades == 2000
    fit = est.estimate(300.0)
    assert fit is not None
    a_touch = fit[0] * math.exp(-fit[1] * touch)
    assert abs(a_touch - A) / A < 0.15
    assert abs(fit[1] - kappa) / kappa < 0.15
