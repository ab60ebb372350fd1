"""The hedge fill book: exactly once, position and cash arithmetic, and the P&L split against a Fraction reference."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.hedgebook import HedgeBook
from bot.core.inventory import Fill


def test_each_fill_and_each_funding_payment_is_booked_once() -> None:
    book = HedgeBook()
    fill = Fill("t1", "sell", 30010.0, "0.05", 1.0, fee=0.75, fee_currency="USDT")
    assert book.apply(fill, 30000.0) and not book.apply(fill, 29000.0)
    assert book.position == Decimal("-0.05") and book.fills == 1 and book.fees == 0.75
    assert book.cash == pytest.approx(0.05 * 30010.0)
    assert book.apply_funding("f1", 1.5, 2.0) and not book.apply_funding("f1", 1.5, 2.0)
    assert book.funding == 1.5


def test_the_split_of_a_short_hedge() -> None:
    """Sold 1 at 30010 with spot at 30000 (10 of basis); spot falls to 29900, perp marks 29905."""
    book = HedgeBook()
    book.apply(Fill("t1", "sell", 30010.0, "1", fee=3.0), 30000.0)
    book.apply_funding("f1", 2.0, 1.0)
    pnl = book.pnl(29905.0, 29900.0)
    assert pnl.hedge == pytest.approx(100.0)  # the delta: -1 x (29900 - 30000)
    assert pnl.basis == pytest.approx(5.0)  # -1 x (29905 - 29900) - (-1) x (30010 - 30000)
    assert (pnl.funding, pnl.fees) == (2.0, 3.0)
    assert pnl.total == pytest.approx(104.0) == pytest.approx(30010.0 - 29905.0 + 2.0 - 3.0)


def test_a_fill_without_a_spot_mid_is_all_delta_and_a_missing_mark_takes_the_last_price() -> None:
    book = HedgeBook()
    book.apply(Fill("t1", "buy", 100.0, "2"), None)
    pnl = book.pnl(None, 101.0)
    assert (pnl.hedge, pnl.basis) == (pytest.approx(2.0), pytest.approx(-2.0))  # marked at 100, spot at 101
    assert book.pnl(None, None).total == 0.0


def test_fill_mid_is_ignored() -> None:
    a, b = HedgeBook(), HedgeBook()
    a.apply(Fill("t", "buy", 100.0, "1", mid=50.0), 99.0)
    b.apply(Fill("t", "buy", 100.0, "1"), 99.0)
    assert a.pnl(101.0, 100.0) == b.pnl(101.0, 100.0)


def test_a_fee_in_a_third_currency_counts_at_its_quote_value() -> None:
    book = HedgeBook()
    book.apply(Fill("t", "buy", 100.0, "1", fee=0.01, fee_currency="BNB", fee_cost_quote=0.03), None)
    assert book.fees == 0.03


def reference(fills: list[tuple[str, float, Decimal, float, float | None]], funding: list[float],
              mark: float | None, spot: float | None) -> dict[str, Fraction]:
    """The split in exact arithmetic, straight from the definitions."""
    pos, cash, fees = Fraction(0), Fraction(0), Fraction(0)
    spot_cost, basis_in = Fraction(0), Fraction(0)
    last: Fraction | None = None
    for side, price, amount, fee, s in fills:
        dq = Fraction(amount) * (1 if side == "buy" else -1)
        p = Fraction(price)
        si = p if s is None else Fraction(s)
        pos += dq
        cash -= dq * p
        fees += Fraction(fee)
        spot_cost += dq * si
        basis_in += dq * (p - si)
        last = p
    m = Fraction(mark) if mark is not None else (last or Fraction(0))
    sm = Fraction(spot) if spot is not None else m
    fund = sum((Fraction(f) for f in funding), Fraction(0))
    return {"hedge": pos * sm - spot_cost, "basis": pos * (m - sm) - basis_in, "funding": fund, "fees": fees,
            "total": cash + pos * m + fund - fees, "position": pos, "cash": cash}


fills = st.lists(
    st.tuples(
        st.sampled_from(["buy", "sell"]),
        st.integers(299000, 301000).map(lambda n: n / 10),
        st.integers(1, 500).map(lambda n: n * Decimal("0.001")),
        st.sampled_from([0.0, 0.75, -0.1]),
        st.one_of(st.none(), st.integers(299000, 301000).map(lambda n: n / 10)),
    ),
    max_size=30,
)


@given(fills, st.lists(st.floats(-5, 5), max_size=4), st.one_of(st.none(), st.floats(29000, 31000)),
       st.one_of(st.none(), st.floats(29000, 31000)), st.data())
def test_the_split_adds_up_to_the_total_exactly_as_the_reference(
    raw: list[tuple[str, float, Decimal, float, float | None]], funding: list[float], mark: float | None,
    spot: float | None, data: st.DataObject,
) -> None:
    book = HedgeBook()
    for i, (side, price, amount, fee, s) in enumerate(raw):
        assert book.apply(Fill(f"t{i}", side, price, amount, float(i), fee=fee), s)  # type: ignore[arg-type]
        if data.draw(st.booleans()):  # a duplicate (user stream and REST both report it): no change
            assert not book.apply(Fill(f"t{i}", side, price, amount, float(i), fee=fee), s)  # type: ignore[arg-type]
    for j, f in enumerate(funding):
        assert book.apply_funding(f"f{j}", f, float(j)) and not book.apply_funding(f"f{j}", f, float(j))
    ref = reference(raw, funding, mark, spot)
    pnl = book.pnl(mark, spot)
    scale = 1e-9 * max(1.0, book.volume_quote)
    assert book.position == ref["position"]
    assert book.cash == pytest.approx(float(ref["cash"]), rel=0, abs=scale)
    for name in ("hedge", "basis", "funding", "fees", "total"):
        assert getattr(pnl, name) == pytest.approx(float(ref[name]), rel=0, abs=scale), name
    assert pnl.hedge + pnl.basis + pnl.funding - pnl.fees == pytest.approx(pnl.total, rel=0, abs=scale)
    snap = book.snapshot(mark, spot)
    assert snap["hedge_total_pnl"] == pnl.total and snap["hedge_position"] == float(book.position)
