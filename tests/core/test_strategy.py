"""The decision layer (bot/core/strategy.py): pauses, wake rule, committed size, estimates, decisions."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bot.core.estimators import EwmaVolatility, IntensityEstimator
from bot.core.limits import LimitParams
from bot.core.models import ModelParams
from bot.core.pipeline import make_quote
from bot.core.quote import MarketRules, QuoteInputs, Side
from bot.core.reconcile import Tolerance
from bot.core.strategy import (
    StrategyParams,
    Wake,
    committed,
    decide,
    estimates,
    halt_reason,
    heartbeat_of,
    make_estimators,
    paused,
    pauses,
)

RULES = MarketRules(0.01, 0.001)


def params(model: str = "linear", **kw: object) -> StrategyParams:
    return StrategyParams(ModelParams(model, half_spread=0.05, skew=0.1), LimitParams(1.0, 0.1), RULES,
                          Tolerance(0.01), **kw)  # type: ignore[arg-type]


@given(st.floats(0, 100), st.booleans(), st.integers(0, 10), st.floats(0.1, 50), st.integers(1, 5))
def test_paused_is_whether_any_pause_holds(age: float, crossed: bool, failures: int, stale: float,
                                           outage: int) -> None:
    p = params(stale_after=stale, outage_after=outage)
    held = pauses(p, age, crossed, failures)
    assert paused(p, age, crossed, failures) == bool(held)
    assert ("stale" in held) == (age > stale)
    assert ("crossed" in held) == crossed
    assert ("venue" in held) == (failures >= outage)


def test_halt_reason_names_the_kill_first_then_the_sorted_pauses() -> None:
    assert halt_reason(None, []) is None
    assert halt_reason(None, {"venue": "", "stale": ""}) == "paused: stale,venue"
    assert halt_reason("manual", {"stale": ""}) == "killed: manual"


@given(st.floats(1.0, 1e5), st.floats(-2.0, 2.0), st.booleans())
def test_decide_is_the_quote_or_nothing_while_halted(mid: float, q: float, halt: bool) -> None:
    p = params()
    inputs = QuoteInputs(mid, q, mid - 0.01, mid + 0.01)
    quote = make_quote(inputs, p.model, p.limits, p.rules)
    d = decide(p, inputs, "paused: stale" if halt else None)
    assert d.quote == quote
    if halt:
        assert d.targets == {"buy": None, "sell": None}
        assert d.bid_reason == d.ask_reason == "paused: stale"
        return
    for side, price, size, target in (("buy", quote.bid, quote.bid_size, d.bid),
                                      ("sell", quote.ask, quote.ask_size, d.ask)):
        if price is not None and size > 0:
            assert target is not None and (target.side, target.price, target.amount) == (side, price, size)
        else:
            assert target is None
    assert (d.bid_reason, d.ask_reason) == (quote.bid_reason, quote.ask_reason)


def test_no_market_withdraws_both_sides() -> None:
    d = decide(params(), None, None)
    assert d.quote is None and d.targets == {"buy": None, "sell": None} and d.bid_reason == "no market"


def test_the_wake_rule() -> None:
    w = Wake(0.5)
    assert w.idle_until(10.0) is None  # no idle wake-up before the first wake-up
    assert w.due(0.0, 1.0, 2.0, 0.0, False)  # never decided
    w.decided(0.0, 1.0, 2.0, 0.0, False, acted=False)
    assert not w.due(0.4, 1.0, 2.0, 0.0, False)
    assert w.due(0.4, 1.01, 2.0, 0.0, False)  # the touch moved
    assert w.due(0.4, 1.0, 2.0, 0.1, False)  # a fill
    assert w.due(0.4, 1.0, 2.0, 0.0, True)  # a pause or the kill
    assert w.due(0.5, 1.0, 2.0, 0.0, False)  # the heartbeat
    # the idle wake-up comes a heartbeat after the last wake-up (0.5), not after the last decision
    assert w.idle_until(1.0) is None and w.idle_until(3.0) == 1.0
    w.decided(0.5, 1.0, 2.0, 0.0, False, acted=True)
    assert w.due(0.51, 1.0, 2.0, 0.0, False)  # the last decision sent actions: their answers count


def test_heartbeat_is_a_quarter_of_stale_after_within_bounds() -> None:
    assert heartbeat_of(5.0) == 0.5 and heartbeat_of(1.0) == 0.25 and heartbeat_of(0.01) == 0.05
    assert heartbeat_of(math.inf) == 0.5


@dataclass
class _Order:
    side: Side
    remaining: float
    acked: bool


@given(st.lists(st.tuples(st.sampled_from(["buy", "sell"]), st.floats(0, 10), st.booleans()), max_size=8),
       st.floats(0, 5), st.floats(0, 5))
def test_committed_counts_unacked_open_orders_and_settling(orders: list[tuple[Side, float, bool]], sb: float,
                                                           ss: float) -> None:
    buy, sell = committed([_Order(*o) for o in orders], sb, ss)
    assert math.isclose(buy, sb + sum(r for s, r, a in orders if s == "buy" and not a), abs_tol=1e-9)
    assert math.isclose(sell, ss + sum(r for s, r, a in orders if s == "sell" and not a), abs_tol=1e-9)


def test_estimates_are_read_only_by_as_and_glft_with_use_estimators() -> None:
    vol, intensity = make_estimators()
    for t in range(40):
        vol.update(float(t), 100.0 + (t % 3) * 0.01)
    assert vol.sigma is not None
    assert estimates(params("as", use_estimators=True), vol, intensity, 40.0) == (vol.sigma, None, None)
    assert estimates(params("as", use_estimators=False), vol, intensity, 40.0) == (None, None, None)
    assert estimates(params("linear", use_estimators=True), vol, intensity, 40.0) == (None, None, None)
    assert isinstance(vol, EwmaVolatility) and isinstance(intensity, IntensityEstimator)


ROOT = Path(__file__).resolve().parents[2]


def test_no_driver_keeps_a_decision_rule_of_its_own() -> None:
    """The live quoter and the backtest ask bot/core/strategy.py: neither quotes, maps quotes to targets,
    picks pauses or builds estimators itself."""
    forbidden = re.compile(r"\b(make_quote\(|quote_fields\(|Target\(|EwmaVolatility\(|IntensityEstimator\(|"
                           r"Tolerance\(|stale_after\s*/|\"as\", \"glft\")")
    for path in ("bot/live/quoter.py", "bot/live/gate.py", "bot/live/service.py", "bot/research/backtest.py",
                 "bot/research/livereplay.py"):
        file = ROOT / path
        if file.exists():
            hits = [line for line in file.read_text().splitlines() if forbidden.search(line)]
            assert not hits, f"{path}: {hits}"
