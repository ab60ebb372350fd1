"""make_quote: the worked example, rounding, post-only clamp, limits, and properties over all models."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.core import LimitParams, MarketRules, ModelParams, Quote, QuoteInputs, make_quote
from bot.core.pipeline import quote_fields

RULES = MarketRules(tick=0.01, lot=0.0)
WORKED = ModelParams(model="linear", half_spread=0.05, skew=0.01)


def test_worked_example() -> None:
    quote = make_quote(QuoteInputs(mid=100.0, q=45.0), WORKED, LimitParams(1000.0, 1.0), RULES)
    assert quote.reservation == pytest.approx(99.55)
    assert (quote.bid, quote.ask) == (99.50, 99.60)
    assert (quote.bid_size, quote.ask_size) == (1.0, 1.0)
    assert quote.bid_reason is None and quote.ask_reason is None


@pytest.mark.parametrize("q", [30.0, 45.0])
def test_worked_example_with_limit_quotes_only_the_ask(q: float) -> None:
    quote = make_quote(QuoteInputs(mid=100.0, q=q), WORKED, LimitParams(30.0, 1.0), RULES)
    assert quote.bid is None and quote.bid_size == 0.0 and quote.bid_reason == "position limit"
    assert quote.ask == pytest.approx(100.0 - 0.01 * q + 0.05) and quote.ask_size == 1.0


def test_short_at_the_limit_quotes_only_the_bid() -> None:
    quote = make_quote(QuoteInputs(mid=100.0, q=-45.0), WORKED, LimitParams(30.0, 1.0), RULES)
    assert quote.ask is None and quote.ask_reason == "position limit"
    assert (quote.bid, quote.ask_size) == (100.40, 0.0)


def test_rounding_is_robust_to_float_noise() -> None:
    # 0.3 - 0.1 = 0.19999999999999998 and 0.3 + 0.1 = 0.4: both already on the 0.1 grid
    params = ModelParams(model="symmetric", half_spread=0.1)
    quote = make_quote(QuoteInputs(mid=0.3, q=0.0), params, LimitParams(1.0, 0.1), MarketRules(0.1, 0.0))
    assert (quote.bid, quote.ask) == (0.2, 0.4)


def test_rounding_is_outward() -> None:
    params = ModelParams(model="symmetric", half_spread=0.013)
    quote = make_quote(QuoteInputs(mid=100.0, q=0.0), params, LimitParams(1.0, 0.1), RULES)
    assert (quote.bid, quote.ask) == (99.98, 100.02)


def test_zero_spread_still_leaves_a_tick_between_bid_and_ask() -> None:
    params = ModelParams(model="symmetric", half_spread=0.0)
    quote = make_quote(QuoteInputs(mid=100.0, q=0.0), params, LimitParams(1.0, 0.1), RULES)
    assert quote.bid is not None and quote.ask is not None and quote.bid < quote.ask


def test_min_spread_widens_around_the_centre() -> None:
    params = ModelParams(model="linear", half_spread=0.01, skew=0.01, min_spread=0.2)
    quote = make_quote(QuoteInputs(mid=100.0, q=10.0), params, LimitParams(100.0, 1.0), RULES)
    assert quote.half_spread == pytest.approx(0.1)
    assert (quote.bid, quote.ask) == (99.80, 100.00)


def test_post_only_clamp() -> None:
    # centre far above the book: the bid would cross the best ask
    params = ModelParams(model="linear", half_spread=0.05, skew=0.01)
    inputs = QuoteInputs(mid=100.0, q=-50.0, best_bid=99.99, best_ask=100.01)
    quote = make_quote(inputs, params, LimitParams(100.0, 1.0), RULES)
    assert quote.bid == 100.00 and quote.ask == 100.55
    inputs = QuoteInputs(mid=100.0, q=50.0, best_bid=99.99, best_ask=100.01)
    quote = make_quote(inputs, params, LimitParams(100.0, 1.0), RULES)
    assert quote.ask == 100.00 and quote.bid == 99.45


def test_open_orders_use_up_room() -> None:
    limits = LimitParams(max_position=1.0, order_size=0.3)
    quote = make_quote(QuoteInputs(mid=100.0, q=0.5, open_buy=0.3, open_sell=0.2), WORKED, limits, RULES)
    assert quote.bid_size == pytest.approx(0.2)
    assert quote.ask_size == pytest.approx(0.3)
    quote = make_quote(QuoteInputs(mid=100.0, q=0.5, open_buy=0.5), WORKED, limits, RULES)
    assert quote.bid is None and quote.bid_reason == "position limit"


def test_max_notional_caps_the_growing_side() -> None:
    limits = LimitParams(max_position=100.0, order_size=1.0, max_notional=1000.0)
    params = ModelParams(model="symmetric", half_spread=0.5)
    quote = make_quote(QuoteInputs(mid=100.0, q=9.7), params, limits, MarketRules(0.01, 0.001))
    # bid 99.5: (9.7 + size) * 99.5 <= 1000 -> size <= 0.3502..., truncated to the lot
    assert quote.bid == 99.5 and quote.bid_size == pytest.approx(0.35)
    assert quote.ask_size == 1.0
    quote = make_quote(QuoteInputs(mid=100.0, q=10.1), params, limits, MarketRules(0.01, 0.001))
    assert quote.bid is None and quote.bid_reason == "max notional"


def test_market_rules_drop_orders_with_a_reason() -> None:
    params = ModelParams(model="symmetric", half_spread=0.5)
    limits = LimitParams(max_position=1.0, order_size=0.01)
    quote = make_quote(QuoteInputs(mid=100.0, q=0.0), params, limits, MarketRules(0.01, 0.001, min_notional=5.0))
    assert quote.bid is None and quote.bid_reason == "below min notional"
    assert quote.ask is None and quote.ask_reason == "below min notional"
    quote = make_quote(QuoteInputs(mid=100.0, q=0.995), params, limits, MarketRules(0.01, 0.01))
    assert quote.bid is None and quote.bid_reason == "below min qty"  # room 0.005 < one lot
    assert quote.ask_size == 0.01


def test_invalid_mid_quotes_nothing() -> None:
    for mid in (0.0, -1.0, math.nan):
        quote = make_quote(QuoteInputs(mid=mid, q=0.0), WORKED, LimitParams(1.0, 0.1), RULES)
        assert quote.bid is None and quote.ask is None and quote.bid_reason == "invalid mid"


def test_to_dict_nulls_a_missing_side() -> None:
    quote = make_quote(QuoteInputs(mid=100.0, q=45.0), WORKED, LimitParams(30.0, 1.0), RULES)
    d = quote.to_dict()
    assert d["bid"] is None and d["bid_size"] is None and d["bid_reason"] == "position limit"
    assert d["ask"] == 99.6 and d["ask_size"] == 1.0
    assert set(d) >= {"bid", "ask", "bid_size", "ask_size", "reservation", "half_spread"}


# ---- properties -------------------------------------------------------------------------------

ticks = st.sampled_from([1e-4, 0.01, 0.05, 0.1, 0.5, 1.0])


@st.composite
def model_params(draw: st.DrawFn, models: tuple[str, ...] = ("symmetric", "linear", "as", "glft")) -> ModelParams:
    return ModelParams(
        model=draw(st.sampled_from(models)),
        half_spread=draw(st.floats(0.0, 5.0)),
        skew=draw(st.floats(0.0, 1.0)),
        target_q=draw(st.floats(-5.0, 5.0)),
        gamma=draw(st.floats(1e-3, 2.0)),
        sigma=draw(st.floats(1e-3, 2.0)),
        kappa=draw(st.floats(0.5, 50.0)),
        A=draw(st.floats(0.1, 10.0)),
        horizon=draw(st.floats(1.0, 600.0)),
        horizon_mode=draw(st.sampled_from(["rolling", "session"])),
        min_spread=draw(st.sampled_from([0.0, 0.1, 1.0])),
    )


@st.composite
def touches(draw: st.DrawFn, mid: float) -> tuple[float | None, float | None]:
    if not draw(st.booleans()):
        return None, None
    bid = draw(st.floats(mid * 0.9, mid * 1.1))
    ask = draw(st.floats(mid * 0.9, mid * 1.1))
    return bid, ask


def _on_tick(price: float, tick: float) -> bool:
    n = price / tick
    return abs(n - round(n)) < 1e-6


@given(model_params(), st.floats(50.0, 5000.0), st.floats(-20.0, 20.0), st.floats(0.0, 10.0), ticks, st.data())
def test_raising_q_moves_both_quotes_down(
    params: ModelParams, mid: float, q: float, dq: float, tick: float, data: st.DataObject
) -> None:
    best_bid, best_ask = data.draw(touches(mid))
    limits = LimitParams(max_position=1e9, order_size=1.0)
    rules = MarketRules(tick, 0.0)
    low = make_quote(QuoteInputs(mid=mid, q=q, best_bid=best_bid, best_ask=best_ask), params, limits, rules)
    high = make_quote(QuoteInputs(mid=mid, q=q + dq, best_bid=best_bid, best_ask=best_ask), params, limits, rules)
    if low.bid is not None and high.bid is not None:
        assert high.bid <= low.bid
    if low.ask is not None and high.ask is not None:
        assert high.ask <= low.ask
    assert high.reservation <= low.reservation


@given(model_params(("linear", "as", "glft")), st.floats(-20.0, 20.0), st.floats(0.5, 10.0))
def test_skewing_models_strictly_lower_the_reservation(params: ModelParams, q: float, dq: float) -> None:
    assume(params.model != "linear" or params.skew > 1e-6)
    limits = LimitParams(max_position=1e9, order_size=1.0)
    low = make_quote(QuoteInputs(mid=1000.0, q=q), params, limits, RULES)
    high = make_quote(QuoteInputs(mid=1000.0, q=q + dq), params, limits, RULES)
    assert high.reservation < low.reservation


@given(model_params(), st.floats(1.0, 5000.0), st.floats(-50.0, 50.0), ticks, st.data())
def test_bid_below_ask_on_tick_and_post_only(
    params: ModelParams, mid: float, q: float, tick: float, data: st.DataObject
) -> None:
    best_bid, best_ask = data.draw(touches(mid))
    inputs = QuoteInputs(mid=mid, q=q, best_bid=best_bid, best_ask=best_ask)
    quote = make_quote(inputs, params, LimitParams(max_position=1e9, order_size=1.0), MarketRules(tick, 0.0))
    if quote.bid is not None and quote.ask is not None:
        assert quote.bid < quote.ask
    for price in (quote.bid, quote.ask):
        if price is not None:
            assert price > 0
            assert _on_tick(price, tick)
    if quote.bid is not None and best_ask is not None:
        assert quote.bid < best_ask
    if quote.ask is not None and best_bid is not None:
        assert quote.ask > best_bid
    if quote.bid is not None and quote.ask is not None and params.min_spread > 0:
        assert quote.ask - quote.bid >= params.min_spread - 1e-9


@given(
    model_params(),
    st.floats(1.0, 1000.0),  # limit
    st.floats(-1.5, 1.5),  # q as a fraction of the limit
    st.floats(0.0, 0.5),  # open_buy, fraction of limit
    st.floats(0.0, 0.5),  # open_sell, fraction of limit
    st.floats(0.001, 2.0),  # order size, fraction of limit
    st.sampled_from([0.0, 0.001, 0.01, 1.0]),  # lot
    st.one_of(st.none(), st.floats(100.0, 1e6)),  # max notional
)
def test_full_fill_never_breaches_the_limit(
    params: ModelParams,
    limit: float,
    qf: float,
    ob: float,
    os_: float,
    sf: float,
    lot: float,
    max_notional: float | None,
) -> None:
    q, open_buy, open_sell = qf * limit, ob * limit, os_ * limit
    limits = LimitParams(max_position=limit, order_size=sf * limit, max_notional=max_notional)
    inputs = QuoteInputs(mid=100.0, q=q, open_buy=open_buy, open_sell=open_sell)
    quote = make_quote(inputs, params, limits, MarketRules(0.01, lot))
    eps = 1e-9 * limit
    if quote.bid is not None:
        worst = q + open_buy + quote.bid_size
        assert quote.bid_size > 0
        assert worst <= limit + eps
        if max_notional is not None and worst > 0:
            assert worst * quote.bid <= max_notional * (1 + 1e-9)
    else:
        assert quote.bid_size == 0.0 and quote.bid_reason
    if quote.ask is not None:
        worst = q - open_sell - quote.ask_size
        assert quote.ask_size > 0
        assert worst >= -limit - eps
        if max_notional is not None and worst < 0:
            assert -worst * quote.ask <= max_notional * (1 + 1e-9)
    else:
        assert quote.ask_size == 0.0 and quote.ask_reason
    if q >= limit:
        assert quote.bid is None
    if q <= -limit:
        assert quote.ask is None


@given(st.floats(1e-3, 2.0), st.floats(1e-3, 2.0), st.floats(0.1, 10.0), st.floats(0.5, 50.0), st.floats(-20.0, 20.0))
def test_glft_quotes_are_symmetric_around_the_skewed_mid(g: float, s: float, A: float, k: float, q: float) -> None:
    from bot.core.models import glft_coefficients

    tick = 1e-6
    half, skew = glft_coefficients(g, s, A, k)
    params = ModelParams(model="glft", gamma=g, sigma=s, A=A, kappa=k)
    quote = make_quote(QuoteInputs(mid=1000.0, q=q), params, LimitParams(1e9, 1.0), MarketRules(tick, 0.0))
    assume(quote.bid is not None and quote.ask is not None)
    assert quote.bid is not None and quote.ask is not None
    centre = 1000.0 - skew * q
    assert (quote.bid + quote.ask) / 2 == pytest.approx(centre, abs=tick)
    assert quote.ask - quote.bid == pytest.approx(2 * half, abs=2 * tick)


# ---- the fast pipeline equals the plain formulas ---------------------------------------------


def _plain_quote(inputs: QuoteInputs, params: ModelParams, limits: LimitParams, rules: MarketRules) -> Quote:
    """make_quote as first written (no memo, no skipped rounding, no inlining): the reference."""
    from bot.core.models import centre_and_half_spread

    def grid(n: int, step: float) -> float:
        return round(n * step, max(0, -math.floor(math.log10(step))) + 3)

    def floor_to(x: float, step: float) -> float:
        return grid(math.floor(round(x / step, 9)), step)

    def market(price: float, size: float) -> tuple[float, str | None]:
        if rules.max_qty is not None and size > rules.max_qty:
            size = rules.max_qty
        if rules.lot > 0:
            size = floor_to(size, rules.lot)
        if size <= 0 or size < rules.min_qty:
            return 0.0, "below min qty"
        if size * price < rules.min_notional:
            return 0.0, "below min notional"
        return size, None

    mid = inputs.mid
    if not (mid > 0 and math.isfinite(mid)):
        return Quote(None, 0.0, None, 0.0, mid, 0.0, "invalid mid", "invalid mid")
    centre, half = centre_and_half_spread(inputs, params)
    if not (math.isfinite(centre) and math.isfinite(half)):
        return Quote(None, 0.0, None, 0.0, centre, half, "invalid model output", "invalid model output")
    if 2.0 * half < params.min_spread:
        half = 0.5 * params.min_spread
    tick = rules.tick
    n_bid = math.floor(round((centre - half) / tick, 9))
    n_ask = math.ceil(round((centre + half) / tick, 9))
    if n_ask <= n_bid:
        n_bid = n_ask - 1
    if inputs.best_ask is not None:
        n_bid = min(n_bid, math.ceil(round(inputs.best_ask / tick, 9)) - 1)
    if inputs.best_bid is not None:
        n_ask = max(n_ask, math.floor(round(inputs.best_bid / tick, 9)) + 1)
    prices = [grid(n, tick) if n > 0 else None for n in (n_bid, n_ask)]
    size = limits.order_size if limits.max_order_size is None else min(limits.order_size, limits.max_order_size)
    sides = []
    for i, (price, sign, open_) in enumerate(zip(prices, (1, -1), (inputs.open_buy, inputs.open_sell), strict=True)):
        limit, why = limits.max_position, "position limit"
        notional = limits.max_notional
        if notional is not None and price is not None and price > 0 and notional / price < limit:
            limit, why = notional / price, "max notional"
        room = (limit - inputs.q - open_) if sign > 0 else (limit + inputs.q - open_)
        amount, reason = (min(size, room), None) if room > 0 else (0.0, why)
        if price is None:
            amount, reason = 0.0, "non-positive price"
        elif reason is None:
            amount, reason = market(price, amount)
        sides.append((None if reason is not None else prices[i], amount, reason))
    (bid, bid_size, bid_reason), (ask, ask_size, ask_reason) = sides
    return Quote(bid, bid_size, ask, ask_size, centre, half, bid_reason, ask_reason)


@given(
    model_params(),
    st.floats(1.0, 50000.0),  # mid
    st.floats(-2.0, 2.0),  # q
    st.floats(0.0, 0.5),  # open buy
    st.floats(0.0, 0.5),  # open sell
    st.sampled_from([1e-5, 0.001, 0.01, 0.05, 0.5]),  # tick
    st.sampled_from([0.0, 1e-5, 0.001, 0.01]),  # lot
    st.sampled_from([0.0, 1e-5, 0.01]),  # min qty
    st.sampled_from([0.0, 1.0, 5.0, 100.0]),  # min notional
    st.one_of(st.none(), st.floats(0.001, 1.0)),  # max qty
    st.one_of(st.none(), st.floats(0.001, 1.0)),  # max order size
    st.one_of(st.none(), st.floats(10.0, 1e5)),  # max notional
    st.data(),
)
def test_make_quote_equals_the_plain_formulas(
    params: ModelParams, mid: float, q: float, open_buy: float, open_sell: float, tick: float, lot: float,
    min_qty: float, min_notional: float, max_qty: float | None, max_order: float | None,
    max_notional: float | None, data: st.DataObject,
) -> None:
    if data.draw(st.booleans()):  # a touch on the grid near the mid (the usual case)
        n = round(mid / tick) + data.draw(st.integers(-3, 3))
        best_bid, best_ask = round(n * tick, 12), round((n + data.draw(st.integers(1, 3))) * tick, 12)
    else:
        best_bid, best_ask = data.draw(touches(mid))
    inputs = QuoteInputs(mid, q, best_bid, best_ask, data.draw(st.floats(0.0, 1e4)), open_buy=open_buy,
                         open_sell=open_sell)
    limits = LimitParams(data.draw(st.floats(0.01, 2.0)), data.draw(st.floats(1e-4, 0.5)), max_order, max_notional)
    rules = MarketRules(tick, lot, min_qty, min_notional, max_qty)
    want = _plain_quote(inputs, params, limits, rules)
    assert make_quote(inputs, params, limits, rules) == want
    # dataclasses.fields, not Quote.__slots__: compiled by mypyc (setup.py) the class has no __slots__
    assert quote_fields(inputs, params, limits, rules) == tuple(getattr(want, f.name) for f in dataclasses.fields(want))
