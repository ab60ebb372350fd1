"""The walk-forward split: the out part replays alone, the counts add up."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.research.backtest import run_backtest
from bot.research.events import BookEvent, TradeEvent
from bot.research.l2book import L2Book
from bot.research.recording import read_recording
from bot.research.tune.trial import trial_params
from bot.research.tune.walkforward import split_events


def test_the_out_part_starts_from_the_book_at_the_cut(sim_path, base):
    events = read_recording(sim_path)
    inside, out = split_events(events, 0.7)
    assert len(inside) + len(out) == len(events) + 1  # one snapshot
    assert all(e.ts < 42.0 for e in inside) and all(e.ts >= 42.0 for e in out[1:])
    book = L2Book()
    for e in inside:
        if isinstance(e, BookEvent):
            book.apply(e)
    first = out[0]
    assert isinstance(first, BookEvent) and first.snapshot and first.ts == out[1].ts
    assert dict(first.bids) == book.bids and dict(first.asks) == book.asks
    assert [p for p, _ in first.bids] == sorted(book.bids, reverse=True)
    # the out part replays on its own: the same book from its first event, and it trades
    result = run_backtest(out, "BTC/USDT", trial_params(base, {"strategy.skew": 0.5}))
    assert result.events == len(out) and result.fills > 0


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 100), st.booleans(), st.sampled_from(["A", "B"])), min_size=1, max_size=40),
       st.floats(0.01, 0.99))
def test_counts_add_up_and_order_holds(items, fraction):
    items.sort(key=lambda x: x[0])
    events = [BookEvent(t, s, ((99.0, 1.0),), ((101.0, 1.0),)) if book else TradeEvent(t, s, 100.0, 1.0, "buy")
              for t, book, s in items]
    inside, out = split_events(events, fraction)
    books = {e.symbol for e in inside if isinstance(e, BookEvent)}
    assert len(inside) + len(out) == len(events) + len(books) and len(out) > len(books)
    assert [e.ts for e in out] == sorted(e.ts for e in out)
    assert inside == events[:len(inside)]


def test_bad_fractions():
    with pytest.raises(ValueError, match="between 0 and 1"):
        split_events([TradeEvent(0.0, "A", 1.0, 1.0)], 1.0)
