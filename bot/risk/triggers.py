"""Kill-switch triggers and pause escalation (pure; times are monotonic seconds).

Each trigger answers "should the bot be killed now?" with a reason string or None (positions and sizes
without float noise or exponents, money to 4 decimals: :mod:`bot.core.display`):

- :func:`position_breach`: ``|q| > L`` (a race got through the worst-case sizing).
- :class:`DrawdownTracker`: trailing drawdown ``peak - equity > max_drawdown``, where ``peak`` is the
  highest equity seen (equity = mark-to-market P&L net of fees, quote currency).
- :func:`loss_breach`: absolute loss ``-equity > max_loss``.
- :func:`stale_breach`: no streamed market-data update for the hard timeout ``stale_kill_after`` (the
  caller measures that silence: a snapshot on resubscribing is not an update).
- :class:`ErrorWindow`: ``max_errors`` rejects/exceptions within ``window`` seconds; a 418 ban kills at once.
- :class:`DriftCheck`: ``|venue_delta - q| > tolerance`` on ``confirm`` consecutive checks (one check
  may race with a fill in flight between the venue's balance and the bot's trade feed).
- :class:`PauseEscalator`: ``count`` pauses within ``window`` seconds escalate to a kill.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from bot.core.display import plain_text


def position_breach(q: float, max_position: float, eps: float = 1e-9) -> str | None:
    if abs(q) > max_position + eps:
        return f"position {plain_text(q)} beyond the limit {plain_text(max_position)}"
    return None


def loss_breach(equity: float, max_loss: float | None) -> str | None:
    if max_loss is not None and -equity > max_loss:
        return f"loss {-equity:.4f} beyond max_loss {max_loss:g}"
    return None


def stale_breach(age: float, stale_kill_after: float) -> str | None:
    """``age``: seconds without a streamed update; infinite before any book, which is not stale data, so it
    never kills here."""
    if math.isfinite(age) and age > stale_kill_after:
        return f"market data {age:.1f}s old (hard timeout {stale_kill_after:g}s)"
    return None


@dataclass
class DrawdownTracker:
    """Trailing drawdown from the peak equity; the peak starts at the first equity seen."""

    max_drawdown: float | None
    peak: float | None = None

    def update(self, equity: float) -> str | None:
        if not math.isfinite(equity):
            return None
        self.peak = equity if self.peak is None else max(self.peak, equity)
        drawdown = self.peak - equity
        if self.max_drawdown is not None and drawdown > self.max_drawdown:
            return f"drawdown {drawdown:.4f} from peak equity {self.peak:.4f} beyond max_drawdown {self.max_drawdown:g}"
        return None


@dataclass
class SlidingCount:
    """Events within the last ``window`` seconds: an event at ``t`` counts while ``now - t < window``."""

    window: float
    times: deque[float] = field(default_factory=deque)

    def count(self, now: float, add: bool = False) -> int:
        """Record an event at ``now`` when ``add``, drop those out of the window, return how many are left."""
        if add:
            self.times.append(now)
        while self.times and self.times[0] <= now - self.window:
            self.times.popleft()
        return len(self.times)


@dataclass
class ErrorWindow:
    """Counts errors in a sliding window: ``max_errors`` within ``window`` seconds trips."""

    max_errors: int
    window: float
    recent: SlidingCount = field(init=False)

    def __post_init__(self) -> None:
        self.recent = SlidingCount(self.window)

    @property
    def times(self) -> deque[float]:
        return self.recent.times

    def add(self, now: float) -> str | None:
        return self._verdict(self.recent.count(now, add=True))

    def check(self, now: float) -> str | None:
        return self._verdict(self.recent.count(now))

    def _verdict(self, n: int) -> str | None:
        if n >= self.max_errors:
            return f"{n} errors within {self.window:g}s (max_errors {self.max_errors})"
        return None


def is_ban(status: int | None, message: str) -> bool:
    """A 418 (IP ban) rather than a 429 (slow down).

    ccxt raises ``DDoSProtection``/``RateLimitExceeded`` for both and does not keep the HTTP status, so
    the status is used when the caller knows it, else the venue's message (Binance: "IP banned until").
    """
    if status is not None:
        return status == 418
    text = message.lower()
    return "banned" in text or " 418 " in f" {text} "


@dataclass
class DriftCheck:
    """Venue balance change vs the bot's inventory; trips after ``confirm`` consecutive drifts."""

    tolerance: float | None
    confirm: int = 2
    strikes: int = 0

    def update(self, venue_delta: float, q: float) -> str | None:
        if self.tolerance is None:
            return None
        drift = venue_delta - q
        if abs(drift) <= self.tolerance:
            self.strikes = 0
            return None
        self.strikes += 1
        if self.strikes >= self.confirm:
            return (f"balance drift {plain_text(drift)}: venue change {plain_text(venue_delta)} vs inventory "
                    f"{plain_text(q)} (tolerance {plain_text(self.tolerance)})")
        return None


@dataclass
class PauseEscalator:
    """A pause is counted when it begins; ``count`` beginnings within ``window`` seconds escalate."""

    count: int
    window: float
    recent: SlidingCount = field(init=False)

    def __post_init__(self) -> None:
        self.recent = SlidingCount(self.window)

    def paused(self, now: float, reason: str) -> str | None:
        n = self.recent.count(now, add=True)
        if n >= self.count:
            return f"{n} pauses within {self.window:g}s (latest: {reason})"
        return None
