"""The simulated perpetual's pure engine: orders, position modes, reduce-only, depth chain, countdown,
lagged reads, spot tracking and determinism."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from pydantic import SecretStr

from bot.sim.engine import SimExchange
from bot.sim.events import PublicTrade, SimError
from bot.sim.perp.basis import Basis, Funding
from bot.sim.perp.engine import PerpAccount, PerpExchange
from bot.sim.perp.records import PerpAccountUpdate, PerpOrderReport
from bot.sim.settings import AccountSpec, PerpSpec, SimSettings, SymbolSpec

BTC = "BTCUSDT"
MID = 3_000_000  # ticks of 0.01: 30000.00


def _settings(quiet: bool = True, **perp: Any) -> SimSettings:
    """BTC/USDT spot and its perpetual (lots of 0.001 BTC); ``quiet``: no takers, no moves, background
    50 USDT away, so the tests' two accounts trade with each other inside it."""
    calm: dict[str, Any] = {"taker_rate": 0, "levels": 1, "half_spread": 5000} if quiet else {}
    spot = SymbolSpec(base="BTC", quote="USDT", volatility=0 if quiet else 4.0, **calm)
    fields: dict[str, Any] = {"basis_volatility": 0.0} if quiet else {"level_size": 0.5, "taker_size": 0.05}
    spec = PerpSpec(base="BTC", quote="USDT", spot="BTC/USDT", step_size=Decimal("0.001"),
                    **calm | fields | perp)
    accounts = [AccountSpec(api_key="k1", api_secret=SecretStr("s1")),
                AccountSpec(api_key="k2", api_secret=SecretStr("s2"))]
    return SimSettings(symbols={"BTC/USDT": spot}, perps={"BTC/USDT:USDT": spec}, accounts=accounts)


def _make(quiet: bool = True, **perp: Any) -> tuple[SimExchange, PerpExchange, PerpAccount, PerpAccount]:
    s = _settings(quiet, **perp)
    spot = SimExchange(s, 0)
    ex = PerpExchange(s, spot, 0)
    u1, u2 = ex.account_by_key("k1"), ex.account_by_key("k2")
    assert u1 is not None and u2 is not None
    return spot, ex, u1, u2


def _cross(ex: PerpExchange, maker: PerpAccount, taker: PerpAccount, side: str, lots: int, price: int = MID,
           **kw: Any) -> None:
    """``taker`` trades ``lots`` on ``side`` against a resting order of ``maker`` at ``price``."""
    other = "SELL" if side == "BUY" else "BUY"
    ex.place_order(maker, BTC, other, "LIMIT", lots, price, "GTC", f"m{ex._next_order_id}", ex.now,
                   position_side=kw.get("maker_side", "BOTH"))
    ex.place_order(taker, BTC, side, "LIMIT", lots, price, "IOC", f"t{ex._next_order_id}", ex.now,
                   reduce_only=kw.get("reduce_only", False), position_side=kw.get("taker_side", "BOTH"))


def _amount(ex: PerpExchange, acct: PerpAccount, side: str = "BOTH", lag_ms: int = 0) -> int:
    return next(p.amount for p in ex.positions(acct, lag_ms) if p.position_side == side)


def _code(fn: Any) -> int:
    with pytest.raises(SimError) as err:
        fn()
    return err.value.code


def test_markets_come_from_settings_and_the_perp_tracks_its_spot_mid_plus_basis() -> None:
    spot, ex, _, _ = _make(quiet=False, basis_bps=20.0, basis_volatility=0.0, basis_reversion=0.05)
    assert set(ex.symbols) == {BTC} and set(ex.by_name) == {"BTC/USDT:USDT"}
    assert ex.basis_bps(BTC) == 20.0
    ex.shock_basis(-40.0)
    for i in range(1, 601):
        spot.step(0.1, i * 100)
        ex.step(0.1, i * 100)
    index = ex.index_price(BTC) / 1e8
    basis = ex.basis_bps(BTC)
    assert basis == pytest.approx(20.0 - 40.0 * math.exp(-0.05 * 60))  # reverting to its mean at 0.05/s
    assert abs(ex.mark_price(BTC) / 1e8 - index * (1 + basis / 1e4)) <= 0.01
    assert ex.index_price(BTC) == round(spot.symbols[BTC].market.mid * spot.symbols[BTC].tick_atoms)
    _, bids, asks = ex.depth(BTC, 5)
    assert bids[0][0] < ex.mark_price(BTC) < asks[0][0]


def test_spot_behaviour_is_unchanged_by_a_perpetual_beside_it() -> None:
    s = _settings(quiet=False)
    alone = SimExchange(SimSettings(symbols=s.symbols, accounts=s.accounts), 0)
    spot = SimExchange(s, 0)
    ex = PerpExchange(s, spot, 0)
    for i in range(1, 201):
        alone.step(0.1, i * 100)
        spot.step(0.1, i * 100)
        ex.step(0.1, i * 100)
    assert alone.take_events() == spot.take_events()


def test_limit_market_ioc_and_gtx_orders() -> None:
    _, ex, u1, u2 = _make()
    order, fills = ex.place_order(u1, BTC, "BUY", "LIMIT", 10, MID - 100, "GTC", "a", 1)
    assert order.status == "NEW" and not fills and [o.id for o in ex.open_orders(u1, BTC)] == [order.id]
    assert _code(lambda: ex.place_order(u2, BTC, "SELL", "LIMIT", 5, MID - 100, "GTX", "b", 2)) == -5022
    assert _code(lambda: ex.place_order(u1, BTC, "BUY", "LIMIT", 1, MID - 100, "GTC", "a", 2)) == -4116
    _, fills = ex.place_order(u2, BTC, "SELL", "MARKET", 4, 0, "GTC", "c", 3)
    assert [(f.price, f.qty, f.is_maker) for f in fills] == [((MID - 100) * 10**6, 4 * 10**5, False)]
    ioc, fills = ex.place_order(u2, BTC, "SELL", "LIMIT", 10, MID - 100, "IOC", "d", 4)
    assert ioc.status == "EXPIRED" and ioc.executed == 6
    assert ex.find_order(u1, BTC, order.id, None).status == "FILLED"
    assert ex.find_order(u1, BTC, None, "a") is order
    assert _amount(ex, u1) == 10 * 10**5 and _amount(ex, u2) == -10 * 10**5
    assert _code(lambda: ex.cancel_order(u1, BTC, order.id, None, 5)) == -2011
    assert _code(lambda: ex.find_order(u2, BTC, order.id, None)) == -2013
    assert ex.cancel_all(u1, BTC, 5) == []  # none open: not an error on futures


def test_a_partly_filled_gtc_rests_its_remainder_and_a_fok_fills_whole_or_not_at_all() -> None:
    _, ex, u1, u2 = _make()
    ex.place_order(u2, BTC, "SELL", "LIMIT", 4, MID, "GTC", "s", 1)
    fok, fills = ex.place_order(u1, BTC, "BUY", "LIMIT", 10, MID, "FOK", "f", 1)
    assert fok.status == "EXPIRED" and not fills
    order, fills = ex.place_order(u1, BTC, "BUY", "LIMIT", 10, MID, "GTC", "a", 1)
    assert sum(f.qty for f in fills) == 4 * 10**5 and order.status == "PARTIALLY_FILLED"
    assert ex.open_orders(u1, BTC) == [order] and ex.depth(BTC, 1)[1][0] == (MID * 10**6, 6 * 10**5)


def test_order_reports_and_account_updates_are_events() -> None:
    _, ex, u1, u2 = _make()
    ex.take_events()
    _cross(ex, u2, u1, "BUY", 10)
    events = ex.take_events()
    mine = [e for e in events if isinstance(e, PerpOrderReport) and e.account == u1.name]
    assert [e.exec_type for e in mine] == ["NEW", "TRADE"] and mine[1].fill is not None
    assert mine[1].status == "FILLED" and mine[1].avg_price == Decimal("30000.00000000")
    updates = [e for e in events if isinstance(e, PerpAccountUpdate)]
    assert {(e.account, e.reason) for e in updates} == {(u1.name, "ORDER"), (u2.name, "ORDER")}
    row = next(e for e in updates if e.account == u1.name).positions[0]
    assert (row.amount, row.entry_price, row.position_side) == (10**6, Decimal("30000.00000000"), "BOTH")
    assert any(isinstance(e, PublicTrade) for e in events)


def test_notional_minimum_except_reduce_only() -> None:
    _, ex, u1, u2 = _make(min_notional=Decimal(100))
    assert _code(lambda: ex.place_order(u1, BTC, "BUY", "LIMIT", 3, MID, "GTC", "a", 1)) == -4164  # 90 USDT
    _cross(ex, u2, u1, "BUY", 4)  # 120 USDT
    order, _ = ex.place_order(u1, BTC, "SELL", "LIMIT", 1, MID + 100, "GTC", "r", 2, reduce_only=True)
    assert order.is_open


def test_reduce_only_in_one_way_mode() -> None:
    _, ex, u1, u2 = _make()
    assert _code(lambda: ex.place_order(u1, BTC, "SELL", "MARKET", 1, 0, "GTC", "a", 1, reduce_only=True)) == -2022
    _cross(ex, u2, u1, "BUY", 10)
    # would increase a long
    assert _code(lambda: ex.place_order(u1, BTC, "BUY", "LIMIT", 1, MID, "GTC", "b", 2, reduce_only=True)) == -2022
    # more than the position: fills the position, expires the rest; never flips to short
    ex.place_order(u2, BTC, "BUY", "LIMIT", 15, MID, "GTC", "c", 3)
    order, fills = ex.place_order(u1, BTC, "SELL", "MARKET", 15, 0, "GTC", "d", 3, reduce_only=True)
    assert sum(f.qty for f in fills) == 10 * 10**5 and order.status == "EXPIRED"
    assert _amount(ex, u1) == 0


def test_a_resting_reduce_only_order_expires_when_the_position_no_longer_covers_it() -> None:
    _, ex, u1, u2 = _make()
    _cross(ex, u2, u1, "BUY", 10)
    resting, _ = ex.place_order(u1, BTC, "SELL", "LIMIT", 10, MID + 1000, "GTC", "r", 2, reduce_only=True)
    ex.take_events()
    _cross(ex, u2, u1, "SELL", 4)  # the position is now 6 lots
    assert resting.status == "EXPIRED" and not ex.open_orders(u1, BTC)
    expired = [e for e in ex.take_events() if isinstance(e, PerpOrderReport) and e.order_id == resting.id]
    assert [e.exec_type for e in expired] == ["EXPIRED"]


def test_position_side_must_match_the_mode() -> None:
    _, ex, u1, _u2 = _make()
    assert _code(lambda: ex.place_order(u1, BTC, "BUY", "LIMIT", 1, MID, "GTC", "a", 1,
                                        position_side="LONG")) == -4061
    ex.set_dual_side(u1, True)
    assert ex.dual_side(u1) and _code(lambda: ex.set_dual_side(u1, True)) == -4059
    assert _code(lambda: ex.place_order(u1, BTC, "BUY", "LIMIT", 1, MID, "GTC", "a", 1)) == -4061
    assert _code(lambda: ex.place_order(u1, BTC, "BUY", "LIMIT", 1, MID, "GTC", "a", 1, reduce_only=True,
                                        position_side="LONG")) == -1106


def test_cross_margin_only() -> None:
    _, ex, u1, _u2 = _make()
    assert _code(lambda: ex.set_margin_type(u1, BTC, "CROSSED")) == -4046  # "No need to change margin type."
    assert _code(lambda: ex.set_margin_type(u1, BTC, "ISOLATED")) == -1000


def test_hedge_mode_holds_long_and_short_and_closes_each_without_flipping() -> None:
    _, ex, u1, u2 = _make()
    ex.set_dual_side(u1, True)
    assert _code(lambda: ex.place_order(u1, BTC, "SELL", "MARKET", 1, 0, "GTC", "a", 1,
                                        position_side="LONG")) == -2022  # nothing to close
    _cross(ex, u2, u1, "BUY", 10, taker_side="LONG")
    _cross(ex, u2, u1, "SELL", 4, taker_side="SHORT")
    assert (_amount(ex, u1, "LONG"), _amount(ex, u1, "SHORT")) == (10**6, -4 * 10**5)
    assert [p.position_side for p in ex.positions(u1)] == ["LONG", "SHORT"]
    assert _code(lambda: ex.place_order(u1, BTC, "SELL", "MARKET", 11, 0, "GTC", "b", 2,
                                        position_side="LONG")) == -2022  # more than the long
    assert _code(lambda: ex.set_dual_side(u1, False)) == -4068
    _cross(ex, u2, u1, "SELL", 10, MID + 500, taker_side="LONG")
    assert (_amount(ex, u1, "LONG"), _amount(ex, u1, "SHORT")) == (0, -4 * 10**5)
    long_row = next(p for p in ex.positions(u1) if p.position_side == "LONG")
    assert long_row.realized == 10 * 500 * 1000  # 10 lots x 5 USDT x 0.001 BTC = 0.05 USDT in atoms


def test_depth_diffs_chain_by_prev_last_and_end_at_the_snapshot_id() -> None:
    spot, ex, u1, _ = _make(quiet=False)
    last = None
    for i in range(1, 101):
        spot.step(0.1, i * 100)
        ex.step(0.1, i * 100)
        if i % 7 == 0:
            ex.place_order(u1, BTC, "BUY", "LIMIT", 1, ex.mark_price(BTC) // 10**6 - 50, "GTC", f"o{i}", i * 100)
        diff = ex.take_depth_diff(BTC)
        if diff is None:
            continue
        if last is not None:
            assert diff.prev_last == last and diff.first == last + 1
        assert diff.first <= diff.last
        last = diff.last
    assert ex.take_depth_diff(BTC) is None
    assert ex.depth(BTC, 5)[0] == last


def test_a_snapshot_plus_the_diffs_after_it_is_the_book() -> None:
    spot, ex, u1, _ = _make(quiet=False)
    last, bids, asks = ex.depth(BTC, 1000)
    book = {"b": dict(bids), "a": dict(asks)}
    ex.take_depth_diff(BTC)
    for i in range(1, 201):
        spot.step(0.1, i * 100)
        ex.step(0.1, i * 100)
        if i % 9 == 0:
            ex.place_order(u1, BTC, "SELL", "LIMIT", 3, ex.mark_price(BTC) // 10**6 + 5, "GTC", f"o{i}", i * 100)
        diff = ex.take_depth_diff(BTC)
        if diff is None:
            continue
        assert diff.prev_last == last
        last = diff.last
        for side, levels in (("b", diff.bids), ("a", diff.asks)):
            for price, qty in levels:
                if qty:
                    book[side][price] = qty
                else:
                    book[side].pop(price, None)
    _, bids, asks = ex.depth(BTC, 1000)
    assert sorted(book["b"].items(), reverse=True) == bids and sorted(book["a"].items()) == asks


def test_countdown_cancels_the_accounts_orders_on_the_symbol_at_expiry_and_zero_disarms() -> None:
    _spot, ex, u1, u2 = _make()
    mine, _ = ex.place_order(u1, BTC, "BUY", "LIMIT", 1, MID - 100, "GTC", "a", 0)
    theirs, _ = ex.place_order(u2, BTC, "BUY", "LIMIT", 1, MID - 100, "GTC", "b", 0)
    ex.arm_countdown(u1, BTC, 500, 0)
    ex.arm_countdown(u2, BTC, 500, 0)
    ex.arm_countdown(u2, BTC, 0, 100)  # disarmed
    for t in (100, 200, 300, 400):
        ex.step(0.1, t)
    assert mine.is_open
    ex.step(0.1, 500)
    assert mine.status == "CANCELED" and theirs.is_open and not ex.countdowns


def test_positions_and_account_can_be_read_as_of_a_lag() -> None:
    _spot, ex, u1, u2 = _make()
    ex.step(0.1, 1000)
    _cross(ex, u2, u1, "BUY", 10)
    wallet_before = ex.account_info(u1, lag_ms=1).wallet
    for t in (1100, 1200, 1300):
        ex.step(0.1, t)
    assert _amount(ex, u1) == 10**6
    assert _amount(ex, u1, lag_ms=500) == 0  # as of 800: before the fill
    assert ex.account_info(u1, lag_ms=500).wallet == wallet_before == 100000 * 10**8
    assert _amount(ex, u1, lag_ms=300) == 10**6
    assert ex.account_info(u1, lag_ms=300).wallet < wallet_before  # the fee


def _run(seed: int) -> tuple[list[Any], int]:
    s = _settings(quiet=False).model_copy(update={"seed": seed})
    spot = SimExchange(s, 0)
    ex = PerpExchange(s, spot, 0)
    u1 = ex.account_by_key("k1")
    assert u1 is not None
    for i in range(1, 301):
        spot.step(0.1, i * 100)
        ex.step(0.1, i * 100)
        if i % 50 == 0:
            ex.place_order(u1, BTC, "BUY" if i % 100 else "SELL", "MARKET", 20, 0, "GTC", f"o{i}", i * 100)
    return ex.take_events(), ex.mark_price(BTC)


def test_same_seed_same_market_and_fills() -> None:
    assert _run(3) == _run(3)
    assert _run(3) != _run(4)


def test_basis_shocks_arrive_as_poisson_jumps_of_the_configured_size() -> None:
    spec = PerpSpec(base="BTC", quote="USDT", spot="BTC/USDT", basis_volatility=0.0, basis_reversion=0.0,
                    basis_shock_rate=3600.0, basis_shock_bps=30.0)
    basis = Basis(spec, np.random.Generator(np.random.PCG64(7)))
    jumps = 0
    for _ in range(200):
        before = basis.bps
        basis.advance(0.1)  # one shock per second on average: about 20 in 20 s
        assert basis.bps / 30.0 == round(basis.bps / 30.0)
        jumps += round(abs(basis.bps - before) / 30.0)
    assert 10 <= jumps <= 35
    quiet = Basis(spec.model_copy(update={"basis_shock_rate": 0.0}), np.random.Generator(np.random.PCG64(7)))
    for _ in range(200):
        quiet.advance(0.1)
    assert quiet.bps == 0.0


def test_funding_rate_is_the_mean_premium_plus_interest_within_the_cap() -> None:
    spec = PerpSpec(base="BTC", quote="USDT", spot="BTC/USDT", funding_interval=8.0)
    funding = Funding(spec, now_ms=1234)
    assert funding.next_ms == 8000 and not funding.due(7999) and funding.due(8000)
    assert funding.rate() == Decimal("0.0001")
    funding.observe(0.0003, 1.0)
    funding.observe(-0.0001, 3.0)  # time-weighted mean 0
    assert funding.rate() == Decimal("0.0001")
    funding.observe(0.05, 4.0)
    assert funding.rate() == Decimal("0.0075")  # capped
    funding.settled(scheduled=True)
    assert funding.next_ms == 16000
    funding.observe(-0.05, 1.0)
    assert funding.rate() == Decimal("-0.0075")
