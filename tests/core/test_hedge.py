"""The hedge decision (bot.core.hedge.decide): its rules as properties over random views, and a few worked cases."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from hypothesis import assume, given
from hypothesis import strategies as st

from bot.core.hedge import (
    BELOW_MINIMUM,
    CLOSING,
    COOLDOWN,
    HEDGE,
    NO_TOUCH,
    POSITION_LIMIT,
    REDUCE_ONLY,
    WITHIN_BAND,
    HedgeDecision,
    HedgeParams,
    HedgeRules,
    HedgeView,
    decide,
    net_exposure,
)

RULES = HedgeRules(lot=Decimal("0.001"), min_qty=Decimal("0.001"), min_notional=5.0, tick=0.1)


def params(**kw: object) -> HedgeParams:
    base = dict(ratio=1.0, band=Decimal("0.01"), min_size=Decimal(0), max_position=Decimal("0.5"), cooldown=1.0,
                style="ioc", slippage_bps=10.0, post_timeout=2.0, position_mode="one_way")
    base.update(kw)
    return HedgeParams(**base)  # type: ignore[arg-type]


def view(spot_q: str, position: str = "0", in_flight: str = "0", **kw: object) -> HedgeView:
    base = dict(bid=30000.0, ask=30000.1, now=100.0, last_order_at=None)
    base.update(kw)
    return HedgeView(Decimal(spot_q), Decimal(position), Decimal(in_flight), **base)  # type: ignore[arg-type]


def signed(d: HedgeDecision) -> Decimal:
    assert d.order is not None
    return d.order.amount if d.order.side == "buy" else -d.order.amount


# -- worked cases --------------------------------------------------------------------------------------------

def test_a_long_spot_inventory_is_sold_in_the_perp_down_to_zero_net() -> None:
    d = decide(params(), RULES, view("0.05"))
    assert d.reason == HEDGE and d.net == Decimal("0.05")
    assert d.order is not None
    assert (d.order.side, d.order.amount, d.order.post_only, d.order.reduce_only) == ("sell", Decimal("0.05"),
                                                                                      False, False)
    assert d.order.price == 29970.0  # 30000 x (1 - 10 bps), up to the tick
    assert d.order.position_side is None


def test_within_the_band_nothing_is_sent() -> None:
    assert decide(params(), RULES, view("0.01")) == HedgeDecision(None, Decimal("0.01"), WITHIN_BAND)
    assert decide(params(), RULES, view("0.5", "-0.495")).order is None


def test_an_order_in_flight_counts_as_done_no_double_hedge() -> None:
    first = decide(params(), RULES, view("0.05"))
    assert first.order is not None
    again = decide(params(cooldown=0.0), RULES, view("0.05", in_flight=str(signed(first))))
    assert again.order is None and again.reason == WITHIN_BAND and again.net == 0


def test_the_cooldown_defers_and_says_when() -> None:
    d = decide(params(cooldown=2.0), RULES, view("0.05", now=100.5, last_order_at=99.0))
    assert d.order is None and d.reason == COOLDOWN and d.wake_at == 101.0
    assert decide(params(cooldown=2.0), RULES, view("0.05", now=101.0, last_order_at=99.0)).order is not None


def test_below_the_minimum_size_or_notional_nothing_is_sent() -> None:
    assert decide(params(band=Decimal(0), min_size=Decimal("0.02")), RULES, view("0.015")).reason == BELOW_MINIMUM
    cheap = dataclasses.replace(RULES, min_notional=1000.0)  # 0.02 x 30000 = 600 < 1000
    assert decide(params(), cheap, view("0.02")).reason == BELOW_MINIMUM


def test_the_hedge_position_limit_clamps_and_then_stops() -> None:
    d = decide(params(max_position=Decimal("0.1")), RULES, view("0.3", "-0.05"))
    assert d.order is not None and d.order.amount == Decimal("0.05")  # to -0.1, not -0.3
    d = decide(params(max_position=Decimal("0.1")), RULES, view("0.3", "-0.1"))
    assert d.order is None and d.reason == POSITION_LIMIT
    d = decide(params(max_position=Decimal("0.1")), RULES, view("-0.15", "0.2"))  # beyond the limit, net 0.05:
    assert d.order is not None and (d.order.side, d.order.amount) == ("sell", Decimal("0.05"))  # not enlarged to 0.1


def test_a_reduce_only_view_never_grows_the_hedge() -> None:
    assert decide(params(), RULES, view("0.05", reduce_only=True)).reason == REDUCE_ONLY
    d = decide(params(), RULES, view("0.2", "0.1", reduce_only=True))  # net 0.3: sell 0.3 would cross, sell 0.1
    assert d.order is not None and d.order.amount == Decimal("0.1") and d.order.reduce_only


def test_one_way_a_crossing_order_is_sent_whole_without_reduce_only() -> None:
    d = decide(params(), RULES, view("0.1", "0.05"))  # net 0.15: sell 0.15 from +0.05 to -0.1
    assert d.order is not None and d.order.amount == Decimal("0.15") and not d.order.reduce_only
    d = decide(params(), RULES, view("-0.02", "0.05"))  # sell 0.03 of a 0.05 long: reduce only
    assert d.order is not None and d.order.amount == Decimal("0.03") and d.order.reduce_only


def test_hedge_mode_closes_first_then_opens_the_other_side() -> None:
    p = params(position_mode="hedge", cooldown=0.0)
    d = decide(p, RULES, view("0.1", "0.05"))
    assert d.reason == CLOSING and d.order is not None
    assert (d.order.side, d.order.amount, d.order.position_side, d.order.reduce_only) == ("sell", Decimal("0.05"),
                                                                                          "LONG", False)
    d = decide(p, RULES, view("0.1", "0.05", in_flight="-0.05"))
    assert d.order is not None and (d.order.side, d.order.amount, d.order.position_side) == ("sell",
                                                                                            Decimal("0.1"), "SHORT")


def test_post_then_take_posts_at_the_own_touch_then_takes() -> None:
    p = params(style="post_then_take")
    d = decide(p, RULES, view("0.05"))
    assert d.order is not None and d.order.post_only and d.order.price == 30000.1  # a sell at the ask
    d = decide(p, RULES, view("0.05", taking=True))
    assert d.order is not None and not d.order.post_only and d.order.price == 29970.0


def test_no_touch_and_halt() -> None:
    assert decide(params(), RULES, view("0.05", bid=None)).reason == NO_TOUCH
    assert decide(params(), RULES, view("-0.05", bid=None)).order is not None  # a buy needs the ask only
    assert decide(params(), RULES, view("0.05", halt="paused: mismatch")).reason == "paused: mismatch"


# -- properties ----------------------------------------------------------------------------------------------

def dec(lo: int, hi: int, step: str = "0.001") -> st.SearchStrategy[Decimal]:
    return st.integers(lo, hi).map(lambda n: n * Decimal(step))


views = st.builds(
    HedgeView,
    spot_q=dec(-400, 400),
    position=dec(-300, 300),
    in_flight=st.one_of(st.just(Decimal(0)), dec(-100, 100)),
    bid=st.integers(200000, 400000).map(lambda n: n / 10),
    ask=st.just(None),
    now=st.just(100.0),
    last_order_at=st.just(None),
    halt=st.just(None),
    reduce_only=st.booleans(),
    taking=st.booleans(),
)
all_params = st.builds(
    HedgeParams,
    ratio=st.sampled_from([1.0, 0.5, 2.0, 0.97]),
    band=st.sampled_from([Decimal(0), Decimal("0.005"), Decimal("0.02")]),
    min_size=st.sampled_from([Decimal(0), Decimal("0.003")]),
    max_position=st.sampled_from([Decimal("0.1"), Decimal("0.25"), Decimal("1")]),
    cooldown=st.just(0.0),
    style=st.sampled_from(["ioc", "post_then_take"]),
    slippage_bps=st.sampled_from([0.0, 3.0, 10.0]),
    post_timeout=st.just(2.0),
    position_mode=st.sampled_from(["one_way", "hedge"]),
)
all_rules = st.builds(
    HedgeRules,
    lot=st.sampled_from([Decimal("0.001"), Decimal("0.002"), Decimal("0.01")]),
    min_qty=st.sampled_from([Decimal("0.001"), Decimal("0.01")]),
    min_notional=st.sampled_from([0.0, 5.0, 100.0]),
    tick=st.sampled_from([0.1, 0.01, 0.5]),
)


def with_touch(v: HedgeView, spread_ticks: int, tick: float) -> HedgeView:
    bid = round(round(v.bid / tick) * tick, 6)  # type: ignore[operator]
    return dataclasses.replace(v, bid=bid, ask=round(bid + spread_ticks * tick, 6))


@given(all_params, all_rules, views, st.integers(1, 3))
def test_every_order_obeys_the_rules(p: HedgeParams, r: HedgeRules, raw: HedgeView, spread: int) -> None:
    v = with_touch(raw, spread, r.tick)
    d = decide(p, r, v)
    effective = v.position + v.in_flight
    exact_net = net_exposure(v.spot_q, p.ratio, v.position, v.in_flight)
    assert abs(d.net - exact_net) <= r.lot / 2
    if d.order is None:
        assert d.reason in (WITHIN_BAND, POSITION_LIMIT, BELOW_MINIMUM, REDUCE_ONLY)
        if d.reason == WITHIN_BAND:
            assert abs(d.net) <= p.band
        return
    o = d.order
    assert abs(d.net) > p.band
    after = effective + signed(d)
    # on the lot, at least every minimum
    assert o.amount > 0 and o.amount % r.lot == 0
    assert o.amount >= r.min_qty and o.amount >= p.min_size and float(o.amount) * o.price >= r.min_notional - 1e-9
    # towards 0 net: never past it
    assert (o.side == "buy") == (d.net < 0)
    assert abs(exact_net + signed(d)) <= abs(exact_net)
    if d.reason == HEDGE:  # not clamped: the net ends at the band's centre, up to the lot's rounding
        assert abs(exact_net + signed(d)) <= r.lot / 2
    # never past the hedge position limit (from beyond it: only towards it)
    assert abs(after) <= max(p.max_position, abs(effective))
    # reduce-only view: only shrinks the hedge, never across 0
    if v.reduce_only:
        assert effective != 0 and abs(after) < abs(effective) and (after == 0 or (after > 0) == (effective > 0))
    # position modes
    crosses = effective != 0 and after != 0 and (after > 0) != (effective > 0)
    if p.position_mode == "hedge":
        assert not crosses and not o.reduce_only
        assert o.position_side == ("LONG" if effective > 0 or (effective == 0 and o.side == "buy") else "SHORT")
    else:
        assert o.position_side is None
        assert o.reduce_only == (effective != 0 and not crosses and abs(after) < abs(effective))
    # the price: at the tick, within the cap; post-only at the own touch
    assert abs(o.price / r.tick - round(o.price / r.tick)) < 1e-6
    assert v.bid is not None and v.ask is not None
    if p.style == "post_then_take" and not v.taking:
        assert o.post_only and o.price == (v.bid if o.side == "buy" else v.ask)
    else:
        cap = v.ask * (1 + p.slippage_bps / 1e4) if o.side == "buy" else v.bid * (1 - p.slippage_bps / 1e4)
        assert not o.post_only
        if o.side == "buy":
            assert cap - r.tick < o.price <= cap + 1e-6
        else:
            assert cap - 1e-6 <= o.price < cap + r.tick


@given(all_params, all_rules, views, st.integers(1, 3))
def test_deciding_again_with_the_order_in_flight_never_hedges_twice(
    p: HedgeParams, r: HedgeRules, raw: HedgeView, spread: int
) -> None:
    v = with_touch(raw, spread, r.tick)
    first = decide(p, r, v)
    assume(first.order is not None)
    again = decide(p, r, dataclasses.replace(v, in_flight=v.in_flight + signed(first)))
    if again.order is None:
        return
    # only a clamped or split first step leaves more to do, and never the same order again beyond the net
    assert first.reason != HEDGE
    exact_net = net_exposure(v.spot_q, p.ratio, v.position, v.in_flight)
    total = signed(first) + signed(again)
    assert abs(exact_net + total) <= abs(exact_net)
    if p.position_mode == "hedge":
        assert first.reason == CLOSING and again.order.position_side != first.order.position_side  # type: ignore[union-attr]


@given(all_params, all_rules, views, st.integers(1, 3), st.floats(0.0, 5.0))
def test_the_cooldown_holds_back_exactly_the_order_that_would_go(
    p: HedgeParams, r: HedgeRules, raw: HedgeView, spread: int, since: float
) -> None:
    v = with_touch(raw, spread, r.tick)
    free = decide(p, r, v)
    p2 = dataclasses.replace(p, cooldown=3.0)
    held = decide(p2, r, dataclasses.replace(v, last_order_at=v.now - since))
    if free.order is None:
        assert held == free
    elif since < 3.0:
        assert held.order is None and held.reason == COOLDOWN and held.wake_at == v.now - since + 3.0
    else:
        assert held == free


@given(all_params, all_rules, views)
def test_a_halt_or_a_missing_touch_sends_nothing(p: HedgeParams, r: HedgeRules, v: HedgeView) -> None:
    assert decide(p, r, dataclasses.replace(v, halt="killed: x")).order is None
    assert decide(p, r, dataclasses.replace(v, bid=None, ask=None)).order is None


def _plain_order(p: HedgeParams, r: HedgeRules, v: HedgeView) -> tuple[str, Decimal] | None:
    """The rules said plainly: of the whole-lot amounts that move the net towards 0 without passing it, the largest
    one allowed (within the hedge position limit, or shrinking towards it without crossing 0; reduce-only view:
    shrinking without crossing; hedge mode: not crossing), if it meets every minimum."""
    effective = v.position + v.in_flight
    net = net_exposure(v.spot_q, p.ratio, v.position, v.in_flight)
    if r.lot > 0:
        net = (net / r.lot).quantize(Decimal(1), rounding="ROUND_HALF_EVEN") * r.lot
    if abs(net) <= p.band:
        return None
    side = "buy" if net < 0 else "sell"
    sign = 1 if side == "buy" else -1

    def between(after: Decimal) -> bool:  # on effective's side of 0 and not beyond it
        return effective != 0 and (after == 0 or (after > 0) == (effective > 0)) and abs(after) <= abs(effective)

    def allowed(amount: Decimal) -> bool:
        after = effective + sign * amount
        crosses = effective != 0 and after != 0 and (after > 0) != (effective > 0)
        if v.reduce_only and not between(after):
            return False
        if p.position_mode == "hedge" and crosses:
            return False
        return abs(after) <= p.max_position or between(after)

    best = None
    k = 1
    while k * r.lot <= abs(net):
        if allowed(k * r.lot):
            best = k * r.lot
        k += 1
    if best is None:
        return None
    price = (v.ask if side == "buy" else v.bid) if p.style == "ioc" or v.taking else (v.bid if side == "buy" else v.ask)
    if best < max(r.min_qty, p.min_size) or float(best) * price * (1 + 1e-12) < r.min_notional:  # type: ignore[operator]
        return None
    return side, best


@given(all_params, all_rules, views, st.integers(1, 3))
def test_the_order_equals_the_plain_rules(p: HedgeParams, r: HedgeRules, raw: HedgeView, spread: int) -> None:
    v = with_touch(raw, spread, r.tick)
    p = dataclasses.replace(p, slippage_bps=0.0)  # the minimum notional read at the touch itself
    d = decide(p, r, v)
    got = None if d.order is None else (d.order.side, d.order.amount)
    assert got == _plain_order(p, r, v)
