"""ccxt's client-side rate limiter with the idle time credited.

ccxt's async leaky bucket (``ccxt.async_support.base.throttler.Throttler``) refills its tokens only while
a request waits in its loop, counting from the moment that loop started. Time spent idle between bursts
is never credited, so every request leaves the bucket in debt (tokens < 0) and the next one, however
late it comes, waits that whole debt out: ``cost * rateLimit``, 10 ms for a Binance spot order (cost 0.2
of a 50 ms token). For a quoter reacting to a book after a quiet spell that is 10 ms on every reaction.
:class:`IdleCreditThrottler` adds the elapsed idle time (capped at the bucket's capacity, as a leaky
bucket should) before queueing a request; during a busy period it behaves exactly like ccxt's.
"""

from __future__ import annotations

import time
from typing import Any

from ccxt.async_support.base.throttler import Throttler


class IdleCreditThrottler(Throttler):  # type: ignore[misc]
    """ccxt's leaky bucket, refilled for the time it sat idle: ``tokens += idle_ms * refillRate`` (<= capacity)."""

    def __init__(self, config: dict[str, Any], loop: Any = None) -> None:
        super().__init__(config, loop)
        self.idle_since = time.time() * 1000.0

    def __call__(self, cost: float | None = None) -> Any:
        if not self.running:
            cfg = self.config
            now = time.time() * 1000.0
            cfg["tokens"] = min(cfg["tokens"] + (now - self.idle_since) * cfg["refillRate"], cfg["capacity"])
            self.idle_since = now
        return super().__call__(cost)

    async def looper(self) -> None:
        try:
            await super().looper()
        finally:
            self.idle_since = time.time() * 1000.0


def credit_idle_time(exchange: Any) -> None:
    """Give an async ccxt exchange an :class:`IdleCreditThrottler` with its current settings and tokens.

    Exchanges without ccxt's leaky bucket (another algorithm, or a venue object that is not ccxt's) are
    left alone.
    """
    old = getattr(exchange, "throttler", None)
    if type(old) is not Throttler or old.config.get("algorithm") != "leakyBucket":
        return
    new = IdleCreditThrottler({}, old.loop)
    new.config = old.config  # the same dict: settings and token state carry over
    exchange.throttler = new
