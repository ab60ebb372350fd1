"""Fills of one symbol: user-stream consumers plus a periodic REST safety net, booked exactly once.

Sources: ``watch_my_trades`` (each execution), ``watch_orders`` (order status: closes finished or
cancelled orders), and every ``reconcile_interval`` seconds ``fetch_my_trades`` since the last trade
seen (minus a margin) and ``fetch_open_orders``. A trade is ours when its order belongs to this run
(known client id or order id); each trade id is booked once, whichever source reports it first
(:meth:`Inventory.apply` deduplicates). Partial fills reduce the order's remaining size.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import ccxt

from bot.core.inventory import Fill, Inventory
from bot.live.feed import Backoff, _watch_loop
from bot.live.market import MarketState
from bot.live.orders import LiveOrder, OrderManager, client_id_of

TERMINAL = ("closed", "canceled", "cancelled", "expired", "rejected")


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
    ) -> None:
        self.exchange, self.symbol, self.orders = exchange, symbol, orders
        self.inventory, self.state, self.log = inventory, state, log
        self.start_ms = start_ms
        self.last_trade_ms = start_ms
        self.on_fill = on_fill
        self.foreign = 0
        self.sources: dict[str, int] = {"ws": 0, "rest": 0}
        self.record: Callable[[Fill], None] | None = None  # the journal: called before a fill is booked
        self.metrics: Any = None  # bot.ops.Metrics, when the service has one
        self.on_reconnect: Callable[[], None] | None = None  # the reconnect metric (user streams)

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
            self.foreign += 1
            self.log.debug("foreign_trade", trade_id=trade_id, order_id=order_id, source=source)
            return False
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
        if self.record is not None:
            self.record(fill)
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

    # -- order updates ----------------------------------------------------------------------------
    def on_order(self, update: dict[str, Any]) -> None:
        """Track status from an order update (``watch_orders`` or REST)."""
        cid = client_id_of(update)
        order_id = update.get("id")
        order = self.orders.tracker.find(str(order_id) if order_id is not None else None, cid)
        if order is None:
            return
        if order_id is not None and not order.order_id:
            self.orders.tracker.set_order_id(order, str(order_id))
        status = update.get("status")
        if status in TERMINAL:
            self.orders.tracker.close(order.client_id)
        elif status == "open":
            order.acked = True
            remaining = update.get("remaining")
            if remaining is not None:
                order.remaining = min(order.remaining, float(remaining))

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
        """REST safety net: trades since the last seen one, then the venue's view of our open orders."""
        since = max(self.start_ms, self.last_trade_ms - 5000)
        async with self.orders.throttler:
            trades = await self.exchange.fetch_my_trades(self.symbol, since=since, limit=1000)
        for t in trades:
            self.on_trade(t, "rest")
        began = time.monotonic()
        venue_open = {client_id_of(o): o for o in await self.orders.fetch_own_open()}
        for cid, order in list(self.orders.tracker.open.items()):
            if cid in venue_open:
                self.on_order(venue_open[cid])
            elif order.created_at < began - 1.0:
                self.orders.tracker.close(cid)
                self.log.debug("order_not_open", client_id=cid, acked=order.acked)

    async def reconcile_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            if self.orders.rate.blocked():
                continue
            try:
                await self.reconcile_once()
            except (ccxt.DDoSProtection, ccxt.RateLimitExceeded) as exc:
                self.orders._rate_limited("reconcile", exc)
            except (ccxt.NetworkError, ccxt.ExchangeError) as exc:
                self.log.warning("reconcile_failed", error=type(exc).__name__, detail=str(exc)[:200])
                self.orders._failed("reconcile", exc)
            else:
                self.orders.failures = 0  # the venue answers: no outage
