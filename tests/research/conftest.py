"""Synthetic market data with known parameters, for calibration tests."""

from __future__ import annotations

import numpy as np
import pytest

from bot.research.recording import BookEvent, Event, TradeEvent


def synthetic_events(
    sigma: float,
    A_side: float,
    kappa: float,
    duration: float,
    seed: int,
    mid0: float = 100.0,
    dt: float = 0.1,
    half_spread: float = 0.001,
    symbol: str = "BTC/USDT",
) -> list[Event]:
    """Brownian mid (``sigma`` per sqrt s) snapshotted every ``dt``; per side, taker arrivals form a
    Poisson process of rate ``A_side`` with depths ~ Exp(``kappa``), so arrivals reaching depth
    ``delta`` have rate ``A_side*exp(-kappa*delta)``."""
    rng = np.random.default_rng(seed)
    n = round(duration / dt)
    times = np.arange(n + 1) * dt
    mids = mid0 + np.concatenate([[0.0], np.cumsum(rng.normal(0.0, sigma * np.sqrt(dt), n))])
    events: list[tuple[float, int, Event]] = []
    for t, m in zip(times, mids, strict=True):
        book = BookEvent(float(t), symbol, ((m - half_spread, 5.0),), ((m + half_spread, 5.0),))
        events.append((float(t), 0, book))
    for side in ("buy", "sell"):
        count = rng.poisson(A_side * duration)
        arrivals = np.sort(rng.uniform(0.0, duration, count))
        depths = rng.exponential(1.0 / kappa, count)
        for t, d in zip(arrivals, depths, strict=True):
            m = mids[int(t // dt)]  # the mid prevailing at t (last snapshot at or before t)
            price = m + d if side == "buy" else m - d
            events.append((float(t), 1, TradeEvent(float(t), symbol, float(price), 0.1, side)))
    events.sort(key=lambda item: (item[0], item[1]))
    return [event for _, _, event in events]


@pytest.fixture
def make_events():
    """The generator above, as a fixture (tests/ has no packages to import helpers from)."""
    return synthetic_events
