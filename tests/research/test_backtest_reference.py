"""The replay's results on a fixed recording do not change when its implementation is made faster.

``data/sim_btcusdt_1200_steps.jsonl.gz`` is a recording of the simulated exchange (made with
``bench.backtest_bench.synthetic_events(1200, seed=7)``: one snapshot, 40-level depth diffs and public
trades every 50 ms; times rounded to 1 ms, prices to 0.01, sizes to 1e-8; see its meta line).

``EXPECTED`` pins the replay's output so that making it faster cannot change what it decides. The figures
were first produced at d5ef576 by the straightforward replay before the session-2 speed-ups; issue 18
changed the behaviour on purpose and they were produced again (every decision now comes from
bot/core/strategy.py: decisions only once all events of a timestamp are applied, on the live wake rule, with the
live pauses). What the backtest decides is checked independently by tests/research/test_parity.py, which runs
the same recording through the live code path. Counts must be equal; floats are compared to 1e-9
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
        208, 104, 104, 370, 197, 0, 0,
        0.01522, 0.00385, 0.013107699999816076,
        0.01073329999994716, -0.0016947000003902915, 0.004967956017624912, "cf4e09c3737c437f",
    ),
    "symmetric-0ms-age": (
        444, 227, 217, 1428, 1118, 0, 0,
        0.01, -0.00871, 0.009033099999973416,
        0.010105499999919476, -1.5370824257843204e-12, 0.006043879799686251, "b0b3cfeca3275e0f",
    ),
    "linear-notional-200ms": (
        143, 75, 68, 127, 16, 2, 0,
        0.015, 0.01199, -2.009894252639981,
        0.006615799999936359, -0.0018367999998150117, 0.007991677010764064, "d77075978a145758",
    ),
    "as-session-estimators": (
        261, 138, 123, 619, 413, 0, 0,
        0.02, 0.00863, 0.012744600000128958,
        0.009900599999989282, -0.002166908410776595, 0.00933103623755676, "c95f06dd3de22cdf",
    ),
    "glft-estimators": (
        224, 121, 103, 365, 184, 0, 0,
        0.02, 0.00863, 1.1589933923702145,
        0.010861099999963628, -0.002006012713571182, 0.006571799076018369, "076d4bc428a5a630",
    ),
    "as-rolling": (
        279, 144, 135, 627, 408, 0, 0,
        0.02, 0.0086, 0.01573710000012983,
        0.013400599999941724, -0.003484154063610406, 0.010744020537408885, "a5941b93414511b0",
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
