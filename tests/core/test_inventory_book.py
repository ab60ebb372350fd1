"""Inventory.book (no Fill object, no trade-id check) books exactly what Inventory.apply books."""

from __future__ import annotations

from dataclasses import asdict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.inventory import Fill, Inventory

fills = st.lists(
    st.tuples(
        st.sampled_from(["buy", "sell"]),
        st.integers(9990, 10010).map(lambda n: n / 100),  # price
        st.integers(1, 500).map(lambda n: n / 1000),  # amount
        st.sampled_from([0.0, 0.01, -0.002]),  # fee
        st.sampled_from(["USDT", "BTC", "BNB", None]),  # fee currency
        st.one_of(st.none(), st.floats(99.0, 101.0)),  # mid
        st.one_of(st.none(), st.floats(99.0, 101.0)),  # quote mid
        st.one_of(st.none(), st.floats(0.0, 0.5)),  # quote half-spread
    ),
    max_size=30,
)


@given(fills)
def test_book_equals_apply(raw: list[tuple]) -> None:  # type: ignore[type-arg]
    applied, booked = Inventory("BTC", "USDT"), Inventory("BTC", "USDT")
    for i, (side, price, amount, fee, currency, mid, quote_mid, half) in enumerate(raw):
        applied.apply(Fill(f"t{i}", side, price, amount, float(i), fee=fee, fee_currency=currency,
                           fee_cost_quote=0.03, mid=mid, quote_mid=quote_mid, quote_half_spread=half))
        booked.book(side, price, amount, fee, currency, 0.03, mid, quote_mid, half)
    state, want = asdict(booked), asdict(applied)
    for key in ("seen", "markouts"):  # not values: the trade ids, the markout tracker (no times given here)
        state.pop(key), want.pop(key)
    assert state == want


def test_book_rejects_a_non_positive_amount() -> None:
    with pytest.raises(ValueError, match="amount"):
        Inventory("BTC", "USDT").book("buy", 100.0, 0.0)
