"""The fee floor: a maker fill at the quote earns at least ``min_edge`` net of the maker fee, on either side."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.limits import LimitParams
from bot.core.models import ModelParams, fee_floor
from bot.core.pipeline import make_quote
from bot.core.quote import MarketRules, QuoteInputs

RULES = MarketRules(tick=0.01, lot=0.0)
NO_LIMIT = LimitParams(max_position=math.inf, order_size=1.0)

fees = st.floats(-0.001, 0.01)  # a 10 bp rebate to a 1% fee
edges = st.floats(0.0, 0.01)
mids = st.floats(1.0, 1e5)


@given(mid=mids, fee=fees, edge=edges, half=st.floats(0.0, 5.0), model=st.sampled_from(["symmetric", "linear"]),
       q=st.floats(-3.0, 3.0))
def test_a_fill_on_either_side_earns_the_edge_net_of_the_fee(
    mid: float, fee: float, edge: float, half: float, model: str, q: float
) -> None:
    """Valued at the model's centre c, a bid b filled earns (c - b) - fee*b and an ask a earns (a - c) - fee*a:
    both at least edge*c, whatever the model asked for (tick rounding only moves quotes outward)."""
    params = ModelParams(model, half_spread=half, skew=0.05, maker_fee=fee, min_edge=edge)
    quote = make_quote(QuoteInputs(mid=mid, q=q), params, NO_LIMIT, RULES)
    c = quote.reservation
    slack = 1e-9 * c
    if quote.bid is not None:
        assert (c - quote.bid) - fee * quote.bid >= edge * c - slack
    if quote.ask is not None:
        assert (quote.ask - c) - fee * quote.ask >= edge * c - slack
    assert quote.half_spread >= max(half, fee_floor(c, fee, edge))


@given(centre=mids, fee=st.floats(0.0, 0.01), rebate=st.floats(1e-6, 0.001), edge=st.floats(1e-4, 0.01))
def test_a_rebate_narrows_the_floor(centre: float, fee: float, rebate: float, edge: float) -> None:
    assert fee_floor(centre, -rebate, edge) < fee_floor(centre, 0.0, edge) <= fee_floor(centre, fee, edge)


@given(centre=mids, rebate=st.floats(1e-6, 0.001))
def test_a_rebate_above_the_edge_leaves_no_floor(centre: float, rebate: float) -> None:
    """A rebate larger than the wanted edge pays for any half-spread: the floor is 0 (the model's spread stands)."""
    assert fee_floor(centre, -rebate, rebate / 2) == 0.0


def test_the_floor_binds_only_below_it() -> None:
    """The seed's 0.05 half-spread at mid 100 with a 10 bp fee: the floor (0.1001 at 0 edge) widens it to 0.11/0.11
    around the centre; with a 0 fee the model's own 0.05 stands."""
    wide = make_quote(QuoteInputs(mid=100.0, q=0.0), ModelParams("symmetric", half_spread=0.05, maker_fee=0.001),
                      NO_LIMIT, RULES)
    assert wide.half_spread == pytest.approx(0.1 / 0.999)
    assert (wide.bid, wide.ask) == (99.89, 100.11)
    free = make_quote(QuoteInputs(mid=100.0, q=0.0), ModelParams("symmetric", half_spread=0.05), NO_LIMIT, RULES)
    assert (free.bid, free.ask, free.half_spread) == (99.95, 100.05, 0.05)


def test_the_floor_keeps_the_skew() -> None:
    """The floor widens around the model's centre: a long book still leans its ask toward the mid."""
    params = ModelParams("linear", half_spread=0.01, skew=0.05, maker_fee=0.0005)
    flat = make_quote(QuoteInputs(mid=100.0, q=0.0), params, NO_LIMIT, RULES)
    long = make_quote(QuoteInputs(mid=100.0, q=2.0), params, NO_LIMIT, RULES)
    assert long.reservation == pytest.approx(99.9)
    assert long.ask is not None and flat.ask is not None and long.ask < flat.ask
    assert long.bid is not None and flat.bid is not None and long.bid < flat.bid
