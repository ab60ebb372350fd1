"""Unmodified ccxt.pro ``binanceusdm`` streams against the simulated perpetual: the order book kept by the
``pu`` chain, book tickers, mark prices, and the user data stream (orders, trades, positions, balance)."""

from __future__ import annotations

import asyncio
from typing import Any

import ccxt
import pytest

from bot.sim.server import SimServer

from . import test_perp_ccxt as base
from .test_perp_ccxt import PERP, WAIT, touch, until

psim, make_futures, fut = base.psim, base.make_futures, base.fut  # the fixtures, shared


def _perp(sim: SimServer) -> Any:
    assert sim.perp is not None
    return sim.perp


async def test_watch_order_book_stays_in_sync_across_many_diffs(fut: Any, psim: SimServer) -> None:
    nonces = []
    async with asyncio.timeout(WAIT * 3):
        for _ in range(60):
            ob = await fut.watch_order_book(PERP)
            nonces.append(ob["nonce"])
            assert ob["bids"][0][0] < ob["asks"][0][0]
    assert nonces == sorted(nonces) and nonces[-1] - nonces[0] >= 30
    psim.paused = True
    sym = _perp(psim).engine.symbols["BTCUSDT"]
    await until(lambda: fut.orderbooks[PERP]["nonce"] == sym.update_id)
    local = fut.orderbooks[PERP]
    rest = await fut.fetch_order_book(PERP, 1000)
    assert rest["nonce"] == local["nonce"]
    assert [list(x) for x in local["bids"]] == rest["bids"]
    assert [list(x) for x in local["asks"]] == rest["asks"]


async def test_a_depth_gap_breaks_the_pu_chain(fut: Any, psim: SimServer) -> None:
    async with asyncio.timeout(WAIT):
        for _ in range(5):
            await fut.watch_order_book(PERP)
    _perp(psim).set_faults(gap_next=1)
    with pytest.raises(ccxt.ChecksumError):
        async with asyncio.timeout(WAIT):
            while True:
                await fut.watch_order_book(PERP)
    async with asyncio.timeout(WAIT):  # watching again resynchronises
        for _ in range(5):
            await fut.watch_order_book(PERP)


async def test_watch_bids_asks_and_mark_price(fut: Any, psim: SimServer) -> None:
    async with asyncio.timeout(WAIT):
        tickers = await fut.watch_bids_asks([PERP])
        assert tickers[PERP]["bid"] < tickers[PERP]["ask"]
        mark = await fut.watch_mark_price(PERP)
    assert mark["markPrice"] > 0 and mark["indexPrice"] > 0


async def test_user_stream_orders_trades_positions_balance(fut: Any, psim: SimServer) -> None:
    async with asyncio.timeout(WAIT):
        orders_task = asyncio.ensure_future(fut.watch_orders(PERP))
        trades_task = asyncio.ensure_future(fut.watch_my_trades(PERP))
        await until(lambda: _perp(psim).user_streams.connections)
        await asyncio.sleep(0.3)  # the watchers' REST snapshots
        bid, _ask = await touch(fut)
        resting = await fut.create_order(PERP, "limit", "buy", 0.01, round(bid - 40, 1), {"clientOrderId": "h-rest"})
        orders = await orders_task
        assert orders[-1]["id"] == resting["id"] and orders[-1]["status"] == "open"
        assert orders[-1]["timestamp"] and orders[-1]["clientOrderId"] == "h-rest"
        taken = await fut.create_order(PERP, "market", "buy", 0.004, None, {"clientOrderId": "h-take"})
        await trades_task
        while sum(t["amount"] for t in fut.myTrades if t["order"] == taken["id"]) < 0.004:
            await fut.watch_my_trades(PERP)
        took = [t for t in fut.myTrades if t["order"] == taken["id"]]
        assert all(t["side"] == "buy" and t["fee"]["cost"] > 0 and t["price"] > 0 and t["id"] for t in took)
        seen = {o["clientOrderId"]: o for o in fut.orders}
        assert seen["h-take"]["timestamp"]  # NEW came before TRADE
        assert seen["h-take"]["status"] == "closed" and seen["h-take"]["filled"] == 0.004
        positions = await fut.watch_positions([PERP])
        while not positions or positions[-1]["contracts"] != pytest.approx(0.004):
            positions = await fut.watch_positions([PERP])
        assert positions[-1]["side"] == "long"
        await fut.create_order(PERP, "market", "sell", 0.004, None, {"reduceOnly": True})
        balance = await fut.watch_balance()
        assert balance["USDT"]["total"] > 0


async def test_user_stream_silent_and_position_lag(fut: Any, psim: SimServer) -> None:
    venue = _perp(psim)
    venue.set_faults(position_lag_ms=1500)
    await fut.create_order(PERP, "market", "buy", 0.003)
    assert await fut.fetch_positions([PERP]) == []  # the report lags the truth
    async with asyncio.timeout(WAIT):
        while not await fut.fetch_positions([PERP]):  # noqa: ASYNC110 - asks the venue, as a bot would
            await asyncio.sleep(0.1)
    venue.set_faults(position_lag_ms=0, user_stream_silent=True)
    orders_task = asyncio.ensure_future(fut.watch_orders(PERP))
    await until(lambda: venue.user_streams.connections)
    await fut.create_order(PERP, "market", "sell", 0.003, None, {"reduceOnly": True})
    await asyncio.sleep(0.5)
    assert not orders_task.done()
    venue.set_faults(user_stream_silent=False)
    await fut.create_order(PERP, "market", "buy", 0.002)
    async with asyncio.timeout(WAIT):
        orders = await orders_task
    assert orders[-1]["amount"] == 0.002


async def test_listen_key_is_the_same_while_it_lives(fut: Any) -> None:
    first = await fut.fapiPrivatePostListenKey()
    second = await fut.fapiPrivatePostListenKey()
    assert first["listenKey"] == second["listenKey"] and len(first["listenKey"]) == 64
    assert await fut.fapiPrivatePutListenKey() == first


async def test_position_lag_delays_account_update(fut: Any, psim: SimServer) -> None:
    venue = _perp(psim)
    venue.set_faults(position_lag_ms=800)
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(WAIT):
        watching = asyncio.ensure_future(fut.watch_positions([PERP]))  # no snapshot: the next ACCOUNT_UPDATE
        await until(lambda: venue.user_streams.connections)
        await fut.create_order(PERP, "market", "buy", 0.003)
        sent = loop.time()
        positions = await watching
        arrived = loop.time()
    assert positions[-1]["contracts"] == pytest.approx(0.003)
    assert arrived - sent >= 0.7  # delivered position_lag_ms after the fill (less the order reply's trip)
