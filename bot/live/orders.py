"""Order management for one symbol: our working orders and the throttled venue calls that change them.

Creates and cancels go through an order entry (:mod:`bot.live.entry`: REST or the WebSocket API); the
rules below hold for both. Order lookups and open-order reads are always REST.

- Client order ids are ``<prefix>-<symbol tag>-<run stamp><counter>`` (base 36, at most 36 characters),
  so a later run recognises its own orders by the ``<prefix>-`` start.
- Orders are LIMIT_MAKER (``{'postOnly': True}``) by default. A post-only order that would cross
  (``OrderImmediatelyFillable``) is logged as ``order_rejected`` and dropped; the next cycle prices it
  again from a newer book. There is never a retry loop here.
- Every create and cancel first passes a shared :class:`~bot.live.ratelimit.OrderThrottle` (the
  order-traffic ceiling for all symbols; ccxt's own REST rate limiter stays on underneath). Reads
  (order lookups, open orders, trade pages) do not take a pass: they would crowd out the orders the
  ceiling is for, and the rate gate already paces them by request weight.
- ``DDoSProtection`` (HTTP 429/418) and ``RateLimitExceeded`` put the shared
  :class:`~bot.live.ratelimit.RateGate` into a backoff that doubles on each hit (capped), or longer when
  the venue says how long (``Retry-After``, the limit's window, a ban's end); while it is closed no order
  or REST traffic is sent (the exchange layer holds every REST request: :mod:`bot.live.ratelimit`) and
  the quoter just keeps its state.
- ``InsufficientFunds`` and other ``InvalidOrder``/``BadRequest`` rejections are logged as
  ``order_rejected`` and pause that side for ``reject_cooldown`` seconds.
- A create that fails with a network error (or another answer of unknown fate, ccxt ``OperationFailed``)
  may or may not have reached the venue: the order stays tracked (``acked=False``) and ``on_unknown``
  hands it to the fill book, which looks it up by client id (:meth:`bot.live.fills.FillBook.resolve_unknown`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import ccxt

from bot.core.quote import Side
from bot.core.reconcile import Action, Cancel, Create, WorkingOrder
from bot.live.clock import ClockSync
from bot.live.entry import OrderEntry, RestOrderEntry
from bot.live.journal import JournalWriteError
from bot.live.ratelimit import OrderThrottle, RateGate
from bot.risk.exposure import unbooked
from bot.venue.answers import VENUE_TROUBLE, Answer, classify

DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def base36(n: int) -> str:
    n = abs(int(n))
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = DIGITS[r] + out
        if n == 0:
            return out


def symbol_tag(market_id: str) -> str:
    """A short alphanumeric tag for a market id (``BTCUSDT`` -> ``btcusdt``)."""
    return re.sub(r"[^a-z0-9]", "", market_id.lower())[:10] or "sym"


def make_throttler(orders_per_second: float) -> OrderThrottle:
    """A throttle allowing ``orders_per_second`` on average (an integer count per period)."""
    count = max(1, int(orders_per_second))
    return OrderThrottle(rate_limit=count, period=count / orders_per_second)


@dataclass
class LiveOrder:
    """One of our orders as we believe it stands. ``remaining`` is the size not booked as filled.

    ``final_filled`` is the venue's final executed size once the order is known to be done (a cancel's
    answer, a terminal order lookup); ``settling_since`` is when it left the book with that still
    unknown or not yet booked (see :class:`OrderTracker`).
    """

    client_id: str
    side: Side
    price: float
    amount: float
    remaining: float
    created_at: float
    order_id: str | None = None
    acked: bool = False
    quote_mid: float | None = None
    half_spread: float | None = None
    final_filled: float | None = None
    settling_since: float | None = None
    next_lookup: float = 0.0

    def working(self) -> WorkingOrder:
        return WorkingOrder(self.client_id, self.side, self.price, self.remaining, self.created_at)

    def unbooked(self) -> float:
        """What of this order may still be booked into the inventory (:func:`bot.risk.exposure.unbooked`)."""
        return unbooked(self.amount, self.amount - self.remaining, self.final_filled)


EPS = 1e-12


class OrderTracker:
    """Our orders: ``open`` (believed resting or in flight), ``settling`` (off the book, fills may still
    come) and indexes by client id and order id.

    :meth:`close` takes an order off the book. It is dropped only once nothing more can be booked for
    it (:meth:`LiveOrder.unbooked` is 0: fully booked, or the venue's final executed size is known and
    booked); until then it is ``settling`` and still counts in :meth:`exposure`, so a fill that arrives
    after the order was cancelled, reported done or not found never takes the position past what the
    pre-trade check allowed. Done orders of this run stay findable for the ``keep_closed`` most recent
    ones (late order updates); every trade of a done order is booked, so a late duplicate of one is
    refused by its trade id before any lookup. Open and settling orders are never dropped from the
    indexes.
    """

    def __init__(self, keep_closed: int = 200, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock  # monotonic seconds: when an order starts settling
        self.open: dict[str, LiveOrder] = {}
        self.settling: dict[str, LiveOrder] = {}
        self.by_client_id: dict[str, LiveOrder] = {}
        self.by_order_id: dict[str, LiveOrder] = {}
        self.keep_closed = keep_closed
        self._closed: deque[LiveOrder] = deque()
        self.on_close: Callable[[LiveOrder], None] | None = None  # the journal's hook

    def _index(self, order: LiveOrder) -> None:
        self.by_client_id[order.client_id] = order
        if order.order_id:
            self.by_order_id[order.order_id] = order

    def remember(self, order: LiveOrder) -> None:
        """Know an order (of an earlier run) by its ids without counting it as open.

        Remembered orders are never forgotten: their number is fixed at start, and the restart
        catch-up needs every one that the journal still holds unsettled.
        """
        self._index(order)

    def add(self, order: LiveOrder) -> None:
        self.open[order.client_id] = order
        self._index(order)

    def set_order_id(self, order: LiveOrder, order_id: str) -> None:
        order.order_id = order_id
        order.acked = True
        self.by_order_id[order_id] = order

    def close(self, client_id: str, filled: float | None = None, now: float | None = None) -> LiveOrder | None:
        """Take an order off the book; ``filled`` is the venue's final executed size when known.

        Returns the order when it was open. An order with nothing left to book is dropped, any other
        one settles (see the class docstring); a settling order learns ``filled`` here too.
        """
        order = self.open.pop(client_id, None)
        if order is not None:
            if self.on_close is not None:
                self.on_close(order)
            order.settling_since = self.clock() if now is None else now
            self.settling[client_id] = order
            target = order
        else:
            target = self.settling.get(client_id)  # type: ignore[assignment]
        if target is not None:
            if filled is not None:
                target.final_filled = filled
            self._sweep(target)
        return order

    def reopen(self, order: LiveOrder) -> None:
        """The venue says a settling order still rests: it is open again (the quoter will cancel it)."""
        if self.settling.pop(order.client_id, None) is not None:
            order.settling_since = None
            order.final_filled = None
            self.add(order)

    def _sweep(self, order: LiveOrder) -> None:
        if order.unbooked() <= EPS and self.settling.pop(order.client_id, None) is not None:
            self._retire(order)

    def _retire(self, order: LiveOrder) -> None:
        """Keep a done order findable among the ``keep_closed`` latest; forget older done ones."""
        self._closed.append(order)
        while len(self._closed) > self.keep_closed:
            old = self._closed.popleft()
            if old.client_id in self.open or old.client_id in self.settling:
                continue  # reopened or re-added meanwhile: still live, never forgotten
            if self.by_client_id.get(old.client_id) is old:
                del self.by_client_id[old.client_id]
            if old.order_id and self.by_order_id.get(old.order_id) is old:
                del self.by_order_id[old.order_id]

    def find(self, order_id: str | None, client_id: str | None) -> LiveOrder | None:
        if client_id and client_id in self.by_client_id:
            return self.by_client_id[client_id]
        if order_id and order_id in self.by_order_id:
            return self.by_order_id[order_id]
        return None

    def working(self) -> list[WorkingOrder]:
        return [o.working() for o in self.open.values()]

    def open_size(self, side: Side, acked: bool | None = None) -> float:
        """Remaining size of the open orders on ``side`` (only acked or unacked ones when given)."""
        return sum(o.remaining for o in self.open.values() if o.side == side and (acked is None or o.acked == acked))

    def settling_size(self, side: Side) -> float:
        """What settling orders on ``side`` may still book (done ones are dropped on the way)."""
        total = 0.0
        for order in list(self.settling.values()):
            if order.side == side:
                size = order.unbooked()
                if size <= EPS:
                    self._sweep(order)
                total += size
        return total

    def exposure(self, side: Side) -> float:
        """Everything on ``side`` that may still be booked: open orders plus settling ones."""
        return self.open_size(side) + self.settling_size(side)

    def committed(self, side: Side) -> float:
        """The part of :meth:`exposure` a new quote does not replace: unacked open orders and settling ones."""
        buy, sell = self.committed_both()
        return buy if side == "buy" else sell

    def committed_both(self) -> tuple[float, float]:
        """(``committed("buy")``, ``committed("sell")``) in one pass over the open orders (the quoter reads
        both on every decision): the unacked open orders' remaining size plus :meth:`settling_size`."""
        buy = sell = 0.0
        for o in self.open.values():
            if not o.acked:
                if o.side == "buy":
                    buy += o.remaining
                elif o.side == "sell":
                    sell += o.remaining
        if self.settling:
            buy += self.settling_size("buy")
            sell += self.settling_size("sell")
        return buy, sell


@dataclass(frozen=True)
class OpenCheck:
    """Our open orders on one symbol by the venue's word: ``left`` is what its last read after our last
    cancel showed when ``confirmed``; otherwise the venue did not answer and ``left`` orders of ours may
    still be open (the tracked ones, or more where an earlier read showed more)."""

    left: int
    confirmed: bool


TERMINAL = ("closed", "canceled", "cancelled", "expired", "rejected")


def filled_of(order: dict[str, Any]) -> float | None:
    """The executed size a ccxt order reports (None when it does not say)."""
    filled = order.get("filled")
    return None if filled is None else float(filled)


def client_id_of(order: dict[str, Any]) -> str | None:
    """The client order id of a ccxt order or trade (falling back to Binance's raw fields)."""
    cid = order.get("clientOrderId")
    if cid:
        return str(cid)
    info = order.get("info") or {}
    for key in ("C", "c", "clientOrderId", "origClientOrderId"):
        value = info.get(key) if isinstance(info, dict) else None
        if value:
            return str(value)
    return None


class OrderManager:
    """Creates and cancels the orders of one symbol through the shared throttler and rate gate."""

    def __init__(
        self,
        exchange: Any,
        symbol: str,
        market_id: str,
        prefix: str,
        throttler: OrderThrottle,
        rate: RateGate,
        log: Any,
        post_only: bool = True,
        reject_cooldown: float = 2.0,
        settle_after: float = 1.0,
        unknown_after: float = 15.0,
        entry: OrderEntry | None = None,
        clock_sync: ClockSync | None = None,
        max_data_age: float = math.inf,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.exchange, self.symbol, self.prefix = exchange, symbol, prefix
        self.entry: OrderEntry = entry if entry is not None else RestOrderEntry(exchange)  # creates, cancels
        self.throttler, self.rate, self.log = throttler, rate, log
        self.post_only = post_only
        self.reject_cooldown = reject_cooldown
        self.now = clock  # monotonic seconds: order ages, cooldowns, data age (a simulated clock in a replay)
        self.tracker = OrderTracker(clock=clock)
        self._tag = symbol_tag(market_id)
        self._stamp = base36(int(time.time()))
        self._counter = 0
        self._cooldown: dict[Side, float] = {"buy": 0.0, "sell": 0.0}
        self.placed = 0
        self.canceled = 0
        self.rejected = 0
        self.blocked = 0
        # risk hooks (bot/live/guard.py): the pre-trade worst-case check, the journal, error reports
        self.precheck: Callable[[Side, float, float], str | None] | None = None
        self.journal: Any = None
        self.on_error: Callable[[str, BaseException], None] | None = None
        self.on_unknown: Callable[[LiveOrder], None] | None = None  # a create of unknown fate (fills.py)
        self.failures = 0  # venue calls failed in a row (venue trouble): an outage pauses quoting
        self.clock_sync = clock_sync  # measures the clock offset to the venue again after a -1021
        self.max_data_age = max_data_age  # a create whose data is older than this is dropped (risk.stale_after)
        self._errored: set[str] = set()  # keys of retried calls whose failure the error rate has counted
        self.last_check = OpenCheck(0, confirmed=False)  # what cancel_all last learned (read after a timeout)
        self.settle_after = settle_after  # see resolve_settling
        self.unknown_after = unknown_after
        # ops: bot.ops.Metrics, and the perf_counter() arrival of the book the current cycle reacts to
        self.metrics: Any = None
        self.reaction_start: float | None = None

    # -- ids --------------------------------------------------------------------------------------
    def next_client_id(self) -> str:
        self._counter += 1
        return f"{self.prefix}-{self._tag}-{self._stamp}{base36(self._counter)}"[:36]

    def is_ours(self, client_id: str | None) -> bool:
        return bool(client_id) and str(client_id).startswith(f"{self.prefix}-")

    # -- the cycle --------------------------------------------------------------------------------
    def side_paused(self, side: Side, now: float | None = None) -> bool:
        return (self.now() if now is None else now) < self._cooldown[side]

    async def execute(self, actions: Iterable[Action], quote_mid: float | None, half_spread: float | None,
                      data_time: float | None = None) -> None:
        """Run reconciler actions in order; a side whose cancel failed gets no create this cycle.
        ``data_time`` is when the data the actions were decided on was current (monotonic; see :meth:`create`)."""
        blocked_sides: set[Side] = set()
        for action in actions:
            if self.rate.blocked():
                return
            if isinstance(action, Cancel):
                if not await self.cancel(action.client_id, action.reason):
                    blocked_sides.add(action.side)
            elif isinstance(action, Create):
                if action.side in blocked_sides or self.side_paused(action.side):
                    continue
                await self.create(action.side, action.price, action.amount, quote_mid, half_spread, action.reason,
                                  data_time)

    async def create(
        self,
        side: Side,
        price: float,
        amount: float,
        quote_mid: float | None = None,
        half_spread: float | None = None,
        reason: str = "new",
        data_time: float | None = None,
    ) -> LiveOrder | None:
        """Send one create once the order ceiling lets it through; what may stop it is checked then, not
        before that wait (:meth:`_admit`). Returns the order (also while its fate is unknown), else None."""
        async with self.throttler:
            order = self._admit(side, price, amount, quote_mid, half_spread, data_time)
            if order is None:
                return None
            params: dict[str, Any] = {"clientOrderId": order.client_id}
            if self.post_only:
                params["postOnly"] = True
            reaction = self._reacted()
            try:
                result = await self.entry.create(self.symbol, side, amount, price, params)
            except ccxt.BaseError as exc:
                return self._create_failed(order, exc)
            finally:
                self._observe(reaction)
        cid = order.client_id
        self.rate.success()
        self.failures = 0
        self.placed += 1
        if self.metrics is not None:
            self.metrics.on_order(self.symbol, "placed")
        order_id = result.get("id")
        if order_id is not None:
            if self.journal is not None:  # refused: the kill trips; the next start looks it up by client id
                with contextlib.suppress(JournalWriteError):
                    self.journal.order_acked(cid, str(order_id))
            self.tracker.set_order_id(order, str(order_id))
        self.log.info("order_placed", client_id=cid, order_id=order.order_id, side=side, price=price,
                      amount=amount, reason=reason)
        if result.get("status") in TERMINAL:
            self.tracker.close(cid, filled=filled_of(result))
        return order

    def _admit(self, side: Side, price: float, amount: float, quote_mid: float | None, half_spread: float | None,
               data_time: float | None) -> LiveOrder | None:
        """The order about to be sent, tracked and journaled; None when it must not go: the data its price
        came from is older than ``max_data_age`` (the process was frozen, or waited for the ceiling, since the
        decision: newer data is the next cycle's to price), the pre-trade worst-case check refuses it, or its
        journal row cannot be written (no row, no create)."""
        now = self.now()
        if data_time is not None and now - data_time > self.max_data_age:
            self.log.info("create_dropped", side=side, price=price, amount=amount, reason="stale_data",
                          data_age=round(now - data_time, 3))
            return None
        if self.precheck is not None:
            breach = self.precheck(side, amount, price)
            if breach is not None:
                self.blocked += 1
                self.log.warning("order_blocked", side=side, price=price, amount=amount, limit=breach)
                return None
        cid = self.next_client_id()
        if self.journal is not None:
            try:
                self.journal.order_sent(cid, self.symbol, side, price, amount)
            except JournalWriteError as exc:  # no row, no create (the refusal has tripped the kill switch)
                self.log.warning("order_not_sent", client_id=cid, side=side, price=price, amount=amount,
                                 answer="journal", error=type(exc).__name__, detail=str(exc)[:200])
                return None
        order = LiveOrder(cid, side, price, amount, amount, now, quote_mid=quote_mid, half_spread=half_spread)
        self.tracker.add(order)
        return order

    def _create_failed(self, order: LiveOrder, exc: ccxt.BaseError) -> LiveOrder | None:
        """Act on a create's error by what the venue's answer means (:func:`bot.venue.answers.classify`);
        returns the order while its fate is unknown (it stays tracked and is looked up), else None."""
        answer = classify(exc)
        cid = order.client_id
        if answer is Answer.WOULD_CROSS:
            self._rejected(order, "would_cross", exc, cooldown=False)
        elif answer is Answer.NO_FUNDS:
            self._rejected(order, "insufficient_funds", exc)
        elif answer is Answer.RATE_LIMITED:
            self.tracker.close(cid, filled=0.0)  # refused before it was processed
            self._rate_limited("create", exc)
        elif answer is Answer.UNKNOWN:  # network errors, timeouts, -1006/-1007: it may have executed
            self.log.warning("order_unknown", client_id=cid, side=order.side, price=order.price,
                             amount=order.amount, error=type(exc).__name__, detail=str(exc)[:200])
            self._failed("create", exc)
            if self.on_unknown is not None:
                self.on_unknown(order)
            return order
        elif answer in VENUE_TROUBLE:  # busy (-1008) or our clock outside the recvWindow: not executed
            self.tracker.close(cid, filled=0.0)
            self.log.warning("order_not_sent", client_id=cid, side=order.side, price=order.price,
                             amount=order.amount, answer=answer.value, error=type(exc).__name__,
                             detail=str(exc)[:200])
            self._failed("create", exc)
        else:
            reason = "invalid" if isinstance(exc, ccxt.InvalidOrder | ccxt.BadRequest) else "exchange_error"
            self._rejected(order, reason, exc)
        return None

    def _reacted(self) -> float | None:
        """The reaction time, once per book: its arrival -> now, the first request being handed to ccxt."""
        start, self.reaction_start = self.reaction_start, None
        return None if start is None else time.perf_counter() - start

    def _observe(self, reaction: float | None) -> None:
        """Record a reaction time in the metrics, once its request is answered (nothing waits for it then)."""
        if reaction is not None and self.metrics is not None:
            self.metrics.observe_reaction(reaction)

    def _rejected(self, order: LiveOrder, reason: str, exc: Exception, cooldown: bool = True) -> None:
        self.tracker.close(order.client_id, filled=0.0)  # the venue answered: it was never placed
        self.rejected += 1
        if self.metrics is not None:
            self.metrics.on_order(self.symbol, "rejected")
        if cooldown:
            self._cooldown[order.side] = self.now() + self.reject_cooldown
            if self.on_error is not None:
                self.on_error(f"order_rejected:{reason}", exc)
        self.log.warning("order_rejected", client_id=order.client_id, side=order.side, price=order.price,
                         amount=order.amount, reason=reason, error=type(exc).__name__, detail=str(exc)[:200])

    def _rate_limited(self, op: str, exc: Exception) -> None:
        """Close the shared gate for a rate-limit answer (a no-op when the exchange layer already did:
        :meth:`RateGate.limited` counts each answer once and tells the service, which logs it)."""
        self.rate.limited(op, exc, self.entry.headers())

    def _failed(self, op: str, exc: BaseException, key: str | None = None) -> None:
        """Venue trouble (outage, unknown fate, clock skew) counts towards an outage (a pause), and a clock
        skew has the offset measured again; any other error counts towards the error rate, once per
        ``key`` (an order whose cancel is retried each cycle is one error until that cancel succeeds)."""
        answer = classify(exc)
        if answer in VENUE_TROUBLE:
            self.failures += 1
            if answer is Answer.CLOCK and self.clock_sync is not None:
                self.clock_sync.skewed()
            return
        if key is not None:
            if key in self._errored:
                return
            if len(self._errored) >= 64:  # forget the keys of orders that are done
                live = self.tracker.open.keys() | self.tracker.settling.keys()
                self._errored = {k for k in self._errored if k.removeprefix("lookup:") in live}
            self._errored.add(key)
        if self.on_error is not None:
            self.on_error(f"{op}_failed", exc)

    async def cancel(self, client_id: str, reason: str = "", ceiling: bool = True) -> bool:
        """Cancel one of our orders; True when it is known not to rest any more. ``ceiling=False`` (the
        shutdown's cancels) skips the order ceiling, never the rate gate: a venue's order-count limits
        count new orders, and a stop must not wait out our own pacing.

        The cancel's answer carries the order's final executed size, so fills of it still on their way
        keep counting until they are booked. An order the venue does not find (most often: just filled)
        settles with that size unknown, so its whole remaining size keeps counting until its fills
        arrive or :meth:`resolve_settling` learns its fate.
        """
        order = self.tracker.open.get(client_id)
        if order is None:
            return True
        try:
            async with self.throttler if ceiling else contextlib.nullcontext():
                reaction = self._reacted()
                try:
                    if order.order_id:
                        result = await self.entry.cancel(order.order_id, self.symbol, {})
                    else:
                        result = await self.entry.cancel(None, self.symbol, {"clientOrderId": client_id})
                finally:
                    self._observe(reaction)
        except ccxt.BaseError as exc:
            answer = classify(exc)
            if answer is Answer.NOT_FOUND:
                self._errored.discard(client_id)
                self.tracker.close(client_id)
                self.log.info("order_gone", client_id=client_id, side=order.side, reason=reason,
                              unbooked=order.unbooked())
                return True
            if answer is Answer.RATE_LIMITED:
                self._rate_limited("cancel", exc)
                return False
            self.log.warning("cancel_failed", client_id=client_id, answer=answer.value, error=type(exc).__name__,
                             detail=str(exc)[:200])
            self._failed("cancel", exc, key=client_id)
            return False
        self._errored.discard(client_id)
        self.rate.success()
        self.failures = 0
        self.canceled += 1
        if self.metrics is not None:
            self.metrics.on_order(self.symbol, "canceled")
        self.tracker.close(client_id, filled=filled_of(result if isinstance(result, dict) else {}))
        self.log.info("order_canceled", client_id=client_id, order_id=order.order_id, side=order.side,
                      price=order.price, reason=reason)
        return True

    async def resolve_settling(self, now: float | None = None) -> int:
        """Look up settling orders whose final executed size is still unknown ``settle_after`` seconds
        after they left the book (fills of a filled order would have arrived by then); returns the
        number of lookups.

        Found open: open again (the next cycle cancels it). Found done: its executed size is final.
        Not found: nothing more can be booked for it once it was acknowledged, or, for a create whose
        answer never came, once ``unknown_after`` seconds have passed since it was sent (the venue
        refuses a request older than its receive window).
        """
        now = self.now() if now is None else now
        due = [o for o in self.tracker.settling.values()
               if o.final_filled is None and o.settling_since is not None
               and now - o.settling_since >= self.settle_after and now >= o.next_lookup]
        for order in due:
            if self.rate.blocked():
                break
            await self._lookup(order, now)
        return len(due)

    async def _lookup(self, order: LiveOrder, now: float) -> None:
        cid = order.client_id
        order.next_lookup = now + self.settle_after
        try:
            if order.order_id:
                found = await self.exchange.fetch_order(order.order_id, self.symbol)
            else:
                found = await self.exchange.fetch_order(None, self.symbol, {"origClientOrderId": cid})
        except ccxt.BaseError as exc:
            answer = classify(exc)
            if answer is Answer.NOT_FOUND:
                if order.acked or now - order.created_at >= self.unknown_after:
                    self.tracker.close(cid, filled=order.amount - order.remaining)
                    self.log.info("order_settled", client_id=cid, status="not_found", acked=order.acked)
            elif answer is Answer.RATE_LIMITED:
                self._rate_limited("fetch_order", exc)
            else:
                self.log.warning("order_lookup_failed", client_id=cid, error=type(exc).__name__,
                                 detail=str(exc)[:200])
                self._failed("fetch_order", exc, key=f"lookup:{cid}")
            return
        if found.get("id") is not None and not order.order_id:
            self.tracker.set_order_id(order, str(found["id"]))
        status = found.get("status")
        if status in TERMINAL:
            self.tracker.close(cid, filled=filled_of(found))
        elif status == "open":
            self.tracker.reopen(order)
        self.log.info("order_settled", client_id=cid, status=status, filled=found.get("filled"),
                      unbooked=order.unbooked())

    async def fetch_own_open(self) -> list[dict[str, Any]]:
        """Our orders the venue reports open for this symbol."""
        orders = await self.exchange.fetch_open_orders(self.symbol)
        return [o for o in orders if self.is_ours(client_id_of(o))]

    async def cancel_all(self, attempts: int = 8) -> OpenCheck:
        """Cancel every order of ours on this symbol until a venue read shows none open.

        The count is confirmed only by an open-order read that succeeded after the last cancel was sent;
        when none did (the venue did not answer), the check is unconfirmed and counts the orders of ours
        that may still be open. Waits out rate-limit backoffs instead of giving up; a caller bounds the
        whole call with a deadline (``asyncio.timeout``) and reads :attr:`last_check` after a timeout.
        """
        self.last_check = OpenCheck(len(self.tracker.open), confirmed=False)
        for attempt in range(1, attempts + 1):
            await self.rate.wait()
            try:
                remaining = await self.fetch_own_open()
            except ccxt.BaseError as exc:
                if classify(exc) is Answer.RATE_LIMITED:
                    self._rate_limited("fetch_open_orders", exc)
                    continue
                self.log.warning("cancel_all_retry", attempt=attempt, error=type(exc).__name__,
                                 detail=str(exc)[:200])
                await asyncio.sleep(min(5.0, 0.2 * 2**attempt))
                continue
            self._adopt(remaining)
            self.last_check = OpenCheck(len(remaining), confirmed=True)
            if not remaining and not self.tracker.open:
                return self.last_check
            # cancels go out: the read no longer confirms anything
            self.last_check = OpenCheck(max(len(remaining), len(self.tracker.open)), confirmed=False)
            for cid in list(self.tracker.open):
                await self.rate.wait()
                await self.cancel(cid, "shutdown", ceiling=False)
        try:
            remaining = await self.fetch_own_open()
        except ccxt.BaseError:
            return self.last_check
        self._adopt(remaining)
        self.last_check = OpenCheck(len(remaining), confirmed=True)
        return self.last_check

    def _adopt(self, remaining: list[dict[str, Any]]) -> None:
        """Align the tracker with a venue read of our open orders: track the unknown ones, reopen settling
        ones the venue still has, close acked ones it no longer has."""
        known = set(self.tracker.open)
        for order in remaining:
            cid = client_id_of(order)
            if cid in self.tracker.settling:
                self.tracker.reopen(self.tracker.settling[cid])
            elif cid and cid not in known:
                self.tracker.add(LiveOrder(cid, order["side"], float(order.get("price") or 0.0),
                                           float(order.get("amount") or 0.0),
                                           float(order.get("remaining") or 0.0), self.now(),
                                           order_id=str(order["id"]), acked=True))
        venue_open = {client_id_of(o) for o in remaining}
        for cid in list(self.tracker.open):
            if cid not in venue_open and self.tracker.open[cid].acked:
                self.tracker.close(cid)
