"""The simulated perpetual's money: position arithmetic vs an exact reference, USDT conservation under
random commands, -2019, funding once per interval per position, and liquidation."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.sim.engine import HOUSE, SimExchange
from bot.sim.events import SimError
from bot.sim.perp.engine import PerpExchange
from bot.sim.perp.margin import Position, apply_fill, liquidation_mark, unrealized
from bot.sim.perp.records import PerpAccountUpdate, PerpOrderReport
from tests.sim.test_perp_engine import BTC, MID, _amount, _code, _cross, _make, _settings

K = 1000  # quote atoms per tick per lot at tick 0.01, lot 0.001


@given(st.lists(st.tuples(st.integers(-50, 50).filter(bool), st.integers(1, 10**6)), max_size=40),
       st.integers(1, 10**6))
def test_position_arithmetic_matches_an_exact_reference(trades: list[tuple[int, int]], mark: int) -> None:
    pos = Position()
    qty, avg, realized_ref = 0, Fraction(0), Fraction(0)
    cash, realized = 0, 0
    for lots, price in trades:
        realized += apply_fill(pos, lots, price, K)
        cash -= lots * price * K
        if qty == 0 or (qty > 0) == (lots > 0):
            avg = (avg * abs(qty) + price * abs(lots)) / (abs(qty) + abs(lots))
            qty += lots
            continue
        closed = min(abs(lots), abs(qty))
        realized_ref += (1 if qty > 0 else -1) * closed * (price - avg) * K
        rest = abs(lots) - closed
        qty += (1 if lots > 0 else -1) * closed
        if rest:
            qty, avg = (1 if lots > 0 else -1) * rest, Fraction(price)
    assert pos.qty == qty and pos.realized == realized
    assert abs(realized - realized_ref) <= len(trades)  # at most an atom of rounding per fill
    assert abs(pos.cost - qty * avg * K) <= len(trades)
    # exact: realized + unrealized is the cash flow plus the position at the mark
    assert realized + unrealized(pos, mark, K) == cash + qty * mark * K


def _funds_at_mark(ex: PerpExchange) -> int:
    """Sum over every account of wallet + unrealized at the mark, plus the pots."""
    sym = ex.symbols[BTC]
    total = ex.fee_pot + ex.funding_pot
    for a in ex.accounts.values():
        total += a.wallet + sum(unrealized(p, sym.mark, sym.k) for p in a.positions.values())
    return total


_order = st.tuples(
    st.just("order"), st.sampled_from(["k1", "k2"]), st.sampled_from(["BUY", "SELL"]),
    st.sampled_from(["LIMIT", "MARKET"]), st.sampled_from([1, 7, 60, 250, 400]), st.integers(-30, 30),
    st.sampled_from(["GTC", "IOC", "GTX", "FOK"]), st.sampled_from([False, False, True]),
    st.sampled_from(["LONG", "SHORT"]),  # k2 is in hedge mode
)
_action = st.one_of(
    _order,
    _order,
    st.tuples(st.just("step"), st.integers(1, 30)),
    st.tuples(st.just("cancel"), st.sampled_from(["k1", "k2"])),
    st.tuples(st.just("funding")),
    st.tuples(st.just("shock"), st.sampled_from([-400.0, -150.0, 150.0, 400.0])),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_action, min_size=8, max_size=30), st.integers(0, 3))
def test_usdt_is_conserved_under_random_orders_steps_funding_and_liquidations(actions: list[Any], seed: int) -> None:
    s = _settings(quiet=False, funding_interval=1.0).model_copy(update={"seed": seed})
    spot = SimExchange(s, 0)
    ex = PerpExchange(s, spot, 0)
    for acct in ("k1", "k2"):
        a = ex.account_by_key(acct)
        assert a is not None
        a.wallet = 300 * 10**8  # small wallets: liquidations happen
        ex.set_leverage(a, BTC, 100)
    ex.set_dual_side(ex.accounts["user2"], True)
    start = ex.total_funds()
    assert _funds_at_mark(ex) == start
    now = 0
    for action in actions:
        kind = action[0]
        try:
            if kind == "order":
                _, key, side, type_, lots, offset, tif, reduce_only, hedge_side = action
                a = ex.account_by_key(key)
                assert a is not None
                price = 0 if type_ == "MARKET" else ex.symbols[BTC].mark + offset * 100
                position_side = hedge_side if a.dual_side else "BOTH"
                ex.place_order(a, BTC, side, type_, lots, price, tif, f"c{now}{ex._next_order_id}", now,
                               reduce_only=reduce_only and not a.dual_side, position_side=position_side)
            elif kind in ("step", "shock"):
                if kind == "shock":
                    ex.shock_basis(action[1])
                for _ in range(action[1] if kind == "step" else 5):
                    now += 100
                    spot.step(0.1, now)
                    ex.step(0.1, now)
            elif kind == "cancel":
                ex.cancel_all(ex.account_by_key(action[1]), BTC, now)  # type: ignore[arg-type]
            else:
                ex.settle_funding(BTC, now)
        except SimError:
            pass
        assert ex.total_funds() == start
        assert sum(p.qty for a in ex.accounts.values() for p in a.positions.values()) == 0
        assert _funds_at_mark(ex) == start
        if kind in ("step", "shock"):  # nobody left below maintenance: liquidated
            for a in ex.accounts.values():
                if a.name != HOUSE and any(p.qty for p in a.positions.values()):
                    info = ex.account_info(a)
                    assert info.margin_balance >= info.maint_margin


def test_new_orders_need_margin_for_their_opening_part() -> None:
    _, ex, u1, u2 = _make()
    u1.wallet = 100 * 10**8
    ex.set_leverage(u1, BTC, 1)
    assert _code(lambda: ex.set_leverage(u1, BTC, 126)) == -4028
    assert _code(lambda: ex.place_order(u1, BTC, "BUY", "LIMIT", 4, MID, "GTC", "a", 1)) == -2019  # 120 USDT
    ex.place_order(u1, BTC, "BUY", "LIMIT", 2, MID - 5000, "GTC", "b", 1)  # 59 USDT: fits
    assert ex.account_info(u1).open_order_initial_margin == 2 * (MID - 5000) * K
    assert _code(lambda: ex.place_order(u1, BTC, "BUY", "LIMIT", 2, MID, "GTC", "c", 1)) == -2019  # 60 more
    ex.cancel_all(u1, BTC, 2)
    ex.set_leverage(u1, BTC, 20)
    _cross(ex, u2, u1, "BUY", 50)  # 1500 USDT at 20x: 75 USDT of margin
    info = ex.account_info(u1)
    assert info.position_initial_margin == 50 * MID * K // 20
    assert info.maint_margin == 50 * MID * K * 4 // 1000
    # closing needs no margin even with none available; the opening part of a flip does
    ex.set_leverage(u1, BTC, 1)
    assert ex.account_info(u1).available == 0
    ex.place_order(u1, BTC, "SELL", "LIMIT", 50, MID + 100, "GTC", "d", 3)
    assert _code(lambda: ex.place_order(u1, BTC, "SELL", "LIMIT", 60, MID + 100, "GTC", "e", 3)) == -2019


def test_funding_is_booked_once_per_interval_per_position() -> None:
    spot, ex, u1, u2 = _make(funding_interval=1.0, basis_bps=10.0)
    ex.set_dual_side(u2, True)
    _cross(ex, u2, u1, "BUY", 10, maker_side="SHORT")
    _cross(ex, u2, u1, "SELL", 4, maker_side="LONG")  # u1 long 6 (one-way); u2 short 10 and long 4
    assert ex.next_funding_time(BTC) == 1000
    ex.take_events()
    for t in range(100, 5001, 100):
        spot.step(0.1, t)
        ex.step(0.1, t)
    history = ex.funding_history(BTC)
    assert [r.time for r in history] == [1000, 2000, 3000, 4000, 5000]
    assert ex.next_funding_time(BTC) == 6000
    rate = history[-1].rate
    assert rate == Decimal("0.0011")  # 10 bps of premium + 1 bp of interest
    mark = ex.symbols[BTC].mark
    rows1 = ex.income(u1, BTC, "FUNDING_FEE")
    rows2 = ex.income(u2, BTC, "FUNDING_FEE")
    assert [r.time for r in rows1] == [1000, 2000, 3000, 4000, 5000]
    assert len(rows2) == 10  # each of its two positions, once per interval
    assert len({r.id for r in rows1 + rows2}) == 15
    assert rows1[-1].amount == -(6 * mark * K) * 11 // 10000  # longs pay
    assert sorted(r.amount for r in rows2[-2:]) == [-(4 * mark * K) * 11 // 10000, 10 * mark * K * 11 // 10000]
    updates = [e for e in ex.take_events() if isinstance(e, PerpAccountUpdate) and e.account == u1.name]
    assert [e.reason for e in updates] == ["FUNDING_FEE"] * 5
    assert [e.change for e in updates] == [r.amount for r in rows1]  # Binance's bc: the fee itself
    assert ex.funding_rate(BTC) == rate  # the next one, predicted


def test_an_account_below_its_maintenance_margin_is_liquidated_at_the_mark_by_the_house() -> None:
    _spot, ex, u1, u2 = _make()
    u1.wallet = 100 * 10**8
    ex.set_leverage(u1, BTC, 125)
    _cross(ex, u2, u1, "BUY", 300)  # 9000 USDT long on ~100 USDT: maintenance 36 USDT
    resting, _ = ex.place_order(u1, BTC, "BUY", "LIMIT", 1, MID - 3000, "GTC", "r", 0)
    liq = next(p for p in ex.positions(u1) if p.position_side == "BOTH").liquidation_price
    assert Decimal(29700) < liq < Decimal(30000)
    ex.step(0.1, 100)
    assert _amount(ex, u1) == 300 * 10**5  # still fine
    ex.take_events()
    ex.shock_basis(-200.0)  # the mark 2% lower: -180 USDT, more than the wallet
    ex.step(0.1, 200)
    assert _amount(ex, u1) == 0 and resting.status == "CANCELED"
    events = ex.take_events()
    liquidations = [e for e in events if isinstance(e, PerpOrderReport) and e.type == "LIQUIDATION"]
    assert [e.exec_type for e in liquidations] == ["NEW", "CALCULATED"]
    assert liquidations[1].fill is not None and liquidations[1].fill.price == ex.mark_price(BTC)
    assert any(isinstance(e, PerpAccountUpdate) and e.reason == "LIQUIDATION" for e in events)
    assert u1.wallet == 0 and ex.income(u1, None, "INSURANCE_CLEAR")  # the house covered the loss
    assert ex.accounts[HOUSE].positions[(BTC, "BOTH")].qty == 300


def test_liquidation_mark_solves_margin_balance_equals_maintenance() -> None:
    rate = Fraction(4, 1000)
    for qty in (300, -300):
        pos = Position()
        apply_fill(pos, qty, MID, K)
        mark = liquidation_mark(100 * 10**8, pos, rate, K)
        assert mark is not None
        assert 100 * 10**8 + qty * mark * K - pos.cost == abs(qty) * mark * K * rate
