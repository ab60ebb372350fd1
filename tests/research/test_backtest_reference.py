"""The replay's results on a fixed recording do not change when its implementation is made faster.

``data/sim_btcusdt_1200_steps.jsonl.gz`` is a recording of the simulated exchange (made with
``bench.backtest_bench.synthetic_events(1200, seed=7)``: one snapshot, 40-level depth diffs and public
trades every 50 ms; times rounded to 1 ms, prices to 0.01, sizes to 1e-8; see its meta line).

``EXPECTED`` was produced by running exactly these cases through ``run_backtest`` at commit d5ef576,
i.e. with the straightforward replay before the session-2 speed-ups (grid snapping once per quote,
quote memo, cheaper reconcile and book apply). Counts must be equal; floats are compared to 1e-9
relative (they are sums of the same float operations, so any behavioural change moves them far more);
``log`` is the first 16 hex digits of the SHA-256 of the fill log rendered as
``f"{ts:.3f},{side},{price:.2f},{size:.8f};"`` per fill. A mismatch means the replay now decides,
orders or fills differently: find out why before touching these numbers.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from bot.core.limits import LimitParams
from bot.core.models import ModelParams
from bot.core.quote import MarketRules
from bot.core.reconcile import Tolerance
from bot.research.backtest import BacktestParams, BacktestResult, run_backtest
from bot.research.recording import Event, read_recording

RECORDING = Path(__file__).parent / "data" / "sim_btcusdt_1200_steps.jsonl.gz"
RULES = MarketRules(tick=0.01, lot=0.00001, min_qty=0.00001, min_notional=5.0)

CASES: dict[str, BacktestParams] = {
    "linear-50ms": BacktestParams(
        ModelParams("linear", half_spread=0.03, skew=0.05), LimitParams(0.1, 0.002), RULES, Tolerance(0.01, 2),
        latency=0.05,
    ),
    "symmetric-0ms-age": BacktestParams(
        ModelParams("symmetric", half_spread=0.01), LimitParams(0.01, 0.003), RULES,
        Tolerance(0.01, 0, max_order_age=2.0), latency=0.0,
    ),
    "linear-notional-200ms": BacktestParams(
        ModelParams("linear", half_spread=0.02, skew=0.5),
        LimitParams(0.05, 0.004, max_order_size=0.003, max_notional=450.0), RULES,
        Tolerance(0.01, 1, requote_bps=0.05, size_tolerance=0.2), latency=0.2, maker_fee=0.0002,
        cancel_model="conservative",
    ),
    "as-session-estimators": BacktestParams(
        ModelParams("as", gamma=0.5, sigma=0.5, kappa=20.0, horizon=20.0, horizon_mode="session"),
        LimitParams(0.02, 0.002), RULES, Tolerance(0.01, 1), latency=0.02, use_estimators=True,
    ),
    "glft-estimators": BacktestParams(
        ModelParams("glft", gamma=0.2, sigma=0.5, kappa=20.0, A=2.0, min_spread=0.05), LimitParams(0.02, 0.002),
        RULES, Tolerance(0.01, 2), latency=0.05, use_estimators=True, maker_fee=-0.0001,
    ),
    "as-rolling": BacktestParams(
        ModelParams("as", gamma=0.1, sigma=0.1, kappa=50.0, horizon=5.0), LimitParams(0.02, 0.002), RULES,
        Tolerance(0.01, 1), latency=0.01,
    ),
}

FIELDS = (
    "fills", "buys", "sells", "placed", "canceled", "rejected", "clipped",
    "max_abs_q", "final_q", "total_pnl", "spread_captured", "skew_cost", "q_std", "log",
)
EXPECTED: dict[str, tuple[Any, ...]] = {
    "linear-50ms": (
        219, 111, 108, 385, 206, 0, 0,
        0.0198, 0.00569, 0.012377299999792486,
        0.010934899999963641, -0.0018455000004236693, 0.006346089755111454, "d750507f160653e8",
    ),
    "symmetric-0ms-age": (
        655, 331, 324, 1864, 1415, 0, 0,
        0.01, -0.01, 0.015089499999902833,
        0.015787999999887115, -2.4143810151144883e-12, 0.0068681545798748205, "5366e0d83d47ed5b",
    ),
    "linear-notional-200ms": (
        149, 78, 71, 137, 20, 2, 1,
        0.015, 0.01073, -2.1345133555001246,
        0.006959099999956749, -0.0019758999997900174, 0.008113590647778684, "cf2dc2538912a67e",
    ),
    "as-session-estimators": (
        252, 133, 119, 633, 430, 0, 0,
        0.02, 0.01063, 0.013101700000165839,
        0.00944379999996284, -0.0021271323954407126, 0.01063087017957282, "e8f35daf2628397e",
    ),
    "glft-estimators": (
        221, 118, 103, 384, 209, 0, 0,
        0.02, 0.01063, 1.1340621987799127,
        0.01016989999997081, -0.0019686072342439006, 0.007659705953596121, "543b6afc47d35897",
    ),
    "as-rolling": (
        249, 130, 119, 602, 405, 0, 0,
        0.02, 0.01063, 0.014608499999855232,
        0.011729899999948824, -0.003114246573341772, 0.00953438053396177, "818f2f55904145e3",
    ),
}
COUNTS = ("fills", "buys", "sells", "placed", "canceled", "rejected", "clipped", "log")


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return read_recording(RECORDING)


def fingerprint(r: BacktestResult) -> dict[str, Any]:
    log = "".join(f"{ts:.3f},{side},{price:.2f},{size:.8f};" for ts, side, price, size in r.fill_log)
    return {
        "fills": r.fills, "buys": r.buys, "sells": r.sells, "placed": r.orders_placed,
        "canceled": r.orders_canceled, "rejected": r.orders_rejected, "clipped": r.orders_clipped,
        "max_abs_q": r.max_abs_q, "final_q": r.final_q, "total_pnl": r.total_pnl,
        "spread_captured": r.spread_captured, "skew_cost": r.skew_cost, "q_std": r.q_std,
        "log": hashlib.sha256(log.encode()).hexdigest()[:16],
    }


@pytest.mark.parametrize("case", sorted(CASES))
def test_results_on_the_fixed_recording_are_unchanged(case: str, events: list[Event]) -> None:
    got = fingerprint(run_backtest(events, "BTC/USDT", CASES[case]))
    want = dict(zip(FIELDS, EXPECTED[case], strict=True))
    assert got.keys() == want.keys()
    assert {k: got[k] for k in COUNTS} == {k: want[k] for k in COUNTS}
    for key in want.keys() - set(COUNTS):
        assert got[key] == pytest.approx(want[key], rel=1e-9, abs=1e-12), key
