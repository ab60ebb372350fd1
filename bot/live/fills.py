"""Fills of one symbol: user-stream consumers plus a periodic REST safety net, booked exactly once.

Sources: ``watch_my_trades`` (each execution), ``watch_orders`` (order status: closes finished or
cancelled orders), and every ``reconcile_interval`` seconds ``fetch_open_orders`` then every trade since
the newest one seen (minus a margin), paged as the venue pages them. Every payload goes through the venue's
adapter (:mod:`bot.venue.adapters`) first: this module reads only neutral records. A trade is ours when its
order belongs to this run (known client id or order id); each trade id is booked once, whichever source
reports it first (:meth:`Inventory.apply` deduplicates). Only booked trades reduce an order's remaining size, so
``q + remaining`` never undercounts what may still fill.

Orders of unknown fate (the create was answered with a network error, a 5xx, Binance -1006/-1007: it may
rest or have filled at the venue) stay in the ledger's ``unresolved`` and keep counting as open until they
are looked up by client id (:meth:`FillIntake.resolve_unknown`, shortly after the error and on every
pass of the REST safety net, :meth:`FillIntake.safety_net_once`) or the
user stream reports them: found, their order id is learned and their trades booked; not found (and old
enough that the venue cannot still be processing it), they never reached the venue. A REST trade of an
unknown order id, while an order of this run has no order id yet (unresolved, or a create in flight),
is held, not discarded: it is booked once its order id is learned, and counted foreign only when every
order that could own it is settled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import ccxt

from bot.core.display import at_step, money
from bot.core.inventory import Fill, Inventory
from bot.live.clock import venue_ms
from bot.live.feed import Backoff, _watch_loop
from bot.live.journal import JournalWriteError
from bot.live.market import MarketState
from bot.live.order_state import Held, LiveOrder, OrderLedger
from bot.live.orders import OrderManager, filled_of
from bot.venue.paging import PAGE
from bot.venue.records import OrderStatus, OrderUpdate, Source, TradeUpdate

MARGIN_MS = 5000  # re-read trades this far before the newest seen (late-published rows)
# s after a create's unknown-fate answer from which "not found" is final: the venue refuses a request
# older than its receive window (ccxt sends recvWindow = 10 s to Binance), plus a margin
NOT_FOUND_AFTER = 12.0
# ms below the oldest trade time a read can still return that booked trade ids are kept: the venue's
# clock against ours, and a create's request time before its unknown-fate answer
REREAD_SLACK_MS = 60_000

class FillJournal(Protocol):
    def record_fill(self, symbol: str, fill: Fill) -> bool: ...


def fill_recorder(journal: FillJournal, symbol: str, log: Any) -> Callable[[Fill], bool]:
    """A running intake's ``record``: journal the fill before it is booked. When the journal refuses it (the
    kill has tripped) it is still booked in memory (the position is real: q and the limit stay true), not
    durably: the next start's catch-up reads it from the venue and journals it then (``fill_not_journaled``)."""

    def record(fill: Fill) -> bool:
        try:
            return journal.record_fill(symbol, fill)
        except JournalWriteError:
            log.error("fill_not_journaled", symbol=symbol, trade_id=fill.trade_id, side=fill.side,
                      amount=str(fill.amount))
            return True  # the in-memory trade ids still book it once

    return record


class FillIntake:
    """Reads one symbol's trades and order updates from the venue (streams, the REST safety net, lookups of
    orders of unknown fate), normalizes them through the venue's adapter and hands them to the order
    ledger (:class:`bot.live.order_state.OrderLedger`: the order manager's ``tracker``, the one owner of
    order state); a new trade of ours is journaled (``record``) and then booked into the inventory once.

    Given at construction: ``on_fill`` (after each booked fill: the quoter's wake-up and the position
    check), ``record`` (the fill's journal row before it is booked; False when the journal holds that
    trade id already: the durable check behind the in-memory trade ids, which forget), ``metrics``
    (``bot.ops.Metrics``) and ``on_reconnect`` (the user streams' reconnect metric).
    """

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
        record: Callable[[Fill], bool] | None = None,
        metrics: Any = None,
        on_reconnect: Callable[[], None] | None = None,
    ) -> None:
        # monotonic seconds: unknown-fate ages (the order manager's clock unless given: a simulated one in a replay)
        self.now: Callable[[], float] = clock if clock is not None else orders.now
        self.exchange, self.symbol, self.orders = exchange, symbol, orders
        self.ledger: OrderLedger = orders.tracker
        self.inventory, self.state, self.log = inventory, state, log
        self.start_ms = start_ms
        self.last_trade_ms = start_ms  # the newest trade booked
        self.last_seen_ms = start_ms  # the newest trade read over REST (ours or not)
        self.on_fill = on_fill
        self.foreign = 0
        self.sources: dict[str, int] = {"ws": 0, "rest": 0}
        self.record, self.metrics, self.on_reconnect = record, metrics, on_reconnect

    @property
    def unresolved(self) -> dict[str, LiveOrder]:
        """Creates of unknown fate, by client id (the ledger's)."""
        return self.ledger.unresolved

    @property
    def held(self) -> dict[str, Held]:
        """Trades of unknown order ids, by trade id (the ledger's)."""
        return self.ledger.held

    @property
    def unknown_since(self) -> dict[str, float]:
        """When each unresolved order got its unknown-fate answer (monotonic), by client id."""
        return {cid: o.unknown_since for cid, o in self.ledger.unresolved.items() if o.unknown_since is not None}

    # -- trades -----------------------------------------------------------------------------------
    def on_trade(self, raw: Any, source: Source) -> bool:
        """Book one trade as the venue sent it (through the venue adapter); see :meth:`take_trade`."""
        trade = self.orders.venue.trade(raw, source)
        return trade is not None and self.take_trade(trade)

    def take_trade(self, trade: TradeUpdate) -> bool:
        """Book one trade if it is ours and new; returns whether it changed the inventory."""
        trade_id, order_id, source = trade.trade_id, trade.order_id, trade.source
        if trade.symbol not in (None, self.symbol) or trade_id in self.inventory.seen:
            return False
        order = self.ledger.find(order_id, trade.client_id)
        if order is None:
            owners = self.ledger.unsettled()
            if owners:
                if self.ledger.hold(trade, owners):
                    self.log.debug("trade_held", trade_id=trade_id, order_id=order_id, source=source,
                                   owners=len(owners))
                return False
            self.foreign += 1
            self.log.debug("foreign_trade", trade_id=trade_id, order_id=order_id, source=source)
            return False
        if order.order_id is None or self.unresolved:  # a stream trade carries both ids
            self._learn_id(order, order_id)
            self._known(order, source)
        return self._book(trade, order)

    def _book(self, trade: TradeUpdate, order: LiveOrder) -> bool:
        trade_id, source, amount = trade.trade_id, trade.source, trade.amount
        fill = Fill(
            trade_id=trade_id,
            side=trade.side,
            price=trade.price,
            amount=str(amount),
            timestamp=(trade.timestamp_ms or 0) / 1000.0,
            order_id=trade.order_id,
            client_id=order.client_id,
            fee=trade.fee,
            fee_currency=trade.fee_currency,
            mid=self.state.mid,
            quote_mid=order.quote_mid,
            quote_half_spread=order.half_spread,
        )
        if self.record is not None and not self.record(fill):
            return False
        if not self.inventory.apply(fill):
            return False
        self.sources[source] = self.sources.get(source, 0) + 1
        if trade.timestamp_ms is not None:
            self.last_trade_ms = max(self.last_trade_ms, trade.timestamp_ms)
        self.ledger.booked(order, float(amount))
        shown = self.orders.shown
        self.log.info("fill", trade_id=trade_id, client_id=order.client_id, side=fill.side,
                      price=shown.price(fill.price), amount=shown.size(float(amount)), fee=self._fee_shown(fill),
                      fee_currency=fill.fee_currency, source=source, q=shown.position(self.inventory.q),
                      mid=shown.price(self.state.mid, extra=1))
        if self.metrics is not None:
            self.metrics.on_fill(self.symbol, fill.side, fill.price, float(amount), self._fee_in_quote(fill))
        if self.on_fill is not None:
            self.on_fill()
        return True

    def _fee_shown(self, fill: Fill) -> float:
        """The fill's fee as the ``fill`` event shows it: money in the quote currency, to the satoshi in
        another (a base or third-currency fee is far smaller than the lot)."""
        if fill.fee_currency in (self.inventory.quote, None):
            return money(fill.fee)
        return at_step(fill.fee, 0.0)

    def _fee_in_quote(self, fill: Fill) -> float:
        """The fill's fee in quote currency (a base fee at the fill price; a third currency as valued)."""
        if fill.fee_currency == self.inventory.base:
            return fill.fee * fill.price
        if fill.fee_currency in (self.inventory.quote, None):
            return fill.fee
        return fill.fee_cost_quote or 0.0

    # -- orders of unknown fate -------------------------------------------------------------------
    def on_unknown(self, order: LiveOrder, since: float | None = None) -> None:
        """A create was answered with an error of unknown fate (at ``since``, monotonic; default now):
        resolve it soon (the restart catch-up hands on the journal's unsent orders this way; the order
        manager tells the ledger itself)."""
        self.ledger.unknown(order, self.now() if since is None else since)

    def release(self) -> None:
        """Book held trades whose order is now known; declare foreign those whose possible owners all settled."""
        for trade_id, held in list(self.held.items()):
            if trade_id in self.inventory.seen:
                del self.held[trade_id]
                continue
            order = self.ledger.find(held.trade.order_id, held.trade.client_id)
            if order is not None:
                del self.held[trade_id]
                self._book(held.trade, order)
            elif not any(self.ledger.pending(cid) for cid in held.owners):
                del self.held[trade_id]
                self.foreign += 1
                self.log.debug("foreign_trade", trade_id=trade_id, order_id=held.trade.order_id,
                               source=held.trade.source)

    async def resolve_unknown(self) -> None:
        """Look every unresolved order up by client id; book the trades of those found (see the module doc)."""
        for cid, order in list(self.unresolved.items()):
            try:
                found = self.orders.venue.order(await self.exchange.fetch_order(
                    None, self.symbol, self.orders.venue.by_client_id(cid)))
            except ccxt.OrderNotFound:
                if self.now() - (order.unknown_since or 0.0) < NOT_FOUND_AFTER:
                    continue  # the venue may still be processing it: ask again later
                self.ledger.resolved(cid)
                self.ledger.finish(cid, filled=0.0)  # it never reached the venue: nothing to book
                self.log.info("order_resolved", client_id=cid, found=False)
                continue
            if cid in self.unresolved:  # not settled by the user stream meanwhile
                await self._learn(order, found)
        self.release()

    async def _learn(self, order: LiveOrder, found: OrderUpdate) -> None:
        """An unresolved order the venue knows: its order id, its trades, then its status."""
        cid, order_id = order.client_id, found.order_id
        self._learn_id(order, order_id)
        if order_id is not None and found.filled:
            for t in await self.orders.venue.trades_of_order(self._page, order_id):
                self.on_trade(t, "rest")
        self.ledger.resolved(cid)  # only now: a failed trade read above leaves it unresolved, to be asked again
        if found.done:
            self.ledger.finish(cid, filled=filled_of(found))
        self.log.info("order_resolved", client_id=cid, found=True, order_id=order_id, status=found.venue_status,
                      filled=self.orders.shown.size(filled_of(found)))

    def _learn_id(self, order: LiveOrder, order_id: str | None) -> None:
        """The venue has this order under ``order_id``: its REST trades are ours from now on."""
        if order_id is not None and order.order_id is None:
            self.ledger.set_order_id(order, order_id)  # journaled

    def _known(self, order: LiveOrder, source: str, status: str | None = None) -> None:
        """A stream trade or order update named an unresolved order with its id: it is settled (its
        trades carry the client id or, over REST, the now known order id)."""
        if order.order_id and self.ledger.resolved(order.client_id):
            self.log.info("order_resolved", client_id=order.client_id, found=True, order_id=order.order_id,
                          status=status, source=source)

    async def resolve_loop(self, delay: float = 0.5, cap: float = 5.0) -> None:
        """Resolve orders of unknown fate ``delay`` s after the error, retrying (doubling, up to ``cap``)."""
        wait = delay
        while True:
            await self.ledger.unknown_added.wait()
            await asyncio.sleep(wait)
            if self.unresolved and not self.orders.rate.blocked():
                await self._guarded("resolve", self.resolve_unknown)
            if self.unresolved:
                wait = min(cap, wait * 2.0)
            else:
                self.ledger.unknown_added.clear()
                wait = delay

    # -- order updates ----------------------------------------------------------------------------
    def on_order(self, raw: Any) -> None:
        """Track status from an order update as the venue sent it (through the venue adapter)."""
        self.take_order(self.orders.venue.order(raw))

    def take_order(self, update: OrderUpdate) -> None:
        """Track status from an order update (``watch_orders`` or REST)."""
        order = self.ledger.find(update.order_id, update.client_id)
        if order is None:
            return
        self._learn_id(order, update.order_id)
        self._known(order, "update", update.venue_status)
        if update.status is OrderStatus.DONE:
            self.ledger.close(order.client_id)  # settles until booked or looked up (OrderLedger)
        elif update.status is OrderStatus.OPEN:
            self.ledger.acknowledged(order)  # ``remaining`` shrinks only by booked trades (an unbooked fill counts)
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

    async def safety_net_once(self) -> None:
        """REST safety net: settle unknown orders, read our open orders, book every trade since the newest
        seen, then close the orders the venue no longer has open (open orders first, so a fill that
        finished an order before that read is in the trades read after it)."""
        if self.unresolved:
            await self.resolve_unknown()
        began = self.now()
        venue_open = {o.client_id: o for o in await self.orders.fetch_own_open()}
        since = max(self.start_ms, self.last_seen_ms - MARGIN_MS)
        for raw in await self.orders.venue.trades_since(self._page, since, venue_ms(self.exchange)):
            trade = self.orders.venue.trade(raw, "rest")
            if trade is None:
                continue
            self.take_trade(trade)
            if trade.timestamp_ms is not None:
                self.last_seen_ms = max(self.last_seen_ms, trade.timestamp_ms)
        self.release()
        self.inventory.seen.set_floor(self.reread_floor_ms() / 1000.0)
        for cid, order in list(self.ledger.open.items()):
            if cid in venue_open:
                self.take_order(venue_open[cid])
            elif order.order_id is not None and order.created_at < began - 1.0:  # no id: a create or lookup settles it
                self.ledger.close(cid)
                self.log.debug("order_not_open", client_id=cid, acked=order.acked)

    def reread_floor_ms(self) -> int:
        """The oldest trade time (venue ms) a later read may return, minus ``REREAD_SLACK_MS``: the next
        safety-net pass reads from ``max(start_ms, last_seen_ms - MARGIN_MS)``; the trades of an order of unknown
        fate (read by order id) are not older than its unknown-fate answer minus the slack."""
        floor = max(self.start_ms, self.last_seen_ms - MARGIN_MS)
        oldest = self.ledger.oldest_unknown()
        if oldest is not None:
            age_s = self.now() - oldest
            floor = min(floor, venue_ms(self.exchange) - int(age_s * 1000.0))
        return floor - REREAD_SLACK_MS

    async def _page(self, since: int | None, params: dict[str, Any]) -> list[dict[str, Any]]:
        return await self.exchange.fetch_my_trades(self.symbol, since, PAGE, params)  # type: ignore[no-any-return]

    async def safety_net_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            if not self.orders.rate.blocked() and await self._guarded("reconcile", self.safety_net_once):
                self.orders.venue_answered()

    async def _guarded(self, op: str, call: Callable[[], Awaitable[None]]) -> bool:
        """Run a periodic venue call: a rate limit closes the gate, other venue errors are logged and
        counted (towards a pause or the error rate); True when it succeeded."""
        try:
            await call()
        except (ccxt.DDoSProtection, ccxt.RateLimitExceeded) as exc:
            self.orders.rate_limited(op, exc)
        except (ccxt.OperationFailed, ccxt.ExchangeError) as exc:  # network errors, 5xx, other venue errors
            self.log.warning("reconcile_failed", op=op, error=type(exc).__name__, detail=str(exc)[:200])
            self.orders.failed(op, exc)
        else:
            return True
        return False
