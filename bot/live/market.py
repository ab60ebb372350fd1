"""Market state of one symbol: the latest touch and the estimators fed by the book and trades.

No I/O: the feeds call :meth:`MarketState.on_book` / :meth:`MarketState.on_trade` with the time of
arrival (monotonic seconds); the quoter reads the fields. ``on_book`` tells the book feed whether to
wake the quoter (only when a touch price changed: most depth diffs change deeper levels or sizes only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.core.estimators import EwmaVolatility, IntensityEstimator

WAKE_GAP = 0.25  # seconds: a book this long after the last news is news even with the same touch


@dataclass
class MarketState:
    """Touch, mid, microprice and estimators. ``updated`` is the arrival time of the latest book."""

    symbol: str
    vol: EwmaVolatility = field(default_factory=EwmaVolatility)
    intensity: IntensityEstimator = field(default_factory=IntensityEstimator)
    best_bid: float | None = None
    best_ask: float | None = None
    bid_size: float = 0.0
    ask_size: float = 0.0
    updated: float | None = None
    received: float | None = None  # time.perf_counter() at the latest book's arrival (reaction metric)
    crossed: bool = False  # the latest book was crossed or one-sided (ignored; quoting pauses)
    last_news: float | None = None  # arrival of the latest book that woke the quoter
    books: int = 0
    trades: int = 0
    estimate: bool = True  # feed the volatility estimator (off when the quote model reads no estimate)

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

    def on_book(self, t: float, bids: Any, asks: Any) -> bool:
        """Take the top of a ccxt order book (lists of ``[price, size, ...]``); True if it is news.

        A valid book (two-sided, not crossed) always updates the arrival time ``updated`` (the
        staleness watchdog sees the feed alive) and, when ``estimate``, the volatility estimator. It is
        news for the quoter when a touch price changed, when the previous book was crossed or
        one-sided, or when the last news is ``WAKE_GAP`` seconds old (so the quoter sees the book at
        least that often while books flow: a quoter paused on a stale feed resumes at once, one whose
        orders were held back, e.g. by a rate limit, retries soon, and time-based requotes run); a
        diff that only changes deeper levels or the sizes at the touch within that time is not: no
        input of the quote reads them (it is a function of the mid, the touch prices, ``q``, time and
        the estimates), so such a cycle would decide the same again. The sizes are still recorded
        (``microprice``). False for a crossed or one-sided book (``crossed`` is set).
        """
        if not bids or not asks:
            self.crossed = True
            return False
        bid, bsz = float(bids[0][0]), float(bids[0][1])
        ask, asz = float(asks[0][0]), float(asks[0][1])
        if bid >= ask:
            self.crossed = True
            return False
        news = (
            self.crossed
            or bid != self.best_bid or ask != self.best_ask
            or self.last_news is None or t - self.last_news >= WAKE_GAP
        )
        if news:
            self.last_news = t
        self.crossed = False
        self.best_bid, self.best_ask, self.bid_size, self.ask_size = bid, ask, bsz, asz
        self.updated = t
        self.books += 1
        if self.estimate:
            self.vol.update(t, 0.5 * (bid + ask))
        return news

    def on_trade(self, t: float, price: float) -> None:
        """A public trade: its depth from the current mid feeds the intensity estimator."""
        mid = self.mid
        self.trades += 1
        if mid is not None:
            self.intensity.add_trade(t, price, mid)

    def age(self, now: float) -> float:
        """Seconds since the latest book (infinite before the first)."""
        return float("inf") if self.updated is None else now - self.updated
