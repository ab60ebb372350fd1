"""Market-data feeds of one symbol: the order book and public trades, with resubscription.

``watch_order_book`` is called in a loop; each new book updates the :class:`MarketState` and, when it is
news for the quoter (a touch price changed: see :meth:`MarketState.on_book`), sets the quoter's
``asyncio.Event`` (conflation: the quoter only ever reads the latest state). On
``ChecksumError`` (sequence gap: ccxt drops the book and does not resync by itself), a dropped socket
or any other ccxt ``NetworkError``/``ExchangeError``, the feed waits a capped exponential backoff with
jitter and calls ``watch_order_book`` again, which resubscribes and refetches the snapshot. If no book
arrives for ``resubscribe_after`` seconds (a frozen feed), it unsubscribes and subscribes again.
Staleness itself (pulling the quotes) is the quoter's job; the feed only records arrival times.

Freshness is a streamed update: the first book of every (re)subscription is the snapshot ccxt starts
from (on Binance: ``fetch_order_book_snapshot`` resets the book to a REST depth snapshot, plus any diffs
buffered meanwhile, and resolves it) and only seeds the levels, so a frozen stream's book ages through
its resubscriptions until the stale kill. A streamed book's venue event time (``timestamp``: the diff's
``E``) gives its lateness (:class:`~bot.live.market.EventLag`): a backlog read after the process was
frozen is as old as its data, not as new as its arrival.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import ccxt

from bot.live.market import EventLag, MarketState
from bot.live.turns import yield_turns
from bot.live.watchdog import IdleWatchdog


@dataclass(frozen=True)
class Backoff:
    """Delay before retry ``n`` (1-based): ``min(cap, base * 2**(n-1))`` times a jitter in [0.5, 1]."""

    base: float = 0.2
    cap: float = 10.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        r = (rng or random).random()
        return min(self.cap, self.base * 2.0 ** max(0, attempt - 1)) * (0.5 + 0.5 * r)


FATAL = (ccxt.AuthenticationError, ccxt.PermissionDenied, ccxt.AccountSuspended, ccxt.BadSymbol)

async def _watch_loop(
    name: str,
    watch: Callable[[], Awaitable[Any]],
    handle: Callable[[Any], bool | None],
    log: Any,
    backoff: Backoff,
    idle_timeout: float | None = None,
    on_timeout: Callable[[], Awaitable[None]] | None = None,
    on_reconnect: Callable[[], None] | None = None,
    wake_turns: int = 1,
) -> None:
    """Call ``watch`` forever, pass results to ``handle``; retry errors with backoff (fatal ones raise).

    ``on_reconnect`` is told when data flows again after errors and when an idle stream is resubscribed.
    After ``handle`` the loop lets the other ready tasks run for ``wake_turns`` turns of the event loop,
    unless ``handle`` returned False (it woke nobody: most books do not move the touch).
    """
    attempt = 0
    # not wait_for (3.11's can swallow a cancellation that races with the result, and this loop would
    # then never end) and not asyncio.timeout per call (a timer armed and cancelled per book)
    watchdog = IdleWatchdog(idle_timeout) if idle_timeout is not None else None
    try:
        while True:
            try:
                result = await (watch() if watchdog is None else watchdog.call(watch))
            except asyncio.CancelledError:
                raise
            except FATAL:
                raise
            except TimeoutError:
                log.warning("feed_timeout", feed=name, after=idle_timeout)
                if on_timeout is not None:
                    try:
                        await on_timeout()
                    except Exception as exc:  # unsubscribing a dead stream may fail in many ways
                        log.debug("feed_unwatch_failed", feed=name, error=repr(exc))
                if on_reconnect is not None:
                    on_reconnect()
                continue
            except (ccxt.NetworkError, ccxt.ExchangeError) as exc:
                attempt += 1
                delay = backoff.delay(attempt)
                log.warning(
                    "feed_error", feed=name, error=type(exc).__name__, detail=str(exc)[:200],
                    attempt=attempt, retry_in=round(delay, 3),
                )
                await asyncio.sleep(delay)
                continue
            if attempt:
                log.info("feed_resynced", feed=name, after_attempts=attempt)
                attempt = 0
                if on_reconnect is not None:
                    on_reconnect()
            if handle(result) is not False:
                # let the tasks the handler woke (the quoter) put their orders on the wire before re-entering
                # ccxt: a watch_* call does ~100 us of bookkeeping before it suspends (bot/live/turns.py)
                await yield_turns(wake_turns)
    finally:
        if watchdog is not None:
            watchdog.close()


class BookFeed:
    """Keeps ``state`` at the latest top of book and sets ``wake`` when it is news (a touch price changed)."""

    def __init__(
        self,
        exchange: Any,
        symbol: str,
        state: MarketState,
        wake: asyncio.Event,
        log: Any,
        backoff: Backoff | None = None,
        resubscribe_after: float = 10.0,
        wake_turns: int = 1,
        on_reconnect: Callable[[], None] | None = None,
    ) -> None:
        self.exchange, self.symbol, self.state, self.wake, self.log = exchange, symbol, state, wake, log
        self.backoff = backoff or Backoff()
        self.resubscribe_after = resubscribe_after
        self.wake_turns = wake_turns  # after waking the quoter (bot/live/turns.py)
        self.on_reconnect = on_reconnect  # the reconnect metric
        self.lag = EventLag()
        self._seed = True  # the next book starts a subscription: a snapshot, not a streamed update
        self._stamped = False  # the previous book carried a venue event time

    def _resubscribed(self) -> None:
        """The watch loop subscribes again (after an error or an idle timeout): the next book is a snapshot."""
        self._seed = True
        if self.on_reconnect is not None:
            self.on_reconnect()

    def _handle(self, book: Any) -> bool:
        """Update the state; wake the quoter when the book is news. Returns whether it woke it.

        The first book of a subscription is not streamed (it only seeds the levels); nor is a book whose
        event time vanished (ccxt's ``reset`` to a snapshot clears it), whatever path led there.
        """
        t = time.monotonic()
        event = book.get("timestamp")
        stamped = event is not None
        if self._seed or (self._stamped and not stamped):
            self._seed = False
            streamed, late = False, 0.0
        else:
            streamed, late = True, self.lag.late(t, event * 0.001) if stamped else 0.0
        self._stamped = stamped
        if self.state.on_book(t, book["bids"], book["asks"], streamed, late):
            self.state.received = time.perf_counter()
            self.wake.set()
            return True
        return False

    async def _unwatch(self) -> None:
        await self.exchange.un_watch_order_book(self.symbol)

    async def run(self) -> None:
        await _watch_loop(
            "book",
            lambda: self.exchange.watch_order_book(self.symbol),
            self._handle,
            self.log,
            self.backoff,
            idle_timeout=self.resubscribe_after,
            on_timeout=self._unwatch,
            on_reconnect=self._resubscribed,
            wake_turns=self.wake_turns,
        )


class TradeFeed:
    """Public trades into the intensity estimator."""

    def __init__(self, exchange: Any, symbol: str, state: MarketState, log: Any, backoff: Backoff | None = None,
                 on_reconnect: Callable[[], None] | None = None) -> None:
        self.exchange, self.symbol, self.state, self.log = exchange, symbol, state, log
        self.backoff = backoff or Backoff()
        self.on_reconnect = on_reconnect  # the reconnect metric

    def _handle(self, trades: Any) -> None:
        now = time.monotonic()
        for trade in trades:
            price = trade.get("price")
            if price is not None:
                self.state.on_trade(now, float(price))

    async def run(self) -> None:
        await _watch_loop(
            "trades", lambda: self.exchange.watch_trades(self.symbol), self._handle, self.log, self.backoff,
            on_reconnect=self.on_reconnect,
        )
