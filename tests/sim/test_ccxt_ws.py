"""Unmodified ccxt.pro against the simulator: order-book sync, gaps, public streams, user stream."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import ccxt
import pytest

from bot.sim.server import SimServer

from .conftest import SECOND_KEY, SECOND_SECRET

WAIT = 10  # upper bound for anything that should happen within a few clock ticks


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110 - polls state owned by ccxt and the sim
            await asyncio.sleep(0.005)


async def _assert_matches_rest(client: Any, sim: SimServer, symbol: str = "BTC/USDT") -> None:
    """Freeze the clock, let the last diff arrive, and compare the local book with a REST snapshot."""
    sim.paused = True
    sym = sim.exchange.by_name[symbol]
    await _until(lambda: client.orderbooks[symbol]["nonce"] == sym.update_id)
    local = client.orderbooks[symbol]
    rest = await client.fetch_order_book(symbol, 1000)
    assert rest["nonce"] == local["nonce"]
    assert [list(x) for x in local["bids"]] == rest["bids"]
    assert [list(x) for x in local["asks"]] == rest["asks"]
    sim.paused = False


async def test_watch_order_book_stays_in_sync(client: Any, sim: SimServer) -> None:
    nonces = []
    async with asyncio.timeout(WAIT * 3):
        for _ in range(60):
            ob = await client.watch_order_book("BTC/USDT")
            nonces.append(ob["nonce"])
            assert ob["bids"][0][0] < ob["asks"][0][0]
    assert nonces == sorted(nonces) and nonces[-1] - nonces[0] >= 30
    await _assert_matches_rest(client, sim)


async def test_sequence_gap_raises_checksum_error_and_rewatch_resyncs(client: Any, sim: SimServer) -> None:
    async with asyncio.timeout(WAIT):
        for _ in range(5):
            await client.watch_order_book("BTC/USDT")
    sim.set_faults(gap_next=1)
    with pytest.raises(ccxt.ChecksumError):
        async with asyncio.timeout(WAIT):
            while True:
                await client.watch_order_book("BTC/USDT")
    async with asyncio.timeout(WAIT):
        for _ in range(10):
            await client.watch_order_book("BTC/USDT")
    await _assert_matches_rest(client, sim)


async def test_public_streams(client: Any, sim: SimServer) -> None:
    async with asyncio.timeout(WAIT):
        trades = await client.watch_trades("BTC/USDT")
        assert trades and all(t["side"] in ("buy", "sell") and t["amount"] > 0 for t in trades)
        bidask = await client.watch_bids_asks(["BTC/USDT"])
        assert bidask["BTC/USDT"]["bid"] < bidask["BTC/USDT"]["ask"]
        mini = await client.watch_ticker("ETH/USDT")
        assert mini["symbol"] == "ETH/USDT" and mini["last"] > 0
        full = await client.watch_ticker("BTC/USDT", {"name": "ticker"})
        assert full["bid"] < full["ask"]


async def test_fill_arrives_on_watch_orders_and_watch_my_trades(
    make_client: Callable[..., Any], sim: SimServer
) -> None:
    maker = make_client()
    taker = make_client(SECOND_KEY, SECOND_SECRET)
    await maker.load_markets()
    await taker.load_markets()
    sim.paused = True
    ob = await maker.fetch_order_book("BTC/USDT", 5)
    price = float(maker.price_to_precision("BTC/USDT", ob["asks"][0][0] - 0.01))
    placed = await maker.create_order("BTC/USDT", "limit", "buy", 0.003, price, {"postOnly": True})
    orders_task = asyncio.create_task(maker.watch_orders("BTC/USDT"))
    trades_task = asyncio.create_task(maker.watch_my_trades("BTC/USDT"))
    balance_task = asyncio.create_task(maker.watch_balance())
    await _until(lambda: sim.user_hub.has("user1"))
    await taker.create_order("BTC/USDT", "market", "sell", 0.003)
    async with asyncio.timeout(WAIT):
        orders = await orders_task
        trades = await trades_task
    (order,) = [o for o in orders if o["id"] == placed["id"]]
    assert order["status"] == "closed" and order["filled"] == 0.003
    rest_trades = await maker.fetch_my_trades("BTC/USDT")
    assert [(t["id"], t["order"], t["price"], t["amount"], t["side"], t["takerOrMaker"]) for t in trades] == [
        (t["id"], t["order"], t["price"], t["amount"], t["side"], t["takerOrMaker"]) for t in rest_trades
    ]
    assert trades[0]["fee"]["cost"] == pytest.approx(rest_trades[0]["fee"]["cost"])
    balance = await asyncio.wait_for(balance_task, WAIT)
    assert balance["BTC"]["free"] > 2


async def test_resting_order_fills_from_background_takers(client: Any, sim: SimServer) -> None:
    """With the default market a quote at the touch is reached by takers within seconds."""
    ob = await client.fetch_order_book("BTC/USDT", 5)
    price = float(client.price_to_precision("BTC/USDT", ob["asks"][0][0] - 0.01))
    placed = await client.create_order("BTC/USDT", "limit", "buy", 0.0005, price, {"postOnly": True})
    async with asyncio.timeout(WAIT * 3):
        while True:
            orders = await client.watch_orders("BTC/USDT")
            mine = [o for o in orders if o["id"] == placed["id"]]
            if mine and mine[-1]["filled"] > 0:
                break


async def test_dropped_sockets_surface_as_network_errors_and_reconnect(client: Any, sim: SimServer) -> None:
    async with asyncio.timeout(WAIT):
        await client.watch_order_book("BTC/USDT")
    sim.set_faults(drop_now=True)
    with pytest.raises(ccxt.NetworkError):
        async with asyncio.timeout(WAIT):
            while True:
                await client.watch_order_book("BTC/USDT")
    async with asyncio.timeout(WAIT):
        for _ in range(5):
            await client.watch_order_book("BTC/USDT")
    await _assert_matches_rest(client, sim)


async def test_unwatch_then_watch_again(client: Any, sim: SimServer) -> None:
    async with asyncio.timeout(WAIT):
        await client.watch_order_book("BTC/USDT")
        await client.un_watch_order_book("BTC/USDT")
        await _until(lambda: not sim.market_hub.has("BTCUSDT:depth"))
        await client.watch_trades("BTC/USDT")  # the connection is still usable
        for _ in range(5):
            await client.watch_order_book("BTC/USDT")
    await _assert_matches_rest(client, sim)


async def test_trading_over_the_websocket_api(client: Any, sim: SimServer) -> None:
    async with asyncio.timeout(WAIT):
        placed = await client.create_order_ws("BTC/USDT", "limit", "buy", 0.001, 20000, {"clientOrderId": "ws-1"})
        assert placed["status"] == "open" and placed["clientOrderId"] == "ws-1"
        assert [o["id"] for o in await client.fetch_open_orders_ws("BTC/USDT")] == [placed["id"]]
        fetched = await client.fetch_order_ws(placed["id"], "BTC/USDT")
        assert fetched["price"] == 20000 and fetched["amount"] == 0.001
        assert (await client.fetch_balance())["USDT"]["used"] == 20
        canceled = await client.cancel_order_ws(placed["id"], "BTC/USDT")
        assert canceled["status"] == "canceled"
        with pytest.raises(ccxt.OrderNotFound):
            await client.cancel_order_ws(placed["id"], "BTC/USDT")
        with pytest.raises(ccxt.InsufficientFunds):
            await client.create_order_ws("BTC/USDT", "limit", "sell", 5, 40000)
