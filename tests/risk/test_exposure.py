"""The pre-trade worst-case check: limits hold at every instant whatever the order of creates and fills."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.risk.exposure import NOTIONAL, POSITION, TOTAL_NOTIONAL, Exposure, ExposureLimits, check_order, unbooked


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


def test_unbooked_counts_the_rest_until_the_final_size_is_known() -> None:
    assert unbooked(0.5, 0.2) == 0.5 - 0.2  # may still fill completely
    assert unbooked(0.5, 0.2, final_filled=0.3) == 0.3 - 0.2  # cancelled after 0.3: 0.1 on its way
    assert unbooked(0.5, 0.3, final_filled=0.3) == 0.0
    assert unbooked(0.5, 0.5) == 0.0
    assert unbooked(0.5, 0.2, final_filled=0.9) == 0.5 - 0.2  # never more than the order
    assert unbooked(0.5, 0.4, final_filled=0.3) == 0.0  # never negative


lifecycle = st.lists(
    st.one_of(st.tuples(st.just("execute"), st.floats(min_value=0.01, max_value=1.0)),
              st.tuples(st.sampled_from(["deliver", "cancel_answer", "not_found"]), st.just(0.0))),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(lifecycle, st.floats(min_value=0.001, max_value=1.0))
def test_unbooked_bounds_every_fill_still_to_come(events: list[tuple[str, float]], amount: float) -> None:
    """Whatever order the venue's executions, the trade messages and the venue's answers arrive in,
    booked + unbooked never falls below what the venue executed, and only shrinks."""
    executed = booked = 0.0
    in_flight: list[float] = []  # trade messages not yet delivered, oldest first
    final: float | None = None  # what the bot learnt from a cancel's answer
    done = False  # the order no longer rests: nothing more executes
    bound = unbooked(amount, booked, final) + booked
    for kind, frac in events:
        if kind == "execute" and not done and executed < amount:
            size = min(amount - executed, amount * frac)
            executed += size
            in_flight.append(size)
        elif kind == "deliver" and in_flight:
            booked += in_flight.pop(0)
        elif kind == "cancel_answer" and not done:
            done, final = True, executed  # the answer carries the executed size
        elif kind == "not_found" and not done and executed >= amount:
            done = True  # 'unknown order' after it filled: the bot learns nothing about the size
        now = unbooked(amount, booked, final) + booked
        assert now >= executed - 1e-12
        assert now <= bound + 1e-12
        bound = now
    for size in in_flight:
        booked += size
    if final is not None or executed >= amount:  # all booked, and the final size known or reached
        assert unbooked(amount, booked, final) <= 1e-9
