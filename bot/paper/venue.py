"""The paper venue: a public ccxt.pro feed for market data, private calls answered locally.

:class:`PaperExchange` looks like a ccxt.pro exchange to the live service. Public attributes and
methods (``load_markets``, ``markets``, ``market``, ``watch_order_book``, ``un_watch_order_book``,
``watch_trades``, ``fetch_order_book``, ``milliseconds`` ...) are delegated to the wrapped ``feed``
(any ccxt.pro exchange, no keys). The private ones are implemented here over one
:class:`~bot.paper.fills.PaperBook` per symbol: ``create_order``, ``cancel_order``,
``cancel_all_orders``, ``fetch_order``, ``fetch_open_orders``, ``fetch_my_trades``, ``fetch_balance``,
``watch_orders``, ``watch_my_trades`` and ``close``. They return ccxt-shaped order and trade dicts
and raise the ccxt exceptions a real venue would:

- ``OrderImmediatelyFillable``: a post-only order that would cross the last public book;
- ``InvalidOrder``: a non-limit order, a limit order without ``postOnly`` that would cross (the paper
  venue only simulates resting orders), a duplicate client order id, a non-positive price or amount,
  a price off the tick grid, an amount that is not whole lots or is outside the market's min/max
  amount, a notional below the market's minimum;
- ``InsufficientFunds``: not enough free balance (buy: ``amount*price*(1+fee)`` quote, sell: ``amount``
  base; open orders lock what they could spend);
- ``OrderNotFound``: cancelling or fetching an order that is not open / unknown;
- ``ExchangeError``: no public book of the symbol arrived within ``first_book_timeout``.

Market data drives the fills without the caller's help: the first call that names a symbol starts two
background tasks for it, one calling ``feed.watch_order_book`` and one ``feed.watch_trades`` in a loop
(ccxt.pro shares one subscription between them and any caller doing the same), which feed the
symbol's ``PaperBook`` (``on_book`` with the top ``book_levels`` levels per side, ``on_trade`` once
per public trade id). So fills happen whether or not the service itself watches trades. Feed errors
are logged and retried with a capped backoff (``NotSupported`` stops that feed: a venue without public
trades over WebSocket then fills paper orders only from books that cross them).

Accounting: balances are exact decimals, starting at ``PaperSettings.balances``. A fill of ``a`` at
``p`` with fee ``f = a*p*maker_fee`` moves a buy by ``+a`` base and ``-(a*p + f)`` quote, a sell by
``-a`` base and ``+(a*p - f)`` quote; the fee is always in the quote currency. Fill amounts are whole
lots of the market's amount step, so the account's base balance changes by exactly the sum of the
signed fill amounts. Each trade and order dict carries the venue-neutral record the live service reads
under ``info`` (a :class:`~bot.venue.records.TradeUpdate` with the exact decimal amount, an
:class:`~bot.venue.records.OrderUpdate`), which :class:`~bot.venue.adapters.PaperAdapter` hands on as it is.

``watch_orders``/``watch_my_trades`` return everything new since the previous call for that symbol
(buffered from the first call naming the symbol, at most 1000 items); they are meant for one
consumer per symbol, as the live service has.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ccxt

from bot.core.inventory import to_decimal
from bot.core.quote import MarketRules
from bot.logs import get_logger
from bot.paper.fills import PaperBook, PaperMatch
from bot.paper.settings import PaperSettings
from bot.venue.adapters import PaperAdapter
from bot.venue.records import OrderStatus, OrderUpdate, TradeUpdate

BUFFER = 1000
TRADE_HISTORY = 10000
FINISHED_ORDERS = 10000  # closed/canceled orders kept for fetch_order; older ones are forgotten
SEEN_IDS = 5000


def price_key(price: float) -> float:
    """Book and order prices are compared after rounding away float noise (10 decimals)."""
    return round(float(price), 10)


@dataclass
class _Stream:
    """Items published since the last ``take`` (bounded), and an event set while there are some."""

    items: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=BUFFER))
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def put(self, item: dict[str, Any]) -> None:
        self.items.append(item)
        self.ready.set()

    async def take(self) -> list[dict[str, Any]]:
        while not self.items:
            self.ready.clear()
            await self.ready.wait()
        out = list(self.items)
        self.items.clear()
        self.ready.clear()
        return out


@dataclass
class _Order:
    id: str
    client_id: str
    symbol: str
    side: str
    price: float
    amount: float
    post_only: bool
    timestamp: int
    base: str
    quote: str
    lock_asset: str
    locked: Decimal
    lock_per_unit: Decimal
    filled: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    status: str = "open"
    last_trade_ts: int | None = None


@dataclass
class _Symbol:
    symbol: str
    market: dict[str, Any]
    paper: PaperBook
    rules: MarketRules | None
    bids: dict[float, float] = field(default_factory=dict)
    asks: dict[float, float] = field(default_factory=dict)
    has_book: asyncio.Event = field(default_factory=asyncio.Event)
    seen: deque[Any] = field(default_factory=lambda: deque(maxlen=SEEN_IDS))
    seen_set: set[Any] = field(default_factory=set)
    orders: _Stream = field(default_factory=_Stream)
    my_trades: _Stream = field(default_factory=_Stream)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    books: int = 0
    trades: int = 0

    def first_time(self, trade_key: Any) -> bool:
        if trade_key in self.seen_set:
            return False
        if len(self.seen) == self.seen.maxlen:
            self.seen_set.discard(self.seen[0])
        self.seen.append(trade_key)
        self.seen_set.add(trade_key)
        return True


class PaperExchange:
    """A ccxt.pro-like exchange: ``feed`` for public data, paper orders and balances kept here."""

    records_adapter = PaperAdapter()  # its dicts carry the neutral records under ``info`` (bot.venue.adapters)

    def __init__(
        self,
        feed: Any,
        settings: PaperSettings | None = None,
        clock: Callable[[], float] = time.time,
        log: Any = None,
    ) -> None:
        self.feed = feed
        self.settings = settings or PaperSettings()
        self._clock = clock
        self._total: dict[str, Decimal] = {a: to_decimal(v) for a, v in self.settings.balances.items()}
        self._locked: dict[str, Decimal] = {}
        self._symbols: dict[str, _Symbol] = {}
        self._orders: dict[str, _Order] = {}
        self._open_by_client: dict[str, str] = {}
        self._finished: deque[str] = deque()
        self._trades: deque[dict[str, Any]] = deque(maxlen=TRADE_HISTORY)
        # ids unique across runs (the journal and a restarted bot key fills and orders by them): the
        # start time in ms, hex, then a counter
        self._run = f"{int(time.time() * 1000):x}"
        self._order_ids = itertools.count(1)
        self._trade_ids = itertools.count(1)
        self._closed = False
        self.log = log if log is not None else get_logger(component="paper")

    def __getattr__(self, name: str) -> Any:
        if name == "feed":  # not set yet (during construction)
            raise AttributeError(name)
        return getattr(self.feed, name)

    # -- market data ------------------------------------------------------------------------------
    async def _symbol(self, symbol: str | None) -> _Symbol:
        """The state of ``symbol``, starting its feed tasks on first use (BadSymbol if unknown)."""
        if symbol is None:
            raise ccxt.ArgumentsRequired("the paper venue needs a symbol for this call")
        found = self._symbols.get(symbol)
        if found is not None:
            return found
        if not self.feed.markets:
            await self.feed.load_markets()
        found = self._symbols.get(symbol)  # another caller may have started it meanwhile
        if found is not None:
            return found
        market = self.feed.market(symbol)  # raises BadSymbol
        if self._closed:
            raise ccxt.ExchangeClosedByUser("the paper venue is closed")
        rules = self._rules(market)
        state = _Symbol(symbol, market, PaperBook(self.settings.maker_fee, self.settings.queue_model,
                                                  lot=rules.lot if rules else 0.0), rules)
        self._symbols[symbol] = state
        state.tasks.append(asyncio.create_task(self._book_loop(state), name=f"paper:{symbol}:book"))
        state.tasks.append(asyncio.create_task(self._trade_loop(state), name=f"paper:{symbol}:trades"))
        return state

    def _rules(self, market: dict[str, Any]) -> MarketRules | None:
        decimal_places = getattr(self.feed, "precisionMode", None) == ccxt.DECIMAL_PLACES
        try:
            return MarketRules.from_ccxt_market(market, decimal_places=decimal_places)
        except (ValueError, TypeError, KeyError):
            return None

    @staticmethod
    def _check_filters(rules: MarketRules | None, symbol: str, price: float, amount: float) -> None:
        """The venue's filters, as ccxt ``InvalidOrder`` (price on the tick grid, whole lots, minimums)."""
        if rules is None:
            return
        for name, value, step in (("price", price, rules.tick), ("amount", amount, rules.lot)):
            if step > 0 and abs(value / step - round(value / step)) > 1e-6:
                raise ccxt.InvalidOrder(f"paper venue: {symbol} {name} {value} is not a multiple of {step}")
        if amount < rules.min_qty * (1 - 1e-9):
            raise ccxt.InvalidOrder(f"paper venue: {symbol} amount {amount} is below the minimum {rules.min_qty}")
        if rules.max_qty is not None and amount > rules.max_qty * (1 + 1e-9):
            raise ccxt.InvalidOrder(f"paper venue: {symbol} amount {amount} is above the maximum {rules.max_qty}")
        if price * amount < rules.min_notional * (1 - 1e-9):
            raise ccxt.InvalidOrder(f"paper venue: {symbol} notional {price * amount:g} is below the minimum "
                                    f"{rules.min_notional:g}")

    async def _retry_loop(self, name: str, state: _Symbol, step: Callable[[], Any]) -> None:
        failures = 0
        while True:
            try:
                await step()
                failures = 0
            except asyncio.CancelledError:
                raise
            except ccxt.NotSupported as exc:
                self.log.error("paper_feed_unsupported", feed=name, symbol=state.symbol, detail=str(exc)[:200])
                return
            except ccxt.BaseError as exc:
                failures += 1
                delay = min(5.0, 0.25 * 2 ** min(failures - 1, 5))
                self.log.warning("paper_feed_error", feed=name, symbol=state.symbol, error=type(exc).__name__,
                                 detail=str(exc)[:200], retry_in=delay)
                await asyncio.sleep(delay)

    async def _book_loop(self, state: _Symbol) -> None:
        async def step() -> None:
            book = await self.feed.watch_order_book(state.symbol)
            self.on_book(state.symbol, book["bids"], book["asks"])

        await self._retry_loop("book", state, step)

    async def _trade_loop(self, state: _Symbol) -> None:
        async def step() -> None:
            for trade in await self.feed.watch_trades(state.symbol):
                self.on_public_trade(state.symbol, trade)

        await self._retry_loop("trades", state, step)

    def on_book(self, symbol: str, bids: Any, asks: Any) -> list[PaperMatch]:
        """A public book of ``symbol`` (ccxt lists of ``[price, size, ...]``, best first)."""
        state = self._symbols[symbol]
        n = self.settings.book_levels
        state.bids = {price_key(level[0]): float(level[1]) for level in bids[:n]}
        state.asks = {price_key(level[0]): float(level[1]) for level in asks[:n]}
        best_bid = price_key(bids[0][0]) if bids else None
        best_ask = price_key(asks[0][0]) if asks else None
        state.books += 1
        fills = state.paper.on_book(best_bid, best_ask, state.bids, state.asks)
        state.has_book.set()
        self._book_fills(state, fills)
        return fills

    def on_public_trade(self, symbol: str, trade: dict[str, Any]) -> list[PaperMatch]:
        """A public trade of ``symbol`` (ccxt trade dict); each trade id is used once."""
        state = self._symbols[symbol]
        price, amount = trade.get("price"), trade.get("amount")
        if price is None or amount is None or not (float(price) > 0 and float(amount) > 0):
            return []
        key = trade.get("id")
        if key is None:
            key = (trade.get("timestamp"), price, amount, trade.get("side"))
        if not state.first_time(key):
            return []
        state.trades += 1
        side = trade.get("side")
        fills = state.paper.on_trade(price_key(price), float(amount), side if side in ("buy", "sell") else None)
        self._book_fills(state, fills)
        return fills

    # -- accounting -------------------------------------------------------------------------------
    def _free(self, asset: str) -> Decimal:
        return self._total.get(asset, Decimal(0)) - self._locked.get(asset, Decimal(0))

    def _add(self, book: dict[str, Decimal], asset: str, amount: Decimal) -> None:
        book[asset] = book.get(asset, Decimal(0)) + amount

    def _release(self, order: _Order, amount: Decimal) -> None:
        amount = min(amount, order.locked)
        order.locked -= amount
        self._add(self._locked, order.lock_asset, -amount)

    def _finish(self, order: _Order) -> None:
        """Release what a closed or canceled order still locks; keep only the latest finished orders."""
        self._release(order, order.locked)
        self._open_by_client.pop(order.client_id, None)
        self._finished.append(order.id)
        while len(self._finished) > FINISHED_ORDERS:
            self._orders.pop(self._finished.popleft(), None)

    def _book_fills(self, state: _Symbol, fills: list[PaperMatch]) -> None:
        for fill in fills:
            order = self._orders[fill.order_id]
            amount = to_decimal(fill.size)
            price = to_decimal(order.price)
            notional = amount * price
            fee = notional * to_decimal(self.settings.maker_fee)
            self._release(order, amount * order.lock_per_unit)
            if order.side == "buy":
                self._add(self._total, order.base, amount)
                self._add(self._total, order.quote, -(notional + fee))
            else:
                self._add(self._total, order.base, -amount)
                self._add(self._total, order.quote, notional - fee)
            now = self._now_ms()
            order.filled += amount
            order.cost += notional
            order.fee += fee
            order.last_trade_ts = now
            if fill.remaining <= 0:
                order.status = "closed"
                self._finish(order)
            trade = self._trade_dict(order, fill, amount, fee, now)
            self._trades.append(trade)
            state.my_trades.put(trade)
            state.orders.put(self._order_dict(order))
            self.log.debug("paper_fill", symbol=state.symbol, order_id=order.id, side=order.side,
                           price=order.price, amount=float(amount), reason=fill.reason)

    # -- dict shapes ------------------------------------------------------------------------------
    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _order_dict(self, order: _Order) -> dict[str, Any]:
        filled = float(order.filled)
        return {
            "id": order.id,
            "clientOrderId": order.client_id,
            "timestamp": order.timestamp,
            "datetime": ccxt.Exchange.iso8601(order.timestamp),
            "lastTradeTimestamp": order.last_trade_ts,
            "lastUpdateTimestamp": order.last_trade_ts or order.timestamp,
            "symbol": order.symbol,
            "type": "limit",
            "timeInForce": "PO" if order.post_only else "GTC",
            "postOnly": order.post_only,
            "reduceOnly": None,
            "side": order.side,
            "price": order.price,
            "triggerPrice": None,
            "stopPrice": None,
            "amount": order.amount,
            "filled": filled,
            "remaining": float(to_decimal(order.amount) - order.filled),
            "cost": float(order.cost),
            "average": float(order.cost / order.filled) if order.filled else None,
            "status": order.status,
            "fee": {"cost": float(order.fee), "currency": order.quote},
            "fees": [{"cost": float(order.fee), "currency": order.quote}],
            "trades": [],
            "info": OrderUpdate(order.id, order.client_id, order.side, order.price, order.amount,  # type: ignore[arg-type]
                                order.filled, float(to_decimal(order.amount) - order.filled),
                                OrderStatus.OPEN if order.status == "open" else OrderStatus.DONE, order.status),
        }

    def _trade_dict(self, order: _Order, fill: PaperMatch, amount: Decimal, fee: Decimal, ts: int) -> dict[str, Any]:
        trade_id = f"paper-{self._run}-{next(self._trade_ids)}"
        return {
            "id": trade_id,
            "order": order.id,
            "clientOrderId": order.client_id,
            "timestamp": ts,
            "datetime": ccxt.Exchange.iso8601(ts),
            "symbol": order.symbol,
            "type": "limit",
            "side": order.side,
            "takerOrMaker": "maker",
            "price": order.price,
            "amount": float(amount),
            "cost": float(amount * to_decimal(order.price)),
            "fee": {"cost": float(fee), "currency": order.quote},
            "fees": [{"cost": float(fee), "currency": order.quote}],
            "info": TradeUpdate(trade_id, order.id, order.client_id, order.symbol, order.side,  # type: ignore[arg-type]
                                order.price, amount, float(fee), order.quote, ts, "ws"),
            "reason": fill.reason,
        }

    # -- private API ------------------------------------------------------------------------------
    async def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        params = dict(params or {})
        if type != "limit":
            raise ccxt.InvalidOrder(f"paper venue: only limit orders are simulated (got {type!r})")
        if side not in ("buy", "sell"):
            raise ccxt.InvalidOrder(f"paper venue: side must be buy or sell (got {side!r})")
        if price is None or not (math.isfinite(float(price)) and float(price) > 0):
            raise ccxt.InvalidOrder(f"paper venue: price must be > 0 (got {price!r})")
        if not (math.isfinite(float(amount)) and float(amount) > 0):
            raise ccxt.InvalidOrder(f"paper venue: amount must be > 0 (got {amount!r})")
        state = await self._symbol(symbol)
        if not state.has_book.is_set():
            try:
                await asyncio.wait_for(state.has_book.wait(), self.settings.first_book_timeout)
            except TimeoutError:
                raise ccxt.ExchangeError(f"paper venue: no public order book for {symbol} yet") from None
        price = price_key(float(price))
        amount = float(amount)
        self._check_filters(state.rules, symbol, price, amount)
        post_only = bool(params.get("postOnly")) or params.get("timeInForce") in ("PO", "GTX")
        if state.paper.would_cross(side, price):  # type: ignore[arg-type]
            if post_only:
                raise ccxt.OrderImmediatelyFillable(
                    f"paper venue: post-only {side} at {price} would cross the book "
                    f"(best bid {state.paper.best_bid}, best ask {state.paper.best_ask})"
                )
            raise ccxt.InvalidOrder(f"paper venue: a {side} at {price} would take liquidity; only resting "
                                    "(maker) orders are simulated")
        client_id = str(params.get("clientOrderId") or params.get("newClientOrderId") or "")
        if client_id and client_id in self._open_by_client:
            raise ccxt.InvalidOrder(f"paper venue: duplicate client order id {client_id!r}")
        market = state.market
        base, quote = market["base"], market["quote"]
        amount_d, price_d = to_decimal(amount), to_decimal(price)
        if side == "buy":
            lock_asset = quote
            lock_per_unit = price_d * (1 + max(to_decimal(self.settings.maker_fee), Decimal(0)))
        else:
            lock_asset, lock_per_unit = base, Decimal(1)
        need = amount_d * lock_per_unit
        free = self._free(lock_asset)
        if need > free:
            raise ccxt.InsufficientFunds(f"paper venue: {side} {amount} {symbol} at {price} needs {need} "
                                         f"{lock_asset}, {free} free")
        order_id = f"P{self._run}-{next(self._order_ids)}"
        client_id = client_id or f"paper-{order_id}"
        level = (state.bids if side == "buy" else state.asks).get(price, 0.0)
        state.paper.add_order(order_id, side, price, amount, level)  # type: ignore[arg-type]
        order = _Order(order_id, client_id, symbol, side, price, amount, post_only, self._now_ms(), base, quote,
                       lock_asset, need, lock_per_unit)
        self._add(self._locked, lock_asset, need)
        self._orders[order_id] = order
        self._open_by_client[client_id] = order_id
        result = self._order_dict(order)
        state.orders.put(result)
        return result

    def _find(self, order_id: str | None, params: dict[str, Any] | None) -> _Order:
        params = params or {}
        client_id = params.get("clientOrderId") or params.get("origClientOrderId")
        if order_id is None and client_id:
            order_id = self._open_by_client.get(str(client_id))
            if order_id is None:
                order_id = next((o.id for o in self._orders.values() if o.client_id == client_id), None)
        order = self._orders.get(str(order_id)) if order_id is not None else None
        if order is None:
            raise ccxt.OrderNotFound(f"paper venue: unknown order {order_id or client_id!r}")
        return order

    async def cancel_order(
        self, id: str | None, symbol: str | None = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        order = self._find(id, params)
        if order.status != "open" or (symbol is not None and order.symbol != symbol):
            raise ccxt.OrderNotFound(f"paper venue: order {order.id} is not open ({order.status})")
        state = self._symbols[order.symbol]
        state.paper.cancel(order.id)
        order.status = "canceled"
        self._finish(order)
        result = self._order_dict(order)
        state.orders.put(result)
        return result

    async def cancel_all_orders(
        self, symbol: str | None = None, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        return [await self.cancel_order(o.id, o.symbol) for o in self._open(symbol)]

    def _open(self, symbol: str | None) -> list[_Order]:
        return [o for o in self._orders.values() if o.status == "open" and symbol in (None, o.symbol)]

    async def fetch_order(
        self, id: str | None, symbol: str | None = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return self._order_dict(self._find(id, params))

    async def fetch_open_orders(
        self, symbol: str | None = None, since: int | None = None, limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        if symbol is not None:
            await self._symbol(symbol)
        orders = [self._order_dict(o) for o in self._open(symbol) if since is None or o.timestamp >= since]
        return orders[-limit:] if limit else orders

    async def fetch_my_trades(
        self, symbol: str | None = None, since: int | None = None, limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        trades = [t for t in self._trades
                  if symbol in (None, t["symbol"]) and (since is None or t["timestamp"] >= since)]
        return trades[:limit] if limit else trades

    async def fetch_balance(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"info": {"paper": True}, "free": {}, "used": {}, "total": {},
                               "timestamp": self._now_ms()}
        out["datetime"] = ccxt.Exchange.iso8601(out["timestamp"])
        for asset in sorted(set(self._total) | set(self._locked)):
            total = self._total.get(asset, Decimal(0))
            used = self._locked.get(asset, Decimal(0))
            entry = {"free": float(total - used), "used": float(used), "total": float(total)}
            out[asset] = entry
            for key, value in entry.items():
                out[key][asset] = value
        return out

    async def watch_orders(
        self, symbol: str | None = None, since: int | None = None, limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        return await (await self._symbol(symbol)).orders.take()

    async def watch_my_trades(
        self, symbol: str | None = None, since: int | None = None, limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        return await (await self._symbol(symbol)).my_trades.take()

    def paper_totals(self) -> dict[str, Decimal]:
        """The exact total balance of every asset (for tests and the summary)."""
        return dict(self._total)

    async def close(self) -> None:
        """Stop the feed tasks and close the public feed."""
        self._closed = True
        tasks = [t for s in self._symbols.values() for t in s.tasks]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.feed.close()
