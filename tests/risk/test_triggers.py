"""Kill-switch triggers and pause escalation (pure)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.risk.triggers import (
    DrawdownTracker,
    DriftCheck,
    ErrorWindow,
    PauseEscalator,
    is_ban,
    loss_breach,
    position_breach,
    stale_breach,
)


def test_position_loss_and_stale() -> None:
    assert position_breach(1.0, 1.0) is None and position_breach(-1.0, 1.0) is None
    assert "beyond the limit" in (position_breach(-1.01, 1.0) or "")
    assert loss_breach(-5.0, 5.0) is None and loss_breach(-5.01, 5.0) is not None
    assert loss_breach(-1e9, None) is None
    assert stale_breach(math.inf, 10.0) is None  # no book yet is not stale data
    assert stale_breach(10.0, 10.0) is None and stale_breach(10.5, 10.0) is not None


def test_drawdown_is_measured_from_the_peak_not_the_start() -> None:
    dd = DrawdownTracker(max_drawdown=3.0)
    assert dd.update(0.0) is None
    assert dd.update(10.0) is None
    assert dd.update(7.5) is None  # 2.5 below the peak
    reason = dd.update(6.9)  # 3.1 below the peak, though still +6.9 from the start
    assert reason is not None and "drawdown" in reason


@settings(max_examples=200)
@given(st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=50),
       st.floats(min_value=0.01, max_value=1e5))
def test_drawdown_trips_exactly_when_peak_minus_equity_exceeds_the_limit(path: list[float], limit: float) -> None:
    dd = DrawdownTracker(max_drawdown=limit)
    peak = -math.inf
    for equity in path:
        peak = max(peak, equity)
        tripped = dd.update(equity) is not None
        assert tripped == (peak - equity > limit)
        assert dd.peak == peak


def test_error_window_counts_only_recent_errors() -> None:
    w = ErrorWindow(max_errors=3, window=10.0)
    assert w.add(0.0) is None and w.add(1.0) is None
    assert w.add(10.5) is None  # the error at t=0 left the window
    assert w.add(10.9) is not None  # 1.0, 10.5, 10.9
    assert w.check(30.0) is None


@settings(max_examples=200)
@given(st.lists(st.floats(min_value=0, max_value=100), max_size=40), st.integers(1, 6),
       st.floats(min_value=0.5, max_value=20))
def test_error_window_matches_a_brute_force_count(times: list[float], n: int, window: float) -> None:
    w = ErrorWindow(max_errors=n, window=window)
    seen: list[float] = []
    for t in sorted(times):
        seen.append(t)
        expected = sum(1 for s in seen if s > t - window) >= n
        assert (w.add(t) is not None) == expected


def test_ban_is_told_apart_from_a_429() -> None:
    assert is_ban(418, "") and not is_ban(429, "banned")  # a known status wins
    assert is_ban(None, 'binance {"code":-1003,"msg":"Way too many requests; IP banned until 1700000000000."}')
    assert not is_ban(None, 'binance {"code":-1003,"msg":"Too much request weight used; current limit is 6000"}')
    assert not is_ban(None, 'binance {"code":-1015,"msg":"Too many new orders"}')


def test_drift_needs_two_consecutive_checks_and_resets() -> None:
    d = DriftCheck(tolerance=0.001)
    assert d.update(0.0105, 0.01) is None  # within tolerance
    assert d.update(0.02, 0.01) is None  # first strike: maybe a fill in flight
    assert d.update(0.01, 0.01) is None  # caught up: strikes reset
    assert d.update(0.02, 0.01) is None
    assert "drift" in (d.update(0.02, 0.01) or "")
    assert DriftCheck(tolerance=None).update(5.0, 0.0) is None


def test_pauses_escalate_within_the_window_only() -> None:
    p = PauseEscalator(count=3, window=60.0)
    assert p.paused(0.0, "stale") is None
    assert p.paused(30.0, "stale") is None
    assert p.paused(61.0, "stale") is None  # the first pause has left the window
    reason = p.paused(62.0, "venue")
    assert reason is not None and "3 pauses" in reason and "venue" in reason


def test_reasons_read_sizes_without_exponent_or_noise() -> None:
    """The kill reason an operator reads: 0.00002 (not 2e-05), 30000.72 (not 30000.7), 0.3 (not 0.30000000000000004)."""
    assert position_breach(0.00002, 0.00001) == "position 0.00002 beyond the limit 0.00001"
    assert position_breach(-30000.72, 30000.0) == "position -30000.72 beyond the limit 30000"
    d = DriftCheck(tolerance=0.00001, confirm=1)
    assert d.update(0.1 + 0.2, 0.0001) == (
        "balance drift 0.2999: venue change 0.3 vs inventory 0.0001 (tolerance 0.00001)"
    )
