"""Market state of one symbol: the latest touch and the estimators fed by the book and trades.

No I/O: the feeds call :meth:`MarketState.on_book` / :meth:`MarketState.on_trade` with the time of
arrival (monotonic seconds); the quoter reads the fields. ``on_book`` tells the book feed whether to
wake the quoter (only when a touch price changed: most depth diffs change deeper levels or sizes only).

Freshness (``updated``, ``age``) means a *streamed* update arrived: the book a (re)subscription starts
from (a REST snapshot on Binance) sets the levels but not the freshness, so resubscribing to a frozen
stream never makes its book look alive. :class:`EventLag` tells how late a streamed message arrived by
its venue event time (a backlog read after the process was frozen is old data, however new its arrival).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from bot.core.estimators import EwmaVolatility, IntensityEstimator
from bot.core.markouts import Markouts
from bot.core.strategy import WAKE_GAP, is_news

__all__ = ["WAKE_GAP", "EventLag", "MarketState"]

#: the lag estimate forgets this share of the elapsed time (s per s), so a drift between the venue's clock
#: and ours (NTP keeps it under 0.0005) never builds up into a false lag
LAG_CREEP = 0.01


@dataclass(slots=True)
class EventLag:
    """How late streamed messages arrive, from the venue's event times, trusting neither wall clock.

    ``late(t, event)`` takes a message's arrival (monotonic s) and its venue event time (s, the venue's
    clock): ``lag = max(0, lag + (1 - LAG_CREEP) * dt - de)`` with ``dt``/``de`` the arrival and event
    time since the previous message. Messages that arrive at the venue's pace keep it at 0 (up to jitter);
    after the process was frozen for ``T`` s, the first message read from the socket's backlog is about
    ``T`` late and the backlog's later ones less, by their event-time spacing, until it is drained. An event
    time earlier than the previous one (the venue's clock stepped back: a sequenced stream's times never
    decrease) restarts the estimate at 0, so a clock step is never mistaken for lag.
    """

    lag: float = 0.0
    t: float | None = None  # arrival of the previous message
    event: float = 0.0  # its event time

    def late(self, t: float, event: float) -> float:
        """Seconds by which this message is late (>= 0); O(1), no allocation."""
        prev_t, prev_event = self.t, self.event
        self.t, self.event = t, event
        if prev_t is None or event < prev_event:
            self.lag = 0.0
            return 0.0
        lag = self.lag + (1.0 - LAG_CREEP) * (t - prev_t) - (event - prev_event)
        self.lag = lag if lag > 0.0 else 0.0
        return self.lag


@dataclass
class MarketState:
    """Touch, mid, microprice and estimators.

    ``updated`` is when the data of the latest streamed book was current (its arrival less its lateness):
    the freshness the stale pause and the stale kill read; ``first_book`` the arrival of the first book of
    any kind (the stale kill's clock before any streamed update).
    """

    symbol: str
    vol: EwmaVolatility = field(default_factory=EwmaVolatility)
    intensity: IntensityEstimator = field(default_factory=IntensityEstimator)
    best_bid: float | None = None
    best_ask: float | None = None
    bid_size: float = 0.0
    ask_size: float = 0.0
    updated: float | None = None
    first_book: float | None = None
    received: float | None = None  # time.perf_counter() at the latest book's arrival (reaction metric)
    crossed: bool = False  # the latest book was crossed or one-sided (ignored; quoting pauses)
    last_news: float | None = None  # arrival of the latest book that woke the quoter
    books: int = 0
    trades: int = 0
    estimate: bool = True  # feed the volatility estimator (off when the quote model reads no estimate)
    # the markouts of our fills: each valid book's mid, at its arrival t (the inventory that books the fills
    # is given this tracker and the same clock)
    markouts: Markouts = field(default_factory=Markouts)

    @property
    def mid(self) -> float | None:
        if self.best_bid is None or self.best_ask is None:
            return None
        return 0.5 * (self.best_bid + self.best_ask)

    @property
    def microprice(self) -> float | None:
        """Size-weighted mid: ``(bid * ask_size + ask * bid_size) / (bid_size + ask_size)``."""
        if self.best_bid is None or self.best_ask is None:
            return None
        total = self.bid_size + self.ask_size
        if total <= 0:
            return self.mid
        return (self.best_bid * self.ask_size + self.best_ask * self.bid_size) / total

    def on_book(self, t: float, bids: Any, asks: Any, streamed: bool = True, late: float = 0.0) -> bool:
        """Take the top of a ccxt order book (lists of ``[price, size, ...]``); True if it is news.

        A valid book (two-sided, not crossed) updates the touch and, when ``estimate``, the volatility
        estimator; its mid goes to ``markouts`` (at ``t``). When ``streamed`` (a streamed update, not the
        snapshot a subscription starts from) it also makes the book fresh: ``updated`` becomes ``t - late``
        (``late``: how old its data already was on arrival, see :class:`EventLag`) unless it is already later.
        Whether it is news for the quoter is the decision layer's rule (:func:`bot.core.strategy.is_news`).
        The sizes are still recorded (``microprice``). False for a crossed or one-sided book (``crossed`` is set).
        """
        if self.first_book is None:
            self.first_book = t
        if not bids or not asks:
            self.crossed = True
            return False
        bid, bsz = float(bids[0][0]), float(bids[0][1])
        ask, asz = float(asks[0][0]), float(asks[0][1])
        if bid >= ask:
            self.crossed = True
            return False
        news = is_news(t, bid, ask, self.best_bid, self.best_ask, self.crossed,
                       -math.inf if self.last_news is None else self.last_news)
        if news:
            self.last_news = t
        self.crossed = False
        self.best_bid, self.best_ask, self.bid_size, self.ask_size = bid, ask, bsz, asz
        if streamed:
            fresh = t - late
            if self.updated is None or fresh > self.updated:
                self.updated = fresh
        self.books += 1
        if self.estimate:
            self.vol.update(t, 0.5 * (bid + ask))
        markouts = self.markouts
        if t >= markouts.next_due:  # the usual book: one comparison
            markouts.mid(t, 0.5 * (bid + ask))
        return news

    def on_trade(self, t: float, price: float) -> None:
        """A public trade: its depth from the current mid feeds the intensity estimator."""
        mid = self.mid
        self.trades += 1
        if mid is not None:
            self.intensity.add_trade(t, price, mid)

    def age(self, now: float) -> float:
        """Seconds since the latest streamed book's data was current (infinite before the first)."""
        return float("inf") if self.updated is None else now - self.updated

    def silence(self, now: float) -> float:
        """Seconds without a streamed update: since the latest one, else since the first book of any kind
        (a stream frozen from its start), infinite before any book. The stale kill's measure."""
        since = self.updated if self.updated is not None else self.first_book
        return float("inf") if since is None else now - since
