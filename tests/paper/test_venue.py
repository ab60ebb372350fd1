"""PaperExchange against a hand-driven fake feed: ccxt shapes, exceptions, fills, balances."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import ccxt
import pytest

from bot.paper.settings import PaperSettings
from bot.paper.venue import PaperExchange

SYMBOL = "BTC/USDT"
MARKET = {
    "id": "BTCUSDT", "symbol": SYMBOL, "base": "BTC", "quote": "USDT", "spot": True,
    "precision": {"price": 0.01, "amount": 0.001}, "limits": {"amount": {"min": 0.001}, "cost": {"min": 5}},
}


class FakeFeed:
    """A public feed whose books and trades the test pushes by hand."""

    precisionMode = ccxt.TICK_SIZE

    def __init__(self) -> None:
        self.markets: dict[str, Any] = {}
        self.books: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.trades: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
        self.closed = False
        self.id = "fake"

    async def load_markets(self) -> dict[str, Any]:
        self.markets = {SYMBOL: MARKET}
        return self.markets

    def market(self, symbol: str) -> dict[str, Any]:
        if symbol not in self.markets:
            raise ccxt.BadSymbol(f"no market {symbol}")
        return self.markets[symbol]

    async def watch_order_book(self, symbol: str) -> dict[str, Any]:
        return await self.books.get()

    async def watch_trades(self, symbol: str) -> list[dict[str, Any]]:
        return await self.trades.get()

    async def close(self) -> None:
        self.closed = True


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def make(**settings: Any) -> tuple[PaperExchange, FakeFeed]:
    feed = FakeFeed()
    ex = PaperExchange(feed, PaperSettings(**({"maker_fee": 0.0} | settings)), clock=lambda: 1700000000.0)
    await ex.load_markets()
    return ex, feed


async def push_book(ex: PaperExchange, feed: FakeFeed, bids: list[list[float]], asks: list[list[float]]) -> None:
    await ex.fetch_open_orders(SYMBOL)  # names the symbol: starts the feed tasks
    feed.books.put_nowait({"bids": bids, "asks": asks})
    await settle()


async def push_trade(feed: FakeFeed, price: float, amount: float, side: str, trade_id: str) -> None:
    feed.trades.put_nowait([{"id": trade_id, "price": price, "amount": amount, "side": side, "timestamp": 1}])
    await settle()


BOOK = ([[99.99, 1.0], [99.98, 2.0]], [[100.01, 1.0], [100.02, 2.0]])


async def test_public_calls_are_delegated_and_close_closes_the_feed() -> None:
    ex, feed = await make()
    assert ex.markets == {SYMBOL: MARKET} and ex.id == "fake"
    await push_book(ex, feed, *BOOK)
    await ex.close()
    assert feed.closed


async def test_post_only_order_that_would_cross_is_rejected_like_a_venue() -> None:
    ex, feed = await make()
    await push_book(ex, feed, *BOOK)
    with pytest.raises(ccxt.OrderImmediatelyFillable):
        await ex.create_order(SYMBOL, "limit", "buy", 0.1, 100.01, {"postOnly": True})
    with pytest.raises(ccxt.OrderImmediatelyFillable):
        await ex.create_order(SYMBOL, "limit", "sell", 0.1, 99.99, {"postOnly": True})
    with pytest.raises(ccxt.InvalidOrder):  # no postOnly: still only maker orders are simulated
        await ex.create_order(SYMBOL, "limit", "buy", 0.1, 100.05)
    with pytest.raises(ccxt.InvalidOrder):
        await ex.create_order(SYMBOL, "market", "buy", 0.1)
    assert await ex.fetch_open_orders(SYMBOL) == []
    await ex.close()


async def test_insufficient_funds_counts_what_open_orders_lock() -> None:
    ex, feed = await make(balances={"USDT": 100.0, "BTC": 0.5})
    await push_book(ex, feed, *BOOK)
    await ex.create_order(SYMBOL, "limit", "buy", 0.6, 100.0, {"postOnly": True})  # locks 60 USDT
    with pytest.raises(ccxt.InsufficientFunds):
        await ex.create_order(SYMBOL, "limit", "buy", 0.5, 99.0, {"postOnly": True})  # 49.5 > 40 free
    with pytest.raises(ccxt.InsufficientFunds):
        await ex.create_order(SYMBOL, "limit", "sell", 0.6, 101.0, {"postOnly": True})
    balance = await ex.fetch_balance()
    assert balance["USDT"] == {"free": 40.0, "used": 60.0, "total": 100.0}
    assert balance["free"]["BTC"] == 0.5
    await ex.close()


async def test_cancel_unknown_or_closed_order_is_order_not_found() -> None:
    ex, feed = await make()
    await push_book(ex, feed, *BOOK)
    order = await ex.create_order(SYMBOL, "limit", "buy", 0.1, 99.99, {"postOnly": True, "clientOrderId": "c-1"})
    assert order["status"] == "open" and order["clientOrderId"] == "c-1" and order["remaining"] == 0.1
    with pytest.raises(ccxt.InvalidOrder):
        await ex.create_order(SYMBOL, "limit", "buy", 0.1, 99.98, {"postOnly": True, "clientOrderId": "c-1"})
    canceled = await ex.cancel_order(None, SYMBOL, {"clientOrderId": "c-1"})
    assert canceled["status"] == "canceled" and canceled["id"] == order["id"]
    with pytest.raises(ccxt.OrderNotFound):
        await ex.cancel_order(order["id"], SYMBOL)
    with pytest.raises(ccxt.OrderNotFound):
        await ex.cancel_order("nope", SYMBOL)
    assert (await ex.fetch_balance())["USDT"]["used"] == 0.0
    await ex.close()


async def test_trade_through_fills_by_trade_size_and_books_balances_exactly() -> None:
    ex, feed = await make(maker_fee=0.001, balances={"USDT": 1000.0, "BTC": 1.0})
    await push_book(ex, feed, *BOOK)
    order = await ex.create_order(SYMBOL, "limit", "buy", 0.5, 100.0, {"postOnly": True, "clientOrderId": "b"})
    await push_trade(feed, 99.99, 0.2, "sell", "t1")  # prints below our bid: passed through it
    trades = await ex.fetch_my_trades(SYMBOL)
    assert [(t["side"], t["price"], t["amount"], t["takerOrMaker"]) for t in trades] == [("buy", 100.0, 0.2, "maker")]
    assert trades[0]["order"] == order["id"] and trades[0]["info"].amount == Decimal("0.2")
    assert trades[0]["fee"] == {"cost": pytest.approx(0.02), "currency": "USDT"}
    await push_trade(feed, 99.99, 0.2, "sell", "t1")  # the same trade id again: ignored
    await push_trade(feed, 100.02, 5.0, "buy", "t2")  # a taker buy never fills our bid
    assert len(await ex.fetch_my_trades(SYMBOL)) == 1
    await push_trade(feed, 99.98, 1.0, "sell", "t3")  # fills the remaining 0.3 only
    trades = await ex.fetch_my_trades(SYMBOL)
    assert [t["amount"] for t in trades] == [0.2, 0.3]
    assert await ex.fetch_open_orders(SYMBOL) == []
    closed = await ex.fetch_order(order["id"], SYMBOL)
    assert closed["status"] == "closed" and closed["filled"] == 0.5 and closed["average"] == 100.0
    totals = ex.paper_totals()
    assert totals["BTC"] == Decimal("1.5")
    assert totals["USDT"] == Decimal("1000") - Decimal("50") - Decimal("0.05")  # notional + 0.1% fee
    assert (await ex.fetch_balance())["USDT"]["used"] == 0.0
    await ex.close()


async def test_queue_ahead_must_trade_away_before_a_fill_at_our_price() -> None:
    ex, feed = await make()
    await push_book(ex, feed, *BOOK)
    await ex.create_order(SYMBOL, "limit", "sell", 0.5, 100.01, {"postOnly": True})  # behind 1.0 at 100.01
    await push_trade(feed, 100.01, 0.6, "buy", "a")
    assert await ex.fetch_my_trades(SYMBOL) == []
    await push_trade(feed, 100.01, 0.6, "buy", "b")  # 0.4 of the queue left, 0.2 for us
    await push_trade(feed, 100.01, 0.1, "buy", "c")
    assert [t["amount"] for t in await ex.fetch_my_trades(SYMBOL)] == [0.2, 0.1]
    assert (await ex.fetch_open_orders(SYMBOL))[0]["remaining"] == pytest.approx(0.2)
    await ex.close()


async def test_a_book_that_crosses_the_order_fills_it_by_the_size_shown() -> None:
    ex, feed = await make()
    await push_book(ex, feed, *BOOK)
    await ex.create_order(SYMBOL, "limit", "buy", 0.5, 100.0, {"postOnly": True})
    await push_book(ex, feed, [[99.99, 1.0]], [[99.995, 0.3], [100.0, 0.1], [100.1, 9.0]])
    assert [t["amount"] for t in await ex.fetch_my_trades(SYMBOL)] == [0.4]
    await ex.close()


async def test_streams_deliver_order_updates_and_fills() -> None:
    ex, feed = await make()
    await push_book(ex, feed, *BOOK)
    orders_task = asyncio.create_task(ex.watch_orders(SYMBOL))
    order = await ex.create_order(SYMBOL, "limit", "sell", 0.3, 100.05, {"postOnly": True})
    updates = await asyncio.wait_for(orders_task, 1.0)
    assert [(u["id"], u["status"]) for u in updates] == [(order["id"], "open")]
    trades_task = asyncio.create_task(ex.watch_my_trades(SYMBOL))
    await push_trade(feed, 100.1, 1.0, "buy", "x")
    fills = await asyncio.wait_for(trades_task, 1.0)
    assert [(f["side"], f["price"], f["amount"]) for f in fills] == [("sell", 100.05, 0.3)]
    assert [u["status"] for u in await ex.watch_orders(SYMBOL)] == ["closed"]
    await ex.close()


async def test_order_waits_for_the_first_book_and_unknown_symbols_are_bad_symbols() -> None:
    ex, _feed = await make(first_book_timeout=0.05)
    with pytest.raises(ccxt.ExchangeError, match="no public order book"):
        await ex.create_order(SYMBOL, "limit", "buy", 0.1, 99.0, {"postOnly": True})
    with pytest.raises(ccxt.BadSymbol):
        await ex.fetch_open_orders("ETH/USDT")
    await ex.close()


async def test_fills_are_whole_lots() -> None:
    ex, feed = await make()
    await push_book(ex, feed, *BOOK)
    await ex.create_order(SYMBOL, "limit", "buy", 0.06, 100.0, {"postOnly": True})
    await push_trade(feed, 99.0, 0.0025, "sell", "p1")  # 2.5 lots of 0.001 -> 2 lots
    await push_trade(feed, 99.0, 0.0004, "sell", "p2")  # under one lot: nothing
    assert [t["info"].amount for t in await ex.fetch_my_trades(SYMBOL)] == [Decimal("0.002")]
    await ex.close()


async def test_only_the_latest_finished_orders_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.paper.venue.FINISHED_ORDERS", 3)
    ex, feed = await make()
    await push_book(ex, feed, *BOOK)
    ids = []
    for _ in range(5):
        order = await ex.create_order(SYMBOL, "limit", "buy", 0.1, 99.0, {"postOnly": True})
        await ex.cancel_order(order["id"], SYMBOL)
        ids.append(order["id"])
    resting = await ex.create_order(SYMBOL, "limit", "buy", 0.1, 99.0, {"postOnly": True})
    for old in ids[:2]:
        with pytest.raises(ccxt.OrderNotFound):
            await ex.fetch_order(old, SYMBOL)
    assert [(await ex.fetch_order(i, SYMBOL))["status"] for i in ids[2:]] == ["canceled"] * 3
    assert (await ex.fetch_order(resting["id"], SYMBOL))["status"] == "open"
    await ex.close()


@pytest.mark.parametrize(
    ("amount", "price", "needle"),
    [
        (0.1005, 99.0, "not a multiple of 0.001"),
        (0.1, 99.005, "not a multiple of 0.01"),
        (0.03, 99.0, "notional 2.97 is below the minimum 5"),
    ],
)
async def test_market_filters_are_invalid_orders(amount: float, price: float, needle: str) -> None:
    ex, feed = await make()
    await push_book(ex, feed, *BOOK)
    with pytest.raises(ccxt.InvalidOrder, match=needle):
        await ex.create_order(SYMBOL, "limit", "buy", amount, price, {"postOnly": True})
    await ex.close()


async def test_order_and_trade_ids_differ_between_runs() -> None:
    """A restarted bot keeps its journal: a new run's ids must not repeat an earlier run's (the journal
    refuses a trade id it holds, and the tracker finds orders by id)."""
    ids: list[tuple[str, str]] = []
    for _ in range(2):
        ex, feed = await make(balances={"USDT": 1000.0, "BTC": 1.0})
        await push_book(ex, feed, *BOOK)
        order = await ex.create_order(SYMBOL, "limit", "buy", 0.5, 100.0, {"postOnly": True, "clientOrderId": "b"})
        await push_trade(feed, 99.99, 0.2, "sell", "t1")
        (trade,) = await ex.fetch_my_trades(SYMBOL)
        ids.append((order["id"], trade["id"]))
        await ex.close()
        await asyncio.sleep(0.002)  # the next run starts later
    (order_a, trade_a), (order_b, trade_b) = ids
    assert order_a != order_b and trade_a != trade_b
    assert trade_a.startswith("paper-")  # never an integer id (the REST paging relies on that)
