"""Inventory accounting: exact q, average cost, the P&L identity, dedup, spread metrics."""

from __future__ import annotations

import math
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bot.core.inventory import Fill, Inventory


def _inv() -> Inventory:
    return Inventory(base="BTC", quote="USDT")


def test_round_trip_realizes_spread_and_fees() -> None:
    inv = _inv()
    assert inv.apply(Fill("1", "buy", 99.9, "0.5", fee=0.01, fee_currency="USDT"))
    assert inv.q == 0.5 and inv.avg_entry == 99.9
    assert inv.apply(Fill("2", "sell", 100.1, "0.5", fee=0.01, fee_currency="USDT"))
    assert inv.q_exact == 0
    assert math.isclose(inv.realized, 0.1)
    assert math.isclose(inv.fees, 0.02)
    assert math.isclose(inv.total_pnl(123.0), 0.08)
    assert math.isclose(inv.cash, 0.08)
    assert inv.max_abs_q == Decimal("0.5")


def test_duplicate_trade_id_is_ignored() -> None:
    inv = _inv()
    assert inv.apply(Fill("7", "buy", 100.0, "0.1"))
    assert not inv.apply(Fill("7", "buy", 100.0, "0.1"))
    assert inv.q_exact == Decimal("0.1") and inv.fills == 1


def test_q_is_exact_decimal_sum() -> None:
    inv = _inv()
    for i in range(10):
        inv.apply(Fill(str(i), "buy", 100.0, 0.1))
    assert inv.q_exact == Decimal("1.0")  # the float sum would be 0.9999999999999999


def test_base_fee_reduces_q_like_the_venue_balance() -> None:
    inv = _inv()
    inv.apply(Fill("1", "buy", 100.0, "1", fee=0.001, fee_currency="BTC"))
    assert inv.q_exact == Decimal("0.999")
    assert math.isclose(inv.fees, 0.1)
    assert math.isclose(inv.cash, -100.0)
    assert math.isclose(inv.total_pnl(100.0), inv.cash + inv.q * 100.0)


def test_crossing_zero_opens_at_fill_price() -> None:
    inv = _inv()
    inv.apply(Fill("1", "buy", 100.0, "1"))
    inv.apply(Fill("2", "sell", 101.0, "3"))
    assert inv.q_exact == Decimal("-2")
    assert inv.avg_entry == 101.0
    assert math.isclose(inv.realized, 1.0)
    assert math.isclose(inv.unrealized(100.0), 2.0)


def test_spread_captured_and_skew_cost() -> None:
    inv = _inv()
    # symmetric would bid 99.95 around mid 100 with h=0.05; skewed (short) bid at 99.98 gives up 0.03/unit
    inv.apply(Fill("1", "buy", 99.98, "2", mid=100.0, quote_mid=100.0, quote_half_spread=0.05))
    assert math.isclose(inv.spread_captured, 0.04)
    assert math.isclose(inv.skew_cost, 0.06)
    # long: ask skewed down to 100.01 from 100.05 gives up 0.04/unit; sold 1 unit above a 99.9 mid
    inv.apply(Fill("2", "sell", 100.01, "1", mid=99.9, quote_mid=100.0, quote_half_spread=0.05))
    assert math.isclose(inv.spread_captured, 0.04 + 0.11)
    assert math.isclose(inv.skew_cost, 0.06 + 0.04)


fills = st.lists(
    st.tuples(
        st.sampled_from(["buy", "sell"]),
        st.integers(9000, 11000),  # price in cents
        st.integers(1, 500),  # amount in 0.001 units
        st.integers(0, 50),  # fee in 0.0001 of the notional
        st.sampled_from(["BTC", "USDT"]),
    ),
    max_size=40,
)


@given(fills, st.integers(8000, 12000))
def test_pnl_identity(trades: list[tuple[str, int, int, int, str]], mark_cents: int) -> None:
    """realized + unrealized - fees == change of quote balance + q * mark, and q equals the base delta."""
    inv = _inv()
    base_delta, quote_delta = Decimal(0), Decimal(0)
    for i, (side, cents, milli, fee_bp, fee_ccy) in enumerate(trades):
        price, amount = Decimal(cents) / 100, Decimal(milli) / 1000
        sign = 1 if side == "buy" else -1
        if fee_ccy == "BTC":
            fee = amount * fee_bp / 10000
            base_delta -= fee
        else:
            fee = price * amount * fee_bp / 10000
            quote_delta -= fee
        base_delta += sign * amount
        quote_delta -= sign * amount * price
        inv.apply(Fill(str(i), side, float(price), amount, fee=float(fee), fee_currency=fee_ccy))  # type: ignore[arg-type]
    mark = mark_cents / 100
    assert inv.q_exact == base_delta
    assert math.isclose(inv.cash, float(quote_delta), abs_tol=1e-6)
    assert math.isclose(inv.total_pnl(mark), float(quote_delta) + float(base_delta) * mark, abs_tol=1e-6)
    assert inv.max_abs_q >= abs(inv.q_exact)
    assert inv.fills == len(trades)
