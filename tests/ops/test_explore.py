"""The explorer (bot/ops/explore.py): its answer is what ``mmbot quote`` prints for the command line it gives."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli import main
from bot.config import ExecutionSettings, RiskSettings, StrategySettings
from bot.core import MarketRules
from bot.errors import UserError
from bot.ops.explore import Live, _arg, explore

MARKETS = [MarketRules(tick=0.01, lot=0.00001, min_qty=0.00001, min_notional=5.0),
           MarketRules(tick=0.0001, lot=1.0, min_qty=1.0, min_notional=1.0)]


def live(rules: MarketRules, mid: float, q: float, **running: float) -> Live:
    strategy = StrategySettings(model="linear", half_spread=5 * rules.tick, skew=2.0, gamma=0.001)
    risk, execution = RiskSettings(max_position=100 * rules.lot + 0.05), ExecutionSettings(order_size=rules.lot * 3)
    return Live(strategy, risk, execution, rules, mid, q, mid - rules.tick, mid + rules.tick, running or None)


@given(st.floats(min_value=1e-9, max_value=1e9, allow_nan=False) | st.floats(min_value=-1e6, max_value=-1e-9))
def test_a_flag_value_reads_back_as_the_same_float(value: float) -> None:
    text = _arg(value)
    assert float(text) == value and "e" not in text.lower()


@settings(max_examples=40, deadline=None)
@given(
    market=st.sampled_from(MARKETS),
    mid_ticks=st.integers(1_000, 5_000_000),
    q_lots=st.integers(-120, 120),
    model=st.sampled_from(["symmetric", "linear", "as", "glft"]),
    half_ticks=st.integers(0, 60),
    gamma=st.sampled_from(["0.0001", "0.001", "0.05"]),
    min_edge=st.sampled_from(["0", "1.5"]),
)
def test_the_answer_is_what_mmbot_quote_prints_for_its_command(
    market: MarketRules, mid_ticks: int, q_lots: int, model: str, half_ticks: int,
    gamma: str, min_edge: str,
) -> None:
    mid = mid_ticks * market.tick + market.tick / 3  # between ticks: the live mid is shown a digit finer
    state = live(market, mid, q_lots * market.lot, sigma=0.3 * market.tick * 100, maker_fee=1.0)
    query = {"model": model, "half_spread": repr(half_ticks * market.tick), "gamma": gamma, "min_edge": min_edge}
    answer = explore(state, query)
    assert answer["inputs"]["model"] == model and answer["inputs"]["maker_fee"] == 1.0  # the running fee
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(answer["argv"][1:]) == 0
    printed: dict[str, Any] = json.loads(out.getvalue())
    assert printed == answer["quote"]


def test_bad_and_unknown_values_are_one_line_errors() -> None:
    state = live(MARKETS[0], 30000.0, 0.0)
    for query, text in (({"q": "abc"}, "q: not a number"), ({"gamma": "-1"}, "--gamma"),
                        ({"nope": "1"}, "unknown parameter 'nope'"), ({"mid": "inf"}, "mid: must be finite"),
                        ({"limit": "0"}, "limit")):
        with pytest.raises(UserError) as err:
            explore(state, query)
        assert text in err.value.lines[0] and len(err.value.lines) == 1
    with pytest.raises(UserError, match="no live mid yet"):
        explore(live(MARKETS[0], 30000.0, 0.0).__class__(**{**live(MARKETS[0], 1.0, 0.0).__dict__, "mid": None}), {})
