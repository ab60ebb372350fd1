"""Record market data from a ccxt.pro exchange into the recording format (``mmbot record``).

:class:`BookDiffer` (pure) turns the sequence of full books that ``watch_order_book`` gives into a
first snapshot and then diffs: only the levels whose size changed, a size of 0 for a level that left
the recorded depth (the top ``depth`` levels per side). Replaying the events with
:class:`bot.research.l2book.L2Book` rebuilds exactly the top ``depth`` levels seen at each update.
A full snapshot is also written every ``snapshot_every`` seconds, so a reader can start from any
snapshot and a truncated file is still usable.

:func:`record` runs one book task and one trade task per symbol until ``duration`` has passed. Each
event is stamped with the local arrival time (``clock``, seconds, kept non-decreasing), so books and
trades share one clock and the file is in time order; trade ids and taker sides are kept as the venue
gives them. Feed errors are logged and the watch is retried with a capped backoff (ccxt refetches the
snapshot on resubscription; the next diff is taken against the last recorded book, so the file stays
consistent).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ccxt

from bot.research.recording import BookEvent, Event, RecordingWriter, TradeEvent


@dataclass
class BookDiffer:
    """Snapshot first, then changed levels only (size 0 = level gone); a full snapshot every ``snapshot_every`` s."""

    symbol: str
    depth: int = 25
    snapshot_every: float = 60.0
    bids: dict[float, float] = field(default_factory=dict)
    asks: dict[float, float] = field(default_factory=dict)
    last_snapshot: float | None = None

    def update(self, ts: float, bids: Sequence[Sequence[float]], asks: Sequence[Sequence[float]]) -> BookEvent | None:
        """The event for a new full book (best first), or None when the recorded levels did not change."""
        new_bids = {float(level[0]): float(level[1]) for level in bids[: self.depth] if float(level[1]) > 0}
        new_asks = {float(level[0]): float(level[1]) for level in asks[: self.depth] if float(level[1]) > 0}
        if self.last_snapshot is None or ts - self.last_snapshot >= self.snapshot_every:
            self.bids, self.asks, self.last_snapshot = new_bids, new_asks, ts
            return BookEvent(ts, self.symbol, tuple(new_bids.items()), tuple(new_asks.items()), snapshot=True)
        bid_diff = _diff(self.bids, new_bids)
        ask_diff = _diff(self.asks, new_asks)
        self.bids, self.asks = new_bids, new_asks
        if not bid_diff and not ask_diff:
            return None
        return BookEvent(ts, self.symbol, bid_diff, ask_diff, snapshot=False)


def _diff(old: dict[float, float], new: dict[float, float]) -> tuple[tuple[float, float], ...]:
    changed = [(p, q) for p, q in new.items() if old.get(p) != q]
    changed += [(p, 0.0) for p in old if p not in new]
    return tuple(changed)


@dataclass
class RecordStats:
    books: int = 0
    snapshots: int = 0
    trades: int = 0
    errors: int = 0
    symbols: dict[str, dict[str, int]] = field(default_factory=dict)


class Recorder:
    """Writes events of several symbols to one open recording (either format), in arrival order."""

    def __init__(self, out: RecordingWriter, clock: Callable[[], float] = time.time, log: Any = None) -> None:
        self.out, self.clock, self.log = out, clock, log
        self.stats = RecordStats()
        self._last_ts = 0.0

    def now(self) -> float:
        self._last_ts = max(self._last_ts, self.clock())
        return self._last_ts

    def write(self, event: Event) -> None:
        self.out.write((event,))
        per = self.stats.symbols.setdefault(event.symbol, {"books": 0, "trades": 0})
        if isinstance(event, BookEvent):
            self.stats.books += 1
            self.stats.snapshots += event.snapshot
            per["books"] += 1
        else:
            self.stats.trades += 1
            per["trades"] += 1

    async def _retrying(self, name: str, symbol: str, step: Callable[[], Any]) -> None:
        failures = 0
        while True:
            try:
                await step()
                failures = 0
            except asyncio.CancelledError:
                raise
            except ccxt.NotSupported as exc:
                if self.log is not None:
                    self.log.error("record_feed_unsupported", feed=name, symbol=symbol, detail=str(exc)[:200])
                return
            except (ccxt.NetworkError, ccxt.ExchangeError, ccxt.UnsubscribeError) as exc:
                if isinstance(exc, ccxt.BadSymbol | ccxt.AuthenticationError):
                    raise
                failures += 1
                self.stats.errors += 1
                delay = min(5.0, 0.2 * 2 ** min(failures - 1, 5))
                if self.log is not None:
                    self.log.warning("record_feed_error", feed=name, symbol=symbol, error=type(exc).__name__,
                                     detail=str(exc)[:200], retry_in=delay)
                await asyncio.sleep(delay)

    async def books(self, exchange: Any, symbol: str, depth: int, snapshot_every: float) -> None:
        differ = BookDiffer(symbol, depth, snapshot_every)

        async def step() -> None:
            book = await exchange.watch_order_book(symbol)
            event = differ.update(self.now(), book["bids"], book["asks"])
            if event is not None:
                self.write(event)

        await self._retrying("book", symbol, step)

    async def trades(self, exchange: Any, symbol: str) -> None:
        seen: deque[Any] = deque(maxlen=5000)
        seen_set: set[Any] = set()

        async def step() -> None:
            trades = await exchange.watch_trades(symbol)
            ts = self.now()
            for trade in trades:
                key = trade.get("id") or (trade.get("timestamp"), trade.get("price"), trade.get("amount"))
                if key in seen_set:
                    continue
                if len(seen) == seen.maxlen:
                    seen_set.discard(seen[0])
                seen.append(key)
                seen_set.add(key)
                price, amount = trade.get("price"), trade.get("amount")
                if price is None or amount is None or not (price > 0 and amount > 0):
                    continue
                side = trade.get("side") if trade.get("side") in ("buy", "sell") else None
                trade_id = trade.get("id")
                self.write(TradeEvent(ts, symbol, float(price), float(amount), side,
                                      None if trade_id is None else str(trade_id)))

        await self._retrying("trades", symbol, step)


async def record(
    exchange: Any,
    symbols: Sequence[str],
    duration: float,
    out: RecordingWriter,
    depth: int = 25,
    snapshot_every: float = 60.0,
    clock: Callable[[], float] = time.time,
    log: Any = None,
    stop: asyncio.Event | None = None,
) -> RecordStats:
    """Record books and trades of ``symbols`` for ``duration`` seconds (or until ``stop`` is set) into ``out``
    (:func:`bot.research.recording.create_recording`; the caller closes it).

    Returns the counts. A task that fails for good (e.g. BadSymbol) stops the recording and its
    exception propagates.
    """
    recorder = Recorder(out, clock, log)
    tasks = []
    for symbol in symbols:
        tasks.append(asyncio.create_task(recorder.books(exchange, symbol, depth, snapshot_every)))
        tasks.append(asyncio.create_task(recorder.trades(exchange, symbol)))
    stopper = asyncio.create_task((stop or asyncio.Event()).wait())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration
    pending: set[asyncio.Task[Any]] = {*tasks, stopper}
    try:
        # until the duration is up or ``stop`` is set; a feed that ends (NotSupported) leaves the others
        while pending - {stopper} and (left := deadline - loop.time()) > 0:
            done, pending = await asyncio.wait(pending, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            if stopper in done:
                break
            for task in done:
                exc = task.exception()
                if exc is not None:
                    raise exc
    finally:
        for task in [*tasks, stopper]:
            task.cancel()
        await asyncio.gather(*tasks, stopper, return_exceptions=True)
    return recorder.stats
