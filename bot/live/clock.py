"""The clock offset to the venue: measured at start and again whenever the venue says our time is off.

Binance refuses a signed request whose ``timestamp`` is more than 1 s ahead of its clock or older than
``recvWindow`` (``-1021``). ccxt signs with ``milliseconds() - options['timeDifference']`` and measures that
difference with ``load_time_difference()`` (one ``GET /api/v3/time``); :class:`ClockSync` runs that
measurement, at most once per ``min_interval`` seconds, one at a time, in the background.
:func:`venue_ms` is the venue's clock by the last measurement (trade timestamps are on it).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import ccxt


def venue_ms(exchange: Any) -> int:
    """The venue's time now in ms, by the last measured offset (our clock when none was measured)."""
    options = getattr(exchange, "options", None) or {}
    difference = options.get("timeDifference") or 0
    return int(exchange.milliseconds() - difference)


class ClockSync:
    """Measures the offset again after a clock-skew answer (:meth:`skewed`), rate-limited."""

    def __init__(self, exchange: Any, log: Any, min_interval: float = 5.0) -> None:
        self.exchange, self.log, self.min_interval = exchange, log, min_interval
        self.supported = hasattr(exchange, "load_time_difference") and "timeDifference" in (
            getattr(exchange, "options", None) or {})
        self._last = -float("inf")
        self._task: asyncio.Task[None] | None = None
        self.syncs = 0

    def skewed(self) -> None:
        """The venue said our timestamp is off: measure again unless a measurement ran lately."""
        now = time.monotonic()
        if not self.supported or (self._task is not None and not self._task.done()):
            return
        if now - self._last < self.min_interval:
            return
        self._last = now
        self._task = asyncio.get_running_loop().create_task(self.sync(), name="clock_sync")

    async def sync(self, why: str = "clock_skew") -> int | None:
        """One measurement; the new offset in ms (ours minus the venue's), None when the venue did not answer.
        ``why`` is ``start`` or ``clock_skew`` (a skew answer: logged as a warning)."""
        before = (self.exchange.options or {}).get("timeDifference")
        try:
            difference = await self.exchange.load_time_difference()
        except ccxt.BaseError as exc:
            self.log.warning("clock_sync_failed", error=type(exc).__name__, detail=str(exc)[:200])
            return None
        self.syncs += 1
        if why == "start":
            self.log.info("clock_synced", offset_ms=int(difference), previous_ms=before, why=why)
        else:
            self.log.warning("clock_synced", offset_ms=int(difference), previous_ms=before, why=why)
        return int(difference)
