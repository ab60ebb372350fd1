"""Order management for one symbol: the throttled venue calls that change our orders, and what their
answers mean. It only sends and classifies: the state of every order is the ledger's
(:class:`bot.live.order_state.OrderLedger`, ``OrderManager.tracker``), told the result of each request;
what it needs of the guard and the journal comes at construction (:class:`OrderHooks`); the venue's
payloads are read through its adapter (:mod:`bot.venue.adapters`).

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
  may or may not have reached the venue: the order stays tracked (``acked=False``) and the ledger holds it
  as of unknown fate until the fill intake looks it up by client id (:meth:`bot.live.fills.FillIntake.resolve_unknown`).
- A flattening order (:meth:`OrderManager.market`) takes the same path: order ceiling, journal row, order
  entry, the same table for its answer; only the worst-case check meant for quotes is not asked of an order
  that reduces the position.
- Events show prices at the symbol's tick and sizes at its lot (``rules``; :mod:`bot.core.display`); the
  ledger and the journal keep the exact values.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import ccxt

from bot.core.display import Steps
from bot.core.quote import MarketRules, Side
from bot.core.reconcile import Action, Cancel, Create
from bot.live.clock import ClockSync
from bot.live.entry import OrderEntry, RestOrderEntry
from bot.live.journal import JournalWriteError
from bot.live.order_state import EPS, LiveOrder, OrderJournal, OrderLedger, State
from bot.live.ratelimit import OrderThrottle, RateGate
from bot.venue.adapters import VenueAdapter, adapter_for
from bot.venue.answers import VENUE_TROUBLE, Answer, classify
from bot.venue.records import OrderStatus, OrderUpdate

__all__ = [
    "EPS",
    "LiveOrder",
    "OpenCheck",
    "OrderHooks",
    "OrderLedger",
    "OrderManager",
    "State",
    "filled_of",
    "make_throttler",
]

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


@dataclass(frozen=True)
class OpenCheck:
    """Our open orders on one symbol by the venue's word: ``left`` is what its last read after our last
    cancel showed when ``confirmed``; otherwise the venue did not answer and ``left`` orders of ours may
    still be open (the tracked ones, or more where an earlier read showed more)."""

    left: int
    confirmed: bool


@dataclass(frozen=True)
class OrderHooks:
    """What an order manager is given at construction besides the venue: the journal's order rows (to its
    :class:`OrderLedger`), the pre-trade worst-case check (``precheck(side, amount, price)``: the breached
    limit, or None), where errors that count towards the error-rate kill go (``on_error(what, exc)``), and
    the metrics (``bot.ops.Metrics``). The guard's (:mod:`bot.live.guard`)."""

    journal: OrderJournal | None = None
    precheck: Callable[[Side, float, float], str | None] | None = None
    on_error: Callable[[str, BaseException], None] | None = None
    metrics: Any = None


NO_HOOKS = OrderHooks()


def filled_of(update: OrderUpdate) -> float | None:
    """The executed size an order update reports (None when it does not say)."""
    return None if update.filled is None else float(update.filled)


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
        adapter: VenueAdapter | None = None,
        hooks: OrderHooks = NO_HOOKS,
        rules: MarketRules | None = None,
    ) -> None:
        self.exchange, self.symbol, self.prefix = exchange, symbol, prefix
        # the steps events show prices and sizes at (the symbol's tick and lot; without rules: 8 digits)
        self.shown = Steps(rules.tick, rules.lot) if rules is not None else Steps()
        self.venue: VenueAdapter = adapter if adapter is not None else adapter_for(exchange)  # payloads -> records
        self.entry: OrderEntry = entry if entry is not None else RestOrderEntry(exchange)  # creates, cancels
        self.throttler, self.rate, self.log = throttler, rate, log
        self.post_only = post_only
        self.reject_cooldown = reject_cooldown
        self.now = clock  # monotonic seconds: order ages, cooldowns, data age (a simulated clock in a replay)
        self.tracker = OrderLedger(symbol, hooks.journal, clock=clock)  # the one owner of our orders' state
        self._tag = symbol_tag(market_id)
        self._stamp = base36(int(time.time()))
        self._counter = 0
        self._cooldown: dict[Side, float] = {"buy": 0.0, "sell": 0.0}
        self.placed = 0
        self.canceled = 0
        self.rejected = 0
        self.blocked = 0
        # risk hooks (bot/live/guard.py): the pre-trade worst-case check, error reports (see OrderHooks)
        self.precheck = hooks.precheck
        self.on_error = hooks.on_error
        self.failures = 0  # venue calls failed in a row (venue trouble): an outage pauses quoting
        self.clock_sync = clock_sync  # measures the clock offset to the venue again after a -1021
        self.max_data_age = max_data_age  # a create whose data is older than this is dropped (risk.stale_after)
        self._errored: set[str] = set()  # keys of retried calls whose failure the error rate has counted
        self.last_check = OpenCheck(0, confirmed=False)  # what cancel_all last learned (read after a timeout)
        self.settle_after = settle_after  # see resolve_settling
        self.unknown_after = unknown_after
        # ops: bot.ops.Metrics, and the perf_counter() arrival of the book the current cycle reacts to
        self.metrics: Any = hooks.metrics
        self.reaction_start: float | None = None

    # -- ids --------------------------------------------------------------------------------------
    def count_from(self, count: int) -> None:
        """Number the next client ids after ``count`` (the orders an earlier run journaled for this symbol)."""
        self._counter = max(self._counter, count)

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
            params = self.venue.create_params(order.client_id, self.post_only)
            reaction = self._reacted()
            try:
                result = await self.entry.create(self.symbol, side, amount, price, params)
            except ccxt.BaseError as exc:
                return self._create_failed(order, exc)
            finally:
                self._observe(reaction)
        return self._created(order, result, reason)

    async def market(self, side: Side, amount: float, mark: float | None, reason: str,
                     reduces: bool = False) -> LiveOrder | None:
        """Send one market order through the same path as every create (order ceiling, journal row, order
        entry, the venue's answer read by the same table); ``mark`` is the price its journal row carries.
        The pre-trade worst-case check is skipped when the caller says it ``reduces`` the position (it can
        only bring |q| towards 0: the check bounds what quotes may add). Returns the order (also while its
        fate is unknown), None when it was not sent (already logged); re-raises the venue's refusal once it
        is accounted for, so the caller can say what it was for."""
        async with self.throttler:
            order = self._admit(side, mark or 0.0, amount, None, None, None, reduces=reduces)
            if order is None:
                return None
            params = self.venue.create_params(order.client_id, post_only=False)
            try:
                result = await self.entry.create_market(self.symbol, side, amount, params)
            except ccxt.BaseError as exc:
                if self._create_failed(order, exc) is None:
                    raise
                return order
        return self._created(order, result, reason)

    def _created(self, order: LiveOrder, result: dict[str, Any], reason: str) -> LiveOrder:
        """A create's answer: the order is acknowledged under its order id (closed at once when the answer
        says it is done already)."""
        cid, side, price, amount = order.client_id, order.side, order.price, order.amount
        self.rate.success()
        self.failures = 0
        self.placed += 1
        if self.metrics is not None:
            self.metrics.on_order(self.symbol, "placed")
        answer = self.venue.order(result)
        if answer.order_id is not None:  # journaled (refused: the kill trips; the next start looks it up)
            self.tracker.set_order_id(order, answer.order_id)
        self.log.info("order_placed", client_id=cid, order_id=order.order_id, side=side,
                      price=self.shown.price(price), amount=self.shown.size(amount), reason=reason)
        if answer.done:
            self.tracker.close(cid, filled=filled_of(answer))
        return order

    def _admit(self, side: Side, price: float, amount: float, quote_mid: float | None, half_spread: float | None,
               data_time: float | None, reduces: bool = False) -> LiveOrder | None:
        """The order about to be sent, tracked and journaled; None when it must not go: the data its price
        came from is older than ``max_data_age`` (the process was frozen, or waited for the ceiling, since the
        decision: newer data is the next cycle's to price), the pre-trade worst-case check refuses it (not
        asked for an order that ``reduces`` the position: the check bounds what quotes may add), or its
        journal row cannot be written (no row, no create)."""
        now = self.now()
        if data_time is not None and now - data_time > self.max_data_age:
            self.log.info("create_dropped", side=side, price=self.shown.price(price), amount=self.shown.size(amount),
                          reason="stale_data", data_age=round(now - data_time, 3))
            return None
        if self.precheck is not None and not reduces:
            breach = self.precheck(side, amount, price)
            if breach is not None:
                self.blocked += 1
                self.log.warning("order_blocked", side=side, price=self.shown.price(price),
                                 amount=self.shown.size(amount), limit=breach)
                return None
        cid = self.next_client_id()
        order = LiveOrder(cid, side, price, amount, amount, now, quote_mid=quote_mid, half_spread=half_spread)
        try:
            self.tracker.sent(order)  # its journal row first
        except JournalWriteError as exc:  # no row, no create (the refusal has tripped the kill switch)
            self.log.warning("order_not_sent", client_id=cid, side=side, price=self.shown.price(price),
                             amount=self.shown.size(amount), answer="journal", error=type(exc).__name__,
                             detail=str(exc)[:200])
            return None
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
            self.rate_limited("create", exc)
        elif answer is Answer.UNKNOWN:  # network errors, timeouts, -1006/-1007: it may have executed
            self.log.warning("order_unknown", client_id=cid, side=order.side, price=self.shown.price(order.price),
                             amount=self.shown.size(order.amount), error=type(exc).__name__, detail=str(exc)[:200])
            self.failed("create", exc)
            self.tracker.unknown(order)  # looked up by client id (bot.live.fills)
            return order
        elif answer in VENUE_TROUBLE:  # busy (-1008) or our clock outside the recvWindow: not executed
            self.tracker.close(cid, filled=0.0)
            self.log.warning("order_not_sent", client_id=cid, side=order.side, price=self.shown.price(order.price),
                             amount=self.shown.size(order.amount), answer=answer.value, error=type(exc).__name__,
                             detail=str(exc)[:200])
            self.failed("create", exc)
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
        self.log.warning("order_rejected", client_id=order.client_id, side=order.side,
                         price=self.shown.price(order.price), amount=self.shown.size(order.amount), reason=reason,
                         error=type(exc).__name__, detail=str(exc)[:200])

    def venue_answered(self) -> None:
        """A venue call (a safety-net pass) succeeded: the venue answers, no outage."""
        self.failures = 0

    def rate_limited(self, op: str, exc: Exception) -> None:
        """Close the shared gate for a rate-limit answer (a no-op when the exchange layer already did:
        :meth:`RateGate.limited` counts each answer once and tells the service, which logs it)."""
        self.rate.limited(op, exc, self.entry.headers())

    def failed(self, op: str, exc: BaseException, key: str | None = None) -> None:
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
        self.tracker.cancel_sent(order)
        try:
            async with self.throttler if ceiling else contextlib.nullcontext():
                reaction = self._reacted()
                try:
                    if order.order_id:
                        result = await self.entry.cancel(order.order_id, self.symbol, {})
                    else:
                        result = await self.entry.cancel(None, self.symbol, self.venue.by_client_id(client_id))
                finally:
                    self._observe(reaction)
        except ccxt.BaseError as exc:
            answer = classify(exc)
            if answer is Answer.NOT_FOUND:
                self._errored.discard(client_id)
                self.tracker.close(client_id)
                self.log.info("order_gone", client_id=client_id, side=order.side, reason=reason,
                              unbooked=self.shown.size(order.unbooked()))
                return True
            self.tracker.cancel_failed(order)
            if answer is Answer.RATE_LIMITED:
                self.rate_limited("cancel", exc)
                return False
            self.log.warning("cancel_failed", client_id=client_id, answer=answer.value, error=type(exc).__name__,
                             detail=str(exc)[:200])
            self.failed("cancel", exc, key=client_id)
            return False
        self._errored.discard(client_id)
        self.rate.success()
        self.failures = 0
        self.canceled += 1
        if self.metrics is not None:
            self.metrics.on_order(self.symbol, "canceled")
        self.tracker.close(client_id, filled=filled_of(self.venue.order(result)) if isinstance(result, dict) else None)
        self.log.info("order_canceled", client_id=client_id, order_id=order.order_id, side=order.side,
                      price=self.shown.price(order.price), reason=reason)
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
        self.tracker.looked_up(order, now + self.settle_after)
        try:
            if not order.order_id:
                found = self.venue.order(await self.exchange.fetch_order(None, self.symbol,
                                                                         self.venue.by_client_id(cid)))
            else:
                found = self.venue.order(await self.exchange.fetch_order(order.order_id, self.symbol))
        except ccxt.BaseError as exc:
            answer = classify(exc)
            if answer is Answer.NOT_FOUND:
                if order.acked or now - order.created_at >= self.unknown_after:
                    self.tracker.close(cid, filled=order.amount - order.remaining)
                    self.log.info("order_settled", client_id=cid, status="not_found", acked=order.acked)
            elif answer is Answer.RATE_LIMITED:
                self.rate_limited("fetch_order", exc)
            else:
                self.log.warning("order_lookup_failed", client_id=cid, error=type(exc).__name__,
                                 detail=str(exc)[:200])
                self.failed("fetch_order", exc, key=f"lookup:{cid}")
            return
        if found.order_id is not None and not order.order_id:
            self.tracker.set_order_id(order, found.order_id)
        if found.status is OrderStatus.DONE:
            self.tracker.close(cid, filled=filled_of(found))
        elif found.status is OrderStatus.OPEN:
            self.tracker.reopen(order)
        self.log.info("order_settled", client_id=cid, status=found.venue_status,
                      filled=self.shown.size(filled_of(found)), unbooked=self.shown.size(order.unbooked()))

    async def fetch_own_open(self) -> list[OrderUpdate]:
        """Our orders the venue reports open for this symbol."""
        orders = [self.venue.order(o) for o in await self.exchange.fetch_open_orders(self.symbol)]
        return [o for o in orders if self.is_ours(o.client_id)]

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
                    self.rate_limited("fetch_open_orders", exc)
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

    def _adopt(self, remaining: list[OrderUpdate]) -> None:
        """Align the tracker with a venue read of our open orders: track the unknown ones, reopen settling
        ones the venue still has, close acked ones it no longer has."""
        known = set(self.tracker.open)
        for order in remaining:
            cid = order.client_id
            if cid in self.tracker.settling:
                self.tracker.reopen(self.tracker.settling[cid])
            elif cid and cid not in known and order.side is not None:
                self.tracker.add(LiveOrder(cid, order.side, order.price or 0.0, order.amount or 0.0,
                                           order.remaining or 0.0, self.now(), order_id=order.order_id,
                                           acked=True))
        venue_open = {o.client_id for o in remaining}
        for cid in list(self.tracker.open):
            if cid not in venue_open and self.tracker.open[cid].acked:
                self.tracker.close(cid)
