"""The intensity estimator's cached, array-backed fit gives exactly the straightforward rolling fit's floats.

``Reference`` is the estimator as it was before it was made incremental (a deque of (time, depth), a list of
depths and :func:`fit_intensity` at every estimate). Any sequence of trades and estimates must give the same
``(A, kappa)`` or None, bit for bit: the live quoter and the backtest's reference results read them.
"""

from __future__ import annotations

import math
from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.calibration import fit_intensity
from bot.core.estimators import IntensityEstimator


class Reference:
    def __init__(self, window: float, min_trades: int, min_time: float, max_trades: int) -> None:
        self.window, self.min_trades, self.min_time, self.max_trades = window, min_trades, min_time, max_trades
        self.sides = 2
        self.trades: deque[tuple[float, float]] = deque()
        self.first: float | None = None
        self.cut: float | None = None

    def add_trade(self, t: float, price: float, mid: float) -> None:
        if self.first is None:
            self.first = t
        self.trades.append((t, abs(price - mid)))
        self.expire(t)
        while len(self.trades) > self.max_trades:
            self.cut = self.trades.popleft()[0]

    def expire(self, t: float) -> None:
        while self.trades and self.trades[0][0] < t - self.window:
            self.trades.popleft()

    def estimate(self, t: float) -> tuple[float, float] | None:
        if self.first is None:
            return None
        self.expire(t)
        elapsed = t - self.first
        if elapsed < self.min_time or len(self.trades) < self.min_trades:
            return None
        span = min(self.window, elapsed) if self.cut is None else min(self.window, elapsed, t - self.cut)
        depths = [d for _, d in self.trades]
        try:
            return fit_intensity(depths, self.sides * span, min_depth=min(depths))
        except ValueError:
            return None


prices = st.one_of(
    st.floats(99.0, 101.0),
    st.sampled_from([100.0, 100.01, 99.99, 100.02, math.inf, math.nan]),  # repeats, and prints the fit rejects
)
steps = st.lists(
    st.tuples(st.floats(0.0, 3.0), st.booleans(), prices),  # (time step, estimate or trade, price)
    min_size=1, max_size=300,
)


@settings(max_examples=200, deadline=None)
@given(steps, st.floats(1.0, 30.0), st.integers(1, 12), st.floats(0.0, 5.0), st.integers(1, 40))
def test_same_floats_as_the_rolling_fit(ops: list[tuple[float, bool, float]], window: float, min_trades: int,
                                       min_time: float, max_trades: int) -> None:
    new = IntensityEstimator(window=window, min_trades=min_trades, min_time=min_time, max_trades=max_trades)
    ref = Reference(window, min_trades, min_time, max_trades)
    t = 0.0
    for dt, is_estimate, price in ops:
        t += dt
        if is_estimate:
            got, want = new.estimate(t), ref.estimate(t)
            assert got == want
        else:
            new.add_trade(t, price, 100.0)
            ref.add_trade(t, price, 100.0)
        assert new.trades == len(ref.trades)


def test_a_long_window_grows_its_buffer_and_keeps_the_floats() -> None:
    """Thousands of trades in the window (the buffer is compacted and grown many times) and a cap."""
    new = IntensityEstimator(window=500.0, min_trades=30, min_time=1.0, max_trades=3000)
    ref = Reference(500.0, 30, 1.0, 3000)
    for i in range(20000):
        t = i * 0.05
        price = 100.0 + ((i * 7919) % 200 - 100) * 0.001
        new.add_trade(t, price, 100.0)
        ref.add_trade(t, price, 100.0)
        if i % 37 == 0:
            assert new.estimate(t + 0.01) == ref.estimate(t + 0.01)
    assert new.trades == len(ref.trades) == 3000
