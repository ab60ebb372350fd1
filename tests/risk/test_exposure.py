"""The pre-trade worst-case check: limits hold at every instant whatever the order of creates and fills."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.risk.exposure import NOTIONAL, POSITION, TOTAL_NOTIONAL, Exposure, ExposureLimits, check_order


def test_position_limit_counts_resting_and_in_flight() -> None:
    limits = ExposureLimits(max_position=1.0)
    book = {"X": Exposure(q=0.5, open_buy=0.3, open_sell=0.2, mark=100.0)}
    assert check_order("X", "buy", 0.2, 100.0, book, limits) is None  # 0.5 + 0.3 + 0.2 = 1.0
    assert check_order("X", "buy", 0.21, 100.0, book, limits) == POSITION
    assert check_order("X", "sell", 1.3, 100.0, book, limits) is None  # 0.5 - 0.2 - 1.3 = -1.0
    assert check_order("X", "sell", 1.31, 100.0, book, limits) == POSITION


def test_notional_per_symbol_and_total() -> None:
    book = {"X": Exposure(q=0.0, mark=100.0), "Y": Exposure(q=2.0, open_sell=1.0, mark=50.0)}
    per_symbol = ExposureLimits(max_position=10.0, max_notional=50.0)
    assert check_order("X", "buy", 0.5, 100.0, book, per_symbol) is None
    assert check_order("X", "buy", 0.6, 100.0, book, per_symbol) == NOTIONAL
    total = ExposureLimits(max_position=10.0, max_total_notional=150.0)  # Y's worst case is 2 * 50 = 100
    assert check_order("X", "buy", 0.5, 100.0, book, total) is None
    assert check_order("X", "buy", 0.6, 100.0, book, total) == TOTAL_NOTIONAL
    # an order that does not raise the total is never blocked by it, even when already over
    over = ExposureLimits(max_position=10.0, max_total_notional=10.0)
    assert check_order("Y", "sell", 1.0, 50.0, book, over) is None  # worst |q| stays 2 (long side)
    assert check_order("Y", "buy", 0.1, 50.0, book, over) == TOTAL_NOTIONAL


sizes = st.floats(min_value=0.001, max_value=0.5, allow_nan=False)
events = st.lists(
    st.tuples(st.sampled_from(["create", "fill", "cancel"]), st.sampled_from(["buy", "sell"]), sizes,
              st.floats(min_value=0.0, max_value=1.0)),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(events, st.floats(min_value=0.05, max_value=2.0))
def test_checked_creates_keep_the_worst_case_inside_the_limit(evs: list, limit: float) -> None:  # type: ignore[type-arg]
    """Any interleaving of checked creates, (partial) fills and cancels: -L <= q - S, q + B <= L throughout."""
    limits = ExposureLimits(max_position=limit)
    q = 0.0
    orders: list[list] = []  # [side, remaining]  # type: ignore[type-arg]
    for kind, side, size, frac in evs:
        if kind == "create":
            book = {"X": Exposure(q, sum(o[1] for o in orders if o[0] == "buy"),
                                  sum(o[1] for o in orders if o[0] == "sell"), 100.0)}
            if check_order("X", side, size, 100.0, book, limits) is None:
                orders.append([side, size])
        elif orders:
            order = orders[int(frac * (len(orders) - 1))]
            if kind == "fill":
                amount = order[1] * max(frac, 0.1)
                q += amount if order[0] == "buy" else -amount
                order[1] -= amount
            else:
                order[1] = 0.0
            orders = [o for o in orders if o[1] > 1e-12]
        buys = sum(o[1] for o in orders if o[0] == "buy")
        sells = sum(o[1] for o in orders if o[0] == "sell")
        assert q + buys <= limit + 1e-9
        assert q - sells >= -limit - 1e-9
        assert abs(q) <= limit + 1e-9
