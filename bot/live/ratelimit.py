"""One rate-limit discipline for every REST request the bot makes, at the ccxt exchange layer.

Every REST call of an async ccxt exchange goes ``fetch2`` -> ``throttle(cost)`` (the leaky bucket) ->
``fetch``. :func:`gate_exchange` hooks both ends of that path once, when the exchange is connected, so
the order manager, the book feed's depth snapshot, the balance-drift check, the fill book's
reconciliation and the start-up calls all obey the same :class:`RateGate`:

- :class:`GatedThrottler` replaces ``exchange.throttler``: a request first waits while the gate is
  closed, then takes its tokens from ccxt's leaky bucket with the idle time credited (below), and
  waits again if the gate closed while it was queued.
- The exchange's class is swapped for a thin subclass whose ``fetch2`` hands every rate-limit answer
  (ccxt ``DDoSProtection``/``RateLimitExceeded``: HTTP 429/418, Binance -1003/-1015) to
  :meth:`RateGate.limited` with the response headers (``Retry-After``) before re-raising it: the gate
  closes for everyone.

Idle credit: ccxt's async leaky bucket refills its tokens only while a request waits in its loop, from
the moment that loop started, so the idle time between bursts is never credited: every request leaves
the bucket in debt and the next one, however late, waits ``cost * rateLimit`` (10 ms for a Binance spot
order: cost 0.2 of a 50 ms token). :class:`GatedThrottler` adds ``idle_ms / rateLimit`` tokens before
queueing (capped at the capacity, as a leaky bucket should); during a busy period it is ccxt's bucket.
The capacity is raised to ``burst_seconds`` of the venue's budget (``burst_seconds * 1000 / rateLimit``
tokens, default 0.5 s: 10 tokens = 50 request weight on Binance, under 1 % of its 6,000 per minute), and
a read (GET: the periodic reconciliation, about 5.2 tokens on Binance, a depth snapshot, a balance) waits
until the bucket holds its cost plus a reserve of one token, so it never leaves the bucket in a debt that
the next order (0.2 tokens) would wait out. The average rate stays ccxt's.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import ccxt
from asyncio_throttle import Throttler as OrderCeiling
from ccxt.async_support.base.exchange import Exchange as AsyncExchange
from ccxt.async_support.base.throttler import Throttler

RATE_LIMITED = (ccxt.DDoSProtection, ccxt.RateLimitExceeded)
WINDOWS = {"SECOND": 1, "TEN_SECONDS": 10, "MINUTE": 60, "1 MINUTE": 60}
PAUSE_ATTR = "rate_gate_pause"  # set on a rate-limit exception once the gate has counted it
# True while a read (GET) is being throttled: reads leave the bucket's reserve to order traffic
READING: ContextVar[bool] = ContextVar("mmbot_rest_read", default=False)
# monotonic time the current task's last request left the throttler (the gate was open then)
SENT: ContextVar[float] = ContextVar("mmbot_rest_sent", default=0.0)


def retry_hint(message: str, headers: dict[str, Any] | None = None, now: float | None = None) -> float | None:
    """Seconds the venue asks us to wait after a rate-limit answer, when it says so.

    ``Retry-After`` (seconds) wins; else Binance's ban message ``banned until <ms>`` gives the end of the
    ban; else a WebSocket API error's ``"retryAfter": <ms>`` gives that time; else a limit
    ``per TEN_SECONDS`` / ``per 1 MINUTE`` / ``per SECOND`` gives the time to the end of that fixed window
    (+0.5 s). Binance counts fixed windows, and every request inside an exhausted
    window is another strike towards a 418 ban, so waiting out the window is what avoids the ban.
    """
    now = time.time() if now is None else now
    for key, value in (headers or {}).items():
        if str(key).lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                break
    banned = re.search(r"banned until (\d{12,})", message)
    if banned:
        return max(0.0, int(banned.group(1)) / 1000.0 - now)
    retry_after = re.search(r'"retryAfter"\s*:\s*(\d{12,})', message)  # a WebSocket API error's data
    if retry_after:
        return max(0.0, int(retry_after.group(1)) / 1000.0 - now)
    window = re.search(r"per (TEN_SECONDS|1 MINUTE|MINUTE|SECOND)\b", message)
    if window:
        size = WINDOWS[window.group(1)]
        return size - (now % size) + 0.5
    return None


class RateGate:
    """Shared backoff after a rate-limit answer: closed for ``delay`` seconds, doubling per hit.

    The delay only resets once calls have succeeded for twice the last delay after the gate reopened
    (a success right after the pause, e.g. a cancel that is not counted against the order limit,
    does not reset it), so repeated hits keep growing the pause up to ``cap``. After an answer without a
    venue hint, :meth:`answered` resets it at once for a request sent after the gate reopened (the
    exchange layer reports every answered request). ``on_limit(op, exc, pause, hint)`` is told of every
    rate-limit answer once (the service logs, counts and checks for a ban there).
    """

    def __init__(
        self, base: float = 1.0, cap: float = 60.0,
        on_limit: Callable[[str, BaseException, float, float | None], None] | None = None,
    ) -> None:
        self.base, self.cap = base, cap
        self.delay = 0.0
        self.until = 0.0
        self.hits = 0
        self.hinted = False  # the last hit came with the venue's own wait (see answered)
        self.on_limit = on_limit

    def hit(self, now: float | None = None, at_least: float | None = None) -> float:
        """Close the gate; ``at_least`` is the venue's own hint (see :func:`retry_hint`), if any."""
        now = time.monotonic() if now is None else now
        self.delay = min(self.cap, max(self.base, self.delay * 2.0))
        pause = max(self.delay, at_least or 0.0)
        self.until = max(self.until, now + pause)
        self.hits += 1
        self.hinted = at_least is not None
        return pause

    def limited(self, op: str, exc: BaseException, headers: dict[str, Any] | None = None) -> float:
        """A rate-limit answer: :meth:`hit` with the venue's :func:`retry_hint`; returns the pause.

        Counted once per answer: the exchange layer sees it first and marks the exception, so a caller
        that catches the same exception further up gets the pause already set, without a second hit.
        """
        counted = getattr(exc, PAUSE_ATTR, None)
        if counted is not None:
            return float(counted)
        hint = retry_hint(str(exc), headers)
        pause = self.hit(at_least=hint)
        setattr(exc, PAUSE_ATTR, pause)
        if self.on_limit is not None:
            self.on_limit(op, exc, pause, hint)
        return pause

    def success(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if now > self.until + 2.0 * self.delay:
            self.delay = 0.0

    def answered(self, sent_at: float) -> None:
        """A request sent at ``sent_at`` was answered (not rate-limited). After a hit without a venue
        hint (our own exponential backoff: a venue that does not say why or how long), one that left
        after the gate's last reopening shows the venue takes traffic again: the next hit starts over
        from ``base``. After a hinted hit the pause keeps growing until a quiet period (:meth:`success`):
        a client limited in window after window is sending too much, and every 429 is a strike towards
        a ban."""
        if not self.hinted and sent_at >= self.until:
            self.delay = 0.0

    def blocked(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) < self.until

    async def wait(self) -> None:
        """Until the gate is open (a hit meanwhile extends the wait)."""
        while (remaining := self.until - time.monotonic()) > 0:  # noqa: ASYNC110 (a deadline, not an event)
            await asyncio.sleep(remaining)


class OrderThrottle(OrderCeiling):  # type: ignore[misc]
    """The order-traffic ceiling: asyncio-throttle's sliding log, at most ``rate_limit`` passes in any
    ``period`` seconds, with a waiter that sleeps instead of polling.

    ``async with throttle:`` passes at once, without suspending, while fewer than ``rate_limit`` passes
    are younger than ``period`` and nobody waits; otherwise the caller queues (first come, first served)
    and the head of the queue sleeps exactly until the oldest pass is ``period`` old, so a waiting order
    costs one timer, not a wake-up every ``retry_interval`` (10 ms) as in the base class's ``acquire``.
    The log of passes and its expiry (``_task_logs``, ``flush``) are the base class's.
    """

    def __init__(self, rate_limit: int, period: float = 1.0) -> None:
        if rate_limit < 1 or period <= 0:
            raise ValueError("rate_limit must be >= 1 and period > 0")
        super().__init__(rate_limit, period)
        self._queue = asyncio.Lock()

    async def acquire(self) -> None:
        self.flush()
        if len(self._task_logs) < self.rate_limit and not self._queue.locked():
            self._task_logs.append(time.monotonic())
            return
        async with self._queue:
            while True:
                self.flush()
                if len(self._task_logs) < self.rate_limit:
                    break
                await asyncio.sleep(self._task_logs[0] + self.period - time.monotonic())
            self._task_logs.append(time.monotonic())


class GatedThrottler(Throttler):  # type: ignore[misc]
    """ccxt's leaky bucket behind the :class:`RateGate`, refilled for the time it sat idle.

    ``await throttler(cost)``: wait while the gate is closed; credit ``idle_ms * refillRate`` tokens
    (<= capacity) when no request is queued; a read (:data:`READING`) waits, in turn with the other reads
    (first come, first served: none starves), until the bucket holds ``min(capacity, cost + reserve)``
    tokens, so it never leaves a debt that the next order would wait out; take ``cost`` tokens as ccxt
    does (when nothing is queued and the bucket is not in debt, at once, without suspending); if the
    gate closed meanwhile, wait for it again before the request goes out.
    """

    def __init__(self, config: dict[str, Any], loop: Any = None, gate: RateGate | None = None,
                 reserve: float = 1.0) -> None:
        super().__init__(config, loop)
        self.gate = gate or RateGate()
        self.reserve = reserve
        self.idle_since = time.time() * 1000.0
        self._reads = asyncio.Lock()  # FIFO: reads take their turn at the reserve one by one

    def _credit_idle(self) -> None:
        cfg = self.config
        now = time.time() * 1000.0
        cfg["tokens"] = min(cfg["tokens"] + (now - self.idle_since) * cfg["refillRate"], cfg["capacity"])
        self.idle_since = now

    def take_now(self, cost: float | None = None) -> bool:
        """Take ``cost`` tokens at once if nothing would make the request wait: the gate open, ccxt's loop
        idle with nothing queued, the (leaky) bucket not in debt. What ccxt's loop would do at once, without
        starting a task for it, without two turns of the event loop before the request can be signed and
        sent, and (called directly, as the WebSocket order entry does) without a coroutine. False: nothing
        was taken; ``await throttler(cost)`` waits its turn. Only for requests that keep no reserve (not
        reads)."""
        if self.running or self.gate.blocked():
            return False
        self._credit_idle()
        cfg = self.config
        if self.queue or cfg["tokens"] < 0 or cfg["algorithm"] != "leakyBucket":
            return False
        cfg["tokens"] -= cfg["cost"] if cost is None else cost
        return True

    async def _take(self, cost: float | None) -> None:
        if not self.take_now(cost):
            await super().__call__(cost)

    async def _take_leaving_reserve(self, cost: float | None) -> None:
        cfg = self.config
        want = min(float(cfg["capacity"]), (cfg["cost"] if cost is None else cost) + self.reserve)
        async with self._reads:
            while True:
                if not self.running:
                    self._credit_idle()
                short_ms = (want - cfg["tokens"]) / cfg["refillRate"]
                if short_ms <= 0:
                    break
                await asyncio.sleep(short_ms / 1000.0)
            await super().__call__(cost)

    async def __call__(self, cost: float | None = None) -> None:  # type: ignore[override]
        read = READING.get() and self.config["algorithm"] == "leakyBucket"
        while True:
            await self.gate.wait()
            await (self._take_leaving_reserve(cost) if read else self._take(cost))
            if not self.gate.blocked():
                SENT.set(time.monotonic())
                return

    async def looper(self) -> None:
        try:
            await super().looper()
        finally:
            self.idle_since = time.time() * 1000.0


class _GatedExchange:
    """Mixed in front of a ccxt exchange class: rate-limit answers of any REST call close the gate."""

    rate_gate: RateGate

    async def fetch2(self, path: str, *args: Any, **kwargs: Any) -> Any:
        method = args[1] if len(args) > 1 else kwargs.get("method", "GET")
        reading = READING.set(method == "GET")
        sent = SENT.set(0.0)
        try:
            result = await super().fetch2(path, *args, **kwargs)  # type: ignore[misc]
            self.rate_gate.answered(SENT.get())
            return result
        except RATE_LIMITED as exc:  # ccxt's fetch stored this answer's headers just before raising
            headers = getattr(self, "last_response_headers", None)
            self.rate_gate.limited(f"{method} {path}", exc, headers if isinstance(headers, dict) else None)
            raise
        except ccxt.ExchangeError:  # answered, just not with success: not a rate limit either
            self.rate_gate.answered(SENT.get())
            raise
        finally:
            READING.reset(reading)
            SENT.reset(sent)


_GATED: dict[type, type] = {}


def ccxt_client(exchange: Any) -> AsyncExchange | None:
    """The async ccxt client that makes ``exchange``'s REST requests: itself, or a paper venue's public
    feed (:class:`bot.paper.venue.PaperExchange`); None for anything else."""
    if isinstance(exchange, AsyncExchange):
        return exchange
    feed = getattr(exchange, "feed", None)
    return feed if isinstance(feed, AsyncExchange) else None


def gate_exchange(exchange: Any, gate: RateGate, burst_seconds: float = 0.5, reserve: float = 1.0,
                  largest_read: float = 0.0) -> AsyncExchange | None:
    """Put every REST request of ``exchange`` behind ``gate`` (see the module docstring); idempotent.

    The bucket keeps its settings and token state, with the capacity raised to ``burst_seconds`` of
    budget, and at least to ``largest_read + reserve`` tokens: a read then waits until the bucket holds its
    cost plus ``reserve`` (what the next order costs) and leaves that much, never a debt an order waits out
    (a futures order costs 4 tokens, Binance USDⓈ-M's funding-income read 30). Returns the ccxt client gated,
    or None when there is none (nothing is changed then).
    """
    client = ccxt_client(exchange)
    if client is None:
        return None
    cls = type(client)
    if not issubclass(cls, _GatedExchange):
        gated = _GATED.get(cls)
        if gated is None:
            gated = _GATED[cls] = type(f"Gated{cls.__name__}", (_GatedExchange, cls), {})
        client.__class__ = gated
    client.rate_gate = gate  # type: ignore[attr-defined]
    old = client.throttler
    if isinstance(old, GatedThrottler):
        old.gate = gate
        return client
    config = old.config
    if config.get("algorithm") == "leakyBucket" and config.get("rateLimit"):
        burst = burst_seconds * 1000.0 / float(config["rateLimit"])
        config["capacity"] = max(float(config["capacity"]), burst, largest_read + reserve)
    new = GatedThrottler({}, old.loop, gate, reserve)
    new.config = config  # the same dict: settings and token state carry over
    client.throttler = new
    return client
