"""Walk-forward split of a recording (pure): fit on the first part of the time span, check on the rest.

``split_events(events, fraction)`` cuts at ``t_cut = t0 + fraction * (t_end - t0)`` (``t0``/``t_end`` the first
and last event's time): the "in" part is every event before ``t_cut``; the "out" part starts with one snapshot
:class:`BookEvent` per symbol holding that symbol's L2 book as the "in" part left it (:class:`L2Book`, levels
sorted from the touch), stamped at the time of the first "out" event, then every event from ``t_cut`` on, so it
replays on its own. A symbol without a book in the "in" part gets no snapshot. The event counts add up:
``len(in) + len(out) == len(events) + snapshots``.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.research.events import BookEvent, Event
from bot.research.l2book import L2Book


def cut_time(events: Sequence[Event], fraction: float) -> float:
    """The split time at ``fraction`` (0 < fraction < 1) of the events' time span."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"the walk-forward fraction must be between 0 and 1 (exclusive), got {fraction}")
    if not events:
        raise ValueError("no events to split")
    t0, t_end = events[0].ts, events[-1].ts
    return t0 + fraction * (t_end - t0)


def split_events(events: Sequence[Event], fraction: float) -> tuple[list[Event], list[Event]]:
    """The "in" and "out" parts of ``events`` (time-ordered) at ``fraction`` of their span (module docstring)."""
    t_cut = cut_time(events, fraction)
    books: dict[str, L2Book] = {}
    cut = len(events)
    for i, event in enumerate(events):
        if event.ts >= t_cut:
            cut = i
            break
        if isinstance(event, BookEvent):
            book = books.get(event.symbol)
            if book is None:
                book = books[event.symbol] = L2Book()
            book.apply(event)
    inside = list(events[:cut])
    rest = events[cut:]
    start = rest[0].ts if rest else t_cut
    snapshots: list[Event] = [
        BookEvent(start, symbol, tuple(sorted(book.bids.items(), reverse=True)), tuple(sorted(book.asks.items())))
        for symbol, book in books.items()
    ]
    return inside, [*snapshots, *rest]
