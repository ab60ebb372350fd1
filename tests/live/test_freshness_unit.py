"""Freshness is a streamed update (issue 17 item 3, part 6's SIGSTOP): the pure parts.

- :class:`EventLag`: how late a streamed message is, from its venue event time, without trusting either clock.
- :meth:`MarketState.on_book` with ``streamed=False`` (a subscription's snapshot) seeds the levels only;
  :meth:`MarketState.silence` is the stale kill's clock.
- :class:`BookFeed` ``_handle``: the first book of every (re)subscription is a snapshot; a backlog read after
  a freeze is as old as its event times.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.live.feed import BookFeed
from bot.live.market import LAG_CREEP, EventLag, MarketState
from bot.risk.triggers import stale_breach
from tests.fakes import RecordingLog

BIDS = [[100.0, 1.0]]
ASKS = [[100.1, 1.0]]


# -- EventLag ----------------------------------------------------------------------------------------
def test_messages_at_the_venues_pace_are_not_late_whatever_the_clock_offset() -> None:
    lag = EventLag()
    offset = 12_345.678  # the venue's wall clock vs our monotonic clock: irrelevant
    assert [lag.late(t * 0.1, offset + t * 0.1) for t in range(100)] == [0.0] * 100


def test_a_backlog_read_after_a_freeze_is_as_late_as_the_freeze_then_drains() -> None:
    lag = EventLag()
    for i in range(10):  # live: 10 messages a second
        assert lag.late(i * 0.1, 500.0 + i * 0.1) == 0.0
    # frozen for 5 s at t=0.9 while the venue went on publishing; resumed at t=5.9, all read at once
    late = [lag.late(5.9 + i * 1e-4, 500.0 + 1.0 + i * 0.1) for i in range(50)]
    assert math.isclose(late[0], (1 - LAG_CREEP) * 5.0 - 0.1, abs_tol=1e-9)  # the first: ~5 s old data
    assert all(a > b for a, b in itertools.pairwise(late) if b > 0)  # each later one less
    assert late[-1] < 0.2  # the backlog drained: the last message is current


def test_a_venue_clock_stepping_back_is_not_taken_for_lag() -> None:
    lag = EventLag()
    for i in range(10):
        lag.late(i * 0.1, 500.0 + i * 0.1)
    assert lag.late(1.0, 500.0 + 1.0 - 30.0) == 0.0  # the venue's clock went back 30 s
    assert [lag.late(1.0 + i * 0.1, 471.0 + i * 0.1) for i in range(1, 20)] == [0.0] * 19


@given(st.lists(st.tuples(st.floats(0.0, 5.0), st.floats(-1.0, 5.0)), min_size=1, max_size=60),
       st.floats(0.0, 0.05))
def test_lag_is_never_negative_and_on_time_flow_stays_within_the_jitter(
    steps: list[tuple[float, float]], jitter: float
) -> None:
    lag = EventLag()
    t = event = 0.0
    for dt, de in steps:
        t, event = t + dt, event + de
        assert lag.late(t, event) >= 0.0
    on_time = EventLag()
    for i, (dt, _) in enumerate(steps):  # event times follow arrivals, each arrival late by at most jitter
        assert on_time.late(i * 1.0 + dt * jitter / 5.0, i * 1.0) <= jitter + 1e-9


# -- MarketState -------------------------------------------------------------------------------------
def test_a_snapshot_seeds_the_levels_but_not_the_freshness() -> None:
    s = MarketState("X")
    assert s.on_book(1.0, BIDS, ASKS, streamed=False)  # news: the quoter may read the touch (it is paused)
    assert (s.best_bid, s.best_ask) == (100.0, 100.1) and s.updated is None and math.isinf(s.age(2.0))
    assert s.silence(4.0) == 3.0  # the stale kill's clock runs from the first book
    s.on_book(5.0, BIDS, ASKS)  # a streamed update
    assert s.updated == 5.0 and s.age(5.5) == 0.5
    s.on_book(9.0, [[100.2, 1.0]], [[100.3, 1.0]], streamed=False)  # a resubscription's snapshot
    assert s.best_bid == 100.2 and s.updated == 5.0 and s.age(9.0) == 4.0 and s.silence(9.0) == 4.0
    assert stale_breach(s.silence(9.0), 3.0) is not None


def test_a_late_streamed_update_is_as_old_as_its_data_and_never_makes_the_book_older() -> None:
    s = MarketState("X")
    s.on_book(10.0, BIDS, ASKS)
    s.on_book(20.0, BIDS, ASKS, late=9.5)  # read at 20 s, current at 10.5 s
    assert s.updated == 10.5 and s.age(20.0) == 9.5
    s.on_book(20.0, BIDS, ASKS, late=12.0)  # older data than what the book already has: no change
    assert s.updated == 10.5


# -- BookFeed._handle --------------------------------------------------------------------------------
def _feed() -> BookFeed:
    return BookFeed(object(), "X", MarketState("X"), asyncio.Event(), RecordingLog())


def _book(event_ms: int | None) -> dict[str, Any]:
    return {"bids": BIDS, "asks": ASKS, "timestamp": event_ms, "nonce": 1}


def test_the_first_book_of_each_subscription_is_a_snapshot_and_streamed_ones_are_fresh(monkeypatch: Any) -> None:
    clock = iter([1.0, 1.1, 5.0, 5.1, 9.0])
    monkeypatch.setattr("bot.live.feed.time.monotonic", lambda: next(clock))
    feed = _feed()
    feed._handle(_book(None))  # subscribed: the REST snapshot (no event time)
    assert feed.state.updated is None
    feed._handle(_book(1_000_100))  # a streamed diff
    assert feed.state.updated == 1.1
    feed._resubscribed()  # the watch loop resubscribed (an idle timeout or an error)
    feed._handle(_book(1_000_100))  # the new subscription's snapshot (with a buffered diff applied)
    assert feed.state.updated == 1.1 and feed.state.books == 3
    feed._handle(_book(None))  # an event time that vanished: ccxt reset the book to a snapshot
    assert feed.state.updated == 1.1
    feed._handle(_book(1_008_000))  # streamed again
    assert feed.state.updated == 9.0


def test_a_backlog_after_a_freeze_is_not_fresh(monkeypatch: Any) -> None:
    now = [0.0]
    monkeypatch.setattr("bot.live.feed.time.monotonic", lambda: now[0])
    feed = _feed()
    feed._handle(_book(None))
    for i in range(1, 11):
        now[0] = i * 0.1
        feed._handle(_book(7_000_000 + i * 100))
    assert math.isclose(feed.state.updated, 1.0)
    now[0] = 6.0  # frozen 5 s; the first message read was sent 0.1 s after the last one before the freeze
    feed._handle(_book(7_000_000 + 1_100))
    assert feed.state.age(6.0) > 4.5  # arrived now, but its data is ~5 s old: still stale


def test_the_reconnect_hook_is_given_at_construction_and_told_on_resubscribing() -> None:
    told: list[str] = []
    feed = BookFeed(object(), "X", MarketState("X"), asyncio.Event(), RecordingLog(),
                    on_reconnect=lambda: told.append("X"))
    feed._handle(_book(1_000))
    feed._resubscribed()
    assert told == ["X"] and feed._seed  # counted, and the next book is a snapshot again
