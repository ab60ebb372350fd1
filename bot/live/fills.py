"""Fills of one symbol: user-stream consumers plus a periodic REST safety net, booked exactly once.

Sources: ``watch_my_trades`` (each execution), ``watch_orders`` (order status: closes finished or
cancelled orders), and every ``reconcile_interval`` seconds ``fetch_open_orders`` then every trade since
the newest one seen (minus a margin), paged (:func:`trades_since`). A trade is ours when its order belongs
to this run (known client id or order id); each trade id is booked once, whichever source reports it
first (:meth:`Inventory.apply` deduplicates). Only booked trades reduce an order's remaining size, so
``q + remaining`` never undercounts what may still fill.

Orders of unknown fate (the create was answered with a network error, a 5xx, Binance -1006/-1007: it may
rest or have filled at the venue) stay in ``unresolved`` and keep counting as open until they are looked
up by client id (:meth:`FillBook.resolve_unknown`, shortly after the error and on every reconcile) or the
user stream reports them: found, their order id is learned and their trades booked; not found (and old
enough that the venue cannot still be processing it), they never reached the venue. A REST trade of an
unknown order id, while an order of this run has no order id yet (unresolved, or a create in flight),
is held, not discarded: it is booked once its order id is learned, and counted foreign only when every
order that could own it is settled.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import ccxt

from bot.core.inventory import Fill, Inventory
from bot.live.clock import venue_ms
from bot.live.feed import Backoff, _watch_loop
from bot.live.journal import JournalWriteError
from bot.live.market import MarketState
from bot.live.orders import TERMINAL, LiveOrder, OrderManager, client_id_of, filled_of

PAGE = 1000  # Binance myTrades: at most 1000 rows per request
DAY_MS = 86_400_000  # Binance myTrades: a startTime..endTime window spans at most 24 h
MARGIN_MS = 5000  # re-read trades this far before the newest seen (late-published rows)
# s after a create's unknown-fate answer from which "not found" is final: the venue refuses a request
# older than its receive window (ccxt sends recvWindow = 10 s to Binance), plus a margin
NOT_FOUND_AFTER = 12.0
# ms below the oldest trade time a read can still return that booked trade ids are kept: the venue's
# clock against ours, and a create's request time before its unknown-fate answer
REREAD_SLACK_MS = 60_000

FetchPage = Callable[[int | None, dict[str, Any]], Awaitable[list[dict[str, Any]]]]


async def trades_since(fetch: FetchPage, since_ms: int, now_ms: int, page: int = PAGE) -> list[dict[str, Any]]:
    """Every trade at or after ``since_ms``, paged the way Binance's ``myTrades`` allows.

    ``fetch(since, params)`` returns one page (at most ``page`` rows, oldest first). Windows
    ``[start, start + 24 h)`` (``startTime`` + ``endTime``) are walked while they lie wholly in the past
    and come back short; the last one is open-ended (``startTime`` only). Once a page comes back full,
    ``fromId`` = last id + 1 pages on to the newest trade (``fromId`` has no time bound).
    """
    out: list[dict[str, Any]] = []
    start = since_ms
    while True:
        end = start + DAY_MS - 1
        rows = await fetch(start, {"endTime": end} if end < now_ms else {})
        out += rows
        if len(rows) >= page or end >= now_ms:
            break
        start = end + 1
    return out + await _following(fetch, rows, {}, page)


async def trades_of_order(fetch: FetchPage, order_id: str, page: int = PAGE) -> list[dict[str, Any]]:
    """Every trade of one order: ``orderId`` + ``fromId`` pages, oldest first."""
    rows = await fetch(None, {"orderId": order_id, "fromId": 0})
    return rows + await _following(fetch, rows, {"orderId": order_id}, page)


async def _following(fetch: FetchPage, rows: list[dict[str, Any]], params: dict[str, Any],
                     page: int) -> list[dict[str, Any]]:
    """The pages after ``rows`` (``fromId`` = last id + 1) while the previous one came back full and
    brought newer ids (a venue without integer ids or ``fromId``, like the paper venue, stops it)."""
    out: list[dict[str, Any]] = []
    last = _last_id(rows)
    while len(rows) >= page and last is not None:
        rows = await fetch(None, {**params, "fromId": last + 1})
        out += rows
        newest = _last_id(rows)
        last = newest if newest is not None and newest > last else None
    return out


def _last_id(rows: list[dict[str, Any]]) -> int | None:
    try:
        return max(int(r["id"]) for r in rows)
    except (KeyError, TypeError, ValueError):  # none, or not integers
        return None


@dataclass
class Held:
    """A trade of an unknown order id, kept until every order that could own it (``owners``) is settled."""

    trade: dict[str, Any]
    source: str
    owners: frozenset[str]


class FillBook:
    """Turns venue trades and order updates into inventory changes and tracker updates."""

    def __init__(
        self,
        exchange: Any,
        symbol: str,
        orders: OrderManager,
        inventory: Inventory,
        state: MarketState,
        log: Any,
        start_ms: int,
        on_fill: Callable[[], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        # monotonic seconds: unknown-fate ages (the order manager's clock unless given: a simulated one in a replay)
        self.now: Callable[[], float] = clock if clock is not None else orders.now
        self.exchange, self.symbol, self.orders = exchange, symbol, orders
        self.inventory, self.state, self.log = inventory, state, log
        self.start_ms = start_ms
        self.last_trade_ms = start_ms  # the newest trade booked
        self.last_seen_ms = start_ms  # the newest trade read over REST (ours or not)
        self.on_fill = on_fill
        self.foreign = 0
        self.sources: dict[str, int] = {"ws": 0, "rest": 0}
        # the journal: called before a fill is booked; False when it holds that trade id already (booked by
        # this run or restored at start: the durable check behind the in-memory trade ids, which forget)
        self.record: Callable[[Fill], bool] | None = None
        self.metrics: Any = None  # bot.ops.Metrics, when the service has one
        self.on_reconnect: Callable[[], None] | None = None  # the reconnect metric (user streams)
        self.unresolved: dict[str, LiveOrder] = {}  # creates of unknown fate, by client id
        self.unknown_since: dict[str, float] = {}  # when each got its unknown-fate answer (monotonic)
        self.held: dict[str, Held] = {}  # trades of unknown order ids, by trade id
        self._unknown = asyncio.Event()  # wakes :meth:`resolve_loop`

    # -- trades -----------------------------------------------------------------------------------
    def on_trade(self, trade: dict[str, Any], source: str) -> bool:
        """Book one ccxt trade if it is ours and new; returns whether it changed the inventory."""
        trade_id = trade.get("id")
        if trade_id is None or trade.get("symbol") not in (None, self.symbol):
            return False
        trade_id = str(trade_id)
        if trade_id in self.inventory.seen:
            return False
        order_id = trade.get("order")
        order_id = str(order_id) if order_id is not None else None
        order = self.orders.tracker.find(order_id, client_id_of(trade))
        if order is None:
            owners = self._unsettled()
            if owners:
                if trade_id not in self.held:
                    self.held[trade_id] = Held(trade, source, owners)
                    self.log.debug("trade_held", trade_id=trade_id, order_id=order_id, source=source,
                                   owners=len(owners))
                return False
            self.foreign += 1
            self.log.debug("foreign_trade", trade_id=trade_id, order_id=order_id, source=source)
            return False
        if order.order_id is None or self.unresolved:  # a stream trade carries both ids
            self._learn_id(order, order_id)
            self._known(order, source)
        return self._book(trade, trade_id, order_id, order, source)

    def _book(self, trade: dict[str, Any], trade_id: str, order_id: str | None, order: LiveOrder,
              source: str) -> bool:
        fee = trade.get("fee") or {}
        amount = trade.get("amount")
        info = trade.get("info") or {}
        if isinstance(info, dict) and info.get("qty") is not None and source == "rest":
            amount = info["qty"]  # the venue's decimal string, exact
        elif isinstance(info, dict) and info.get("l") is not None and source == "ws":
            amount = info["l"]
        fill = Fill(
            trade_id=trade_id,
            side=trade["side"],
            price=float(trade["price"]),
            amount=str(amount),
            timestamp=float(trade.get("timestamp") or 0) / 1000.0,
            order_id=order_id,
            client_id=order.client_id,
            fee=float(fee.get("cost") or 0.0),
            fee_currency=fee.get("currency"),
            mid=self.state.mid,
            quote_mid=order.quote_mid,
            quote_half_spread=order.half_spread,
        )
        if self.record is not None and not self.record(fill):
            return False
        if not self.inventory.apply(fill):
            return False
        self.sources[source] = self.sources.get(source, 0) + 1
        ts = trade.get("timestamp")
        if ts is not None:
            self.last_trade_ms = max(self.last_trade_ms, int(ts))
        self._reduce(order, float(amount))
        mid = self.state.mid
        self.log.info("fill", trade_id=trade_id, client_id=order.client_id, side=fill.side, price=fill.price,
                      amount=float(amount), fee=fill.fee, fee_currency=fill.fee_currency, source=source,
                      q=self.inventory.q, mid=mid)
        if self.metrics is not None:
            self.metrics.on_fill(self.symbol, fill.side, fill.price, float(amount), self._fee_in_quote(fill))
        if self.on_fill is not None:
            self.on_fill()
        return True

    def _fee_in_quote(self, fill: Fill) -> float:
        """The fill's fee in quote currency (a base fee at the fill price; a third currency as valued)."""
        if fill.fee_currency == self.inventory.base:
            return fill.fee * fill.price
        if fill.fee_currency in (self.inventory.quote, None):
            return fill.fee
        return fill.fee_cost_quote or 0.0

    def _reduce(self, order: LiveOrder, amount: float) -> None:
        order.remaining = max(0.0, order.remaining - amount)
        if order.remaining <= 1e-12:
            self.orders.tracker.close(order.client_id)

    # -- orders of unknown fate -------------------------------------------------------------------
    def on_unknown(self, order: LiveOrder, since: float | None = None) -> None:
        """A create was answered with an error of unknown fate (at ``since``, monotonic; default now):
        resolve it soon. The hook ``OrderManager.on_unknown``."""
        self.unresolved[order.client_id] = order
        self.unknown_since.setdefault(order.client_id, self.now() if since is None else since)
        self._unknown.set()

    def _settled(self, cid: str) -> bool:
        """No longer of unknown fate; True when it was."""
        self.unknown_since.pop(cid, None)
        return self.unresolved.pop(cid, None) is not None

    def _unsettled(self) -> frozenset[str]:
        """Client ids of this run's orders that may own a trade we cannot match: no order id known yet."""
        in_flight = (cid for cid, o in self.orders.tracker.open.items() if o.order_id is None)
        return frozenset(self.unresolved).union(in_flight)

    def _pending(self, cid: str) -> bool:
        order = self.orders.tracker.open.get(cid)
        return cid in self.unresolved or (order is not None and order.order_id is None)

    def release(self) -> None:
        """Book held trades whose order is now known; declare foreign those whose possible owners all settled."""
        for trade_id, held in list(self.held.items()):
            if trade_id in self.inventory.seen:
                del self.held[trade_id]
                continue
            raw = held.trade.get("order")
            order_id = str(raw) if raw is not None else None
            order = self.orders.tracker.find(order_id, client_id_of(held.trade))
            if order is not None:
                del self.held[trade_id]
                self._book(held.trade, trade_id, order_id, order, held.source)
            elif not any(self._pending(cid) for cid in held.owners):
                del self.held[trade_id]
                self.foreign += 1
                self.log.debug("foreign_trade", trade_id=trade_id, order_id=order_id, source=held.source)

    async def resolve_unknown(self) -> None:
        """Look every unresolved order up by client id; book the trades of those found (see the module doc)."""
        for cid, order in list(self.unresolved.items()):
            try:
                found = await self.exchange.fetch_order(None, self.symbol, {"origClientOrderId": cid})
            except ccxt.OrderNotFound:
                if self.now() - self.unknown_since.get(cid, 0.0) < NOT_FOUND_AFTER:
                    continue  # the venue may still be processing it: ask again later
                self._settled(cid)
                self._close(cid, filled=0.0)  # it never reached the venue: nothing to book
                self.log.info("order_resolved", client_id=cid, found=False)
                continue
            if cid in self.unresolved:  # not settled by the user stream meanwhile
                await self._learn(order, found)
        self.release()

    async def _learn(self, order: LiveOrder, found: dict[str, Any]) -> None:
        """An unresolved order the venue knows: its order id, its trades, then its status."""
        cid = order.client_id
        raw_id = found.get("id")
        order_id = str(raw_id) if raw_id is not None else None
        self._learn_id(order, order_id)
        status = found.get("status")
        if order_id is not None and float(found.get("filled") or 0.0) > 0.0:
            for t in await trades_of_order(self._page, order_id):
                self.on_trade(t, "rest")
        self._settled(cid)  # only now: a failed trade read above leaves it unresolved, to be asked again
        if status in TERMINAL:
            self._close(cid, filled=filled_of(found))
        self.log.info("order_resolved", client_id=cid, found=True, order_id=order_id, status=status,
                      filled=found.get("filled"))

    def _learn_id(self, order: LiveOrder, order_id: str | None) -> None:
        """The venue has this order under ``order_id``: its REST trades are ours from now on."""
        if order_id is not None and order.order_id is None:
            self.orders.tracker.set_order_id(order, order_id)
            if self.orders.journal is not None:  # refused: the kill trips; the next start looks it up
                with contextlib.suppress(JournalWriteError):
                    self.orders.journal.order_acked(order.client_id, order_id)

    def _known(self, order: LiveOrder, source: str, status: str | None = None) -> None:
        """A stream trade or order update named an unresolved order with its id: it is settled (its
        trades carry the client id or, over REST, the now known order id)."""
        if order.order_id and self._settled(order.client_id):
            self.log.info("order_resolved", client_id=order.client_id, found=True, order_id=order.order_id,
                          status=status, source=source)

    def _close(self, cid: str, filled: float | None) -> None:
        """Done at the venue, ``filled`` executed: off the tracker (settling until that is booked) and
        closed in the journal (also when the tracker had closed it already)."""
        self.orders.tracker.close(cid, filled=filled)
        if self.orders.journal is not None:  # refused: the kill trips; it stays unsettled for the next start
            with contextlib.suppress(JournalWriteError):
                self.orders.journal.order_closed(cid)

    async def resolve_loop(self, delay: float = 0.5, cap: float = 5.0) -> None:
        """Resolve orders of unknown fate ``delay`` s after the error, retrying (doubling, up to ``cap``)."""
        wait = delay
        while True:
            await self._unknown.wait()
            await asyncio.sleep(wait)
            if self.unresolved and not self.orders.rate.blocked():
                await self._guarded("resolve", self.resolve_unknown)
            if self.unresolved:
                wait = min(cap, wait * 2.0)
            else:
                self._unknown.clear()
                wait = delay

    # -- order updates ----------------------------------------------------------------------------
    def on_order(self, update: dict[str, Any]) -> None:
        """Track status from an order update (``watch_orders`` or REST)."""
        cid = client_id_of(update)
        order_id = update.get("id")
        order = self.orders.tracker.find(str(order_id) if order_id is not None else None, cid)
        if order is None:
            return
        status = update.get("status")
        self._learn_id(order, str(order_id) if order_id is not None else None)
        self._known(order, "update", status)
        if status in TERMINAL:
            self.orders.tracker.close(order.client_id)  # settles until booked or looked up (OrderTracker)
        elif status == "open":
            order.acked = True  # ``remaining`` shrinks only by booked trades (a venue fill not booked yet counts)
        if self.held:
            self.release()

    # -- loops ------------------------------------------------------------------------------------
    async def watch_trades(self, backoff: Backoff | None = None) -> None:
        def handle(trades: Any) -> None:
            for t in trades:
                self.on_trade(t, "ws")

        await _watch_loop("my_trades", lambda: self.exchange.watch_my_trades(self.symbol), handle, self.log,
                          backoff or Backoff(), on_reconnect=self.on_reconnect)

    async def watch_orders(self, backoff: Backoff | None = None) -> None:
        def handle(orders: Any) -> None:
            for o in orders:
                self.on_order(o)

        await _watch_loop("orders", lambda: self.exchange.watch_orders(self.symbol), handle, self.log,
                          backoff or Backoff(), on_reconnect=self.on_reconnect)

    async def reconcile_once(self) -> None:
        """REST safety net: settle unknown orders, read our open orders, book every trade since the newest
        seen, then close the orders the venue no longer has open (open orders first, so a fill that
        finished an order before that read is in the trades read after it)."""
        if self.unresolved:
            await self.resolve_unknown()
        began = self.now()
        venue_open = {client_id_of(o): o for o in await self.orders.fetch_own_open()}
        since = max(self.start_ms, self.last_seen_ms - MARGIN_MS)
        for t in await trades_since(self._page, since, venue_ms(self.exchange)):
            self.on_trade(t, "rest")
            ts = t.get("timestamp")
            if ts is not None:
                self.last_seen_ms = max(self.last_seen_ms, int(ts))
        self.release()
        self.inventory.seen.set_floor(self.reread_floor_ms() / 1000.0)
        for cid, order in list(self.orders.tracker.open.items()):
            if cid in venue_open:
                self.on_order(venue_open[cid])
            elif order.order_id is not None and order.created_at < began - 1.0:  # no id: a create or lookup settles it
                self.orders.tracker.close(cid)
                self.log.debug("order_not_open", client_id=cid, acked=order.acked)

    def reread_floor_ms(self) -> int:
        """The oldest trade time (venue ms) a later read may return, minus ``REREAD_SLACK_MS``: the next
        reconcile reads from ``max(start_ms, last_seen_ms - MARGIN_MS)``; the trades of an order of unknown
        fate (read by order id) are not older than its unknown-fate answer minus the slack."""
        floor = max(self.start_ms, self.last_seen_ms - MARGIN_MS)
        if self.unknown_since:
            age_s = self.now() - min(self.unknown_since.values())
            floor = min(floor, venue_ms(self.exchange) - int(age_s * 1000.0))
        return floor - REREAD_SLACK_MS

    async def _page(self, since: int | None, params: dict[str, Any]) -> list[dict[str, Any]]:
        return await self.exchange.fetch_my_trades(self.symbol, since, PAGE, params)  # type: ignore[no-any-return]

    async def reconcile_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            if not self.orders.rate.blocked() and await self._guarded("reconcile", self.reconcile_once):
                self.orders.failures = 0  # the venue answers: no outage

    async def _guarded(self, op: str, call: Callable[[], Awaitable[None]]) -> bool:
        """Run a periodic venue call: a rate limit closes the gate, other venue errors are logged and
        counted (towards a pause or the error rate); True when it succeeded."""
        try:
            await call()
        except (ccxt.DDoSProtection, ccxt.RateLimitExceeded) as exc:
            self.orders._rate_limited(op, exc)
        except (ccxt.OperationFailed, ccxt.ExchangeError) as exc:  # network errors, 5xx, other venue errors
            self.log.warning("reconcile_failed", op=op, error=type(exc).__name__, detail=str(exc)[:200])
            self.orders._failed(op, exc)
        else:
            return True
        return False
