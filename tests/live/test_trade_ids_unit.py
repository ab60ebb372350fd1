"""Inventory.seen stays bounded without forgetting a trade id that can still be reported again."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.inventory import Fill, Inventory, TradeIds


def test_old_ids_are_forgotten_only_beyond_both_the_count_and_the_horizon() -> None:
    ids = TradeIds(keep=3, horizon=10.0)
    for n in range(6):
        ids.add(f"t{n}", float(n))  # six ids within 10 s: all kept, whatever the count
    assert all(f"t{n}" in ids for n in range(6))
    ids.add("t6", 14.5)  # t0..t4 are now more than 10 s older than the newest; 3 must remain at least
    assert [f"t{n}" in ids for n in range(7)] == [False, False, False, False, True, True, True]
    assert len(ids) == 3


def test_a_long_run_books_every_fill_once_in_flat_memory() -> None:
    inv = Inventory("BTC", "USDT")
    inv.seen = TradeIds(keep=100, horizon=60.0)
    for n in range(5000):  # one fill a second
        fill = Fill(f"t{n}", "buy" if n % 2 else "sell", 100.0, "0.001", timestamp=float(n))
        assert inv.apply(fill)
        assert not inv.apply(fill)  # the same trade again (WS and REST): once
        if n >= 5:
            assert not inv.apply(Fill(f"t{n - 5}", "buy", 100.0, "0.001", timestamp=float(n - 5)))
    assert len(inv.seen) == 100 and inv.fills == 5000 and inv.q_exact == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=50.0), max_size=300), st.integers(1, 20),
       st.floats(min_value=1.0, max_value=100.0))
def test_no_id_within_the_horizon_is_forgotten(steps: list[float], keep: int, horizon: float) -> None:
    """Trades booked in any order of time: every id within ``horizon`` of the newest stays; the rest
    is held only while the count is within ``keep`` or an id booked earlier is still within it."""
    ids = TradeIds(keep=keep, horizon=horizon)
    booked: list[tuple[str, float]] = []
    clock = 0.0
    for n, step in enumerate(steps):
        clock += step
        ts = clock - (step * 3 if n % 3 == 0 else 0.0)  # some arrive late (REST after WS)
        ids.add(f"t{n}", ts)
        booked.append((f"t{n}", ts))
        newest = max(t for _, t in booked)
        assert all(tid in ids for tid, t in booked if t >= newest - horizon)
        kept = [i for i, (tid, _) in enumerate(booked) if tid in ids]
        assert kept == list(range(kept[0], len(booked)))  # forgets the oldest booked first
        if len(kept) > keep:
            assert booked[kept[0]][1] >= newest - horizon


def test_a_floor_set_by_the_fill_book_replaces_the_horizon() -> None:
    ids = TradeIds(keep=2, horizon=1e9)
    for n in range(6):
        ids.add(f"t{n}", float(n))
    assert len(ids) == 6  # no floor yet: every id is within the (huge) horizon
    ids.set_floor(3.0)  # no read can return a trade older than t=3 any more
    assert [f"t{n}" in ids for n in range(6)] == [False, False, False, True, True, True]
    ids.set_floor(-1.0)  # a floor below every trade (an old order of unknown fate): nothing more goes
    ids.add("t6", 6.0)
    assert len(ids) == 4 and "t3" in ids
    ids.set_floor(10.0)
    assert len(ids) == 2 and "t5" in ids and "t6" in ids  # ``keep`` ids stay whatever the floor
