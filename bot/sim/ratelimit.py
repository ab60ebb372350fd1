"""Binance-style request-weight and order-count limits (pure; the caller supplies the time).

Weight: fixed one-minute windows per client. A request that takes the window's weight over the
limit gets HTTP 429 (-1003); a client that collects more than ``ban_after`` 429s in one window is
banned with HTTP 418 for ``ban_seconds``. Orders: fixed ten-second windows; over the limit ->
HTTP 429 with -1015.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.sim.events import SimError
from bot.sim.settings import RateLimitSettings


@dataclass(slots=True)
class _Client:
    window: int = -1
    used: int = 0
    strikes: int = 0
    banned_until: float = 0.0
    order_window: int = -1
    orders: int = 0


class RateLimiter:
    def __init__(self, settings: RateLimitSettings) -> None:
        self.settings = settings
        self._clients: dict[str, _Client] = {}

    def _client(self, key: str, now: float) -> _Client:
        c = self._clients.setdefault(key, _Client())
        window = int(now // 60)
        if window != c.window:
            c.window, c.used, c.strikes = window, 0, 0
        return c

    def used(self, key: str, now: float) -> int:
        return self._client(key, now).used

    def retry_after(self, key: str, now: float) -> int:
        """Whole seconds until the client may send again (end of ban or of the weight window)."""
        c = self._client(key, now)
        until = c.banned_until if c.banned_until > now else (c.window + 1) * 60
        return max(1, int(until - now + 0.999))

    def charge(self, key: str, weight: int, now: float) -> int:
        """Add ``weight``; returns the window's used weight or raises SimError(429/418)."""
        s = self.settings
        c = self._client(key, now)
        if c.banned_until > now:
            raise SimError(-1003, f"Way too many requests; IP banned until {int(c.banned_until * 1000)}. "
                           "Please use the websocket for live updates to avoid bans.", 418)
        c.used += weight
        if c.used > s.weight_per_minute:
            c.strikes += 1
            if c.strikes > s.ban_after:
                c.banned_until = now + s.ban_seconds
                raise SimError(-1003, f"Way too many requests; IP banned until {int(c.banned_until * 1000)}. "
                               "Please use the websocket for live updates to avoid bans.", 418)
            raise SimError(-1003, f"Too much request weight used; current limit is {s.weight_per_minute} "
                           "request weight per 1 MINUTE. Please use the websocket for live updates to "
                           "avoid polling the API.", 429)
        return c.used

    def count_order(self, key: str, now: float) -> int:
        """Count one new order; returns the window's count or raises SimError(-1015, 429)."""
        s = self.settings
        c = self._client(key, now)
        window = int(now // 10)
        if window != c.order_window:
            c.order_window, c.orders = window, 0
        c.orders += 1
        if c.orders > s.orders_per_10s:
            raise SimError(-1015, f"Too many new orders; current limit is {s.orders_per_10s} orders per "
                           "TEN_SECONDS.", 429)
        return c.orders
