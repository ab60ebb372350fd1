"""Binance-style request-weight and order-count limits (pure; the caller supplies the time).

Weight: fixed windows of ``weight_window`` seconds (Binance: one minute) per client. A request that
takes the window's weight over the limit gets HTTP 429 (-1003); a client that collects more than
``ban_after`` 429s in one window is banned with HTTP 418 for ``ban_seconds``. Orders: fixed
ten-second windows; over the limit -> HTTP 429 with -1015. :meth:`RateLimiter.stats` counts, per
client, the 429s and 418s it was answered (the admin endpoint shows them).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.sim.events import SimError
from bot.sim.settings import RateLimitSettings


def interval(seconds: int) -> tuple[int, str]:
    """A window length as Binance names it: ``(intervalNum, interval)``, e.g. ``(1, "MINUTE")``."""
    for size, name in ((86400, "DAY"), (3600, "HOUR"), (60, "MINUTE")):
        if seconds % size == 0:
            return seconds // size, name
    return seconds, "SECOND"


def weight_header(seconds: int) -> str:
    """The used-weight header of a window: ``X-MBX-USED-WEIGHT-(intervalNum)(intervalLetter)``."""
    num, name = interval(seconds)
    return f"X-MBX-USED-WEIGHT-{num}{name[0]}"


@dataclass(slots=True)
class _Client:
    window: int = -1
    used: int = 0
    strikes: int = 0
    banned_until: float = 0.0
    order_window: int = -1
    orders: int = 0
    limited: int = 0  # 429 answers (weight or order count), ever
    bans: int = 0  # bans begun
    refused: int = 0  # 418 answers (the banning one and every request during a ban)
    max_strikes: int = 0  # most weight 429s in one window


class RateLimiter:
    def __init__(self, settings: RateLimitSettings) -> None:
        self.settings = settings
        self._clients: dict[str, _Client] = {}

    def _client(self, key: str, now: float) -> _Client:
        c = self._clients.setdefault(key, _Client())
        window = int(now // self.settings.weight_window)
        if window != c.window:
            c.window, c.used, c.strikes = window, 0, 0
        return c

    def stats(self) -> dict[str, dict[str, int]]:
        """Per client: ``limited`` (429s), ``bans`` (bans begun), ``refused`` (418s), ``max_strikes``."""
        return {key: {"limited": c.limited, "bans": c.bans, "refused": c.refused, "max_strikes": c.max_strikes}
                for key, c in sorted(self._clients.items())}

    def used(self, key: str, now: float) -> int:
        return self._client(key, now).used

    def retry_after(self, key: str, now: float) -> int:
        """Whole seconds until the client may send again (end of ban or of the weight window)."""
        c = self._client(key, now)
        until = c.banned_until if c.banned_until > now else (c.window + 1) * self.settings.weight_window
        return max(1, int(until - now + 0.999))

    def charge(self, key: str, weight: int, now: float) -> int:
        """Add ``weight``; returns the window's used weight or raises SimError(429/418)."""
        s = self.settings
        c = self._client(key, now)
        if c.banned_until > now:
            c.refused += 1
            raise _banned(c.banned_until)
        c.used += weight
        if c.used > s.weight_per_minute:
            c.strikes += 1
            c.max_strikes = max(c.max_strikes, c.strikes)
            if c.strikes > s.ban_after:
                c.banned_until = now + s.ban_seconds
                c.bans += 1
                c.refused += 1
                raise _banned(c.banned_until)
            c.limited += 1
            num, name = interval(s.weight_window)
            raise SimError(-1003, f"Too much request weight used; current limit is {s.weight_per_minute} "
                           f"request weight per {num} {name}. Please use the websocket for live updates to "
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
            c.limited += 1
            raise SimError(-1015, f"Too many new orders; current limit is {s.orders_per_10s} orders per "
                           "TEN_SECONDS.", 429)
        return c.orders


def _banned(until: float) -> SimError:
    return SimError(-1003, f"Way too many requests; IP banned until {int(until * 1000)}. "
                    "Please use the websocket for live updates to avoid bans.", 418)
