"""Injected faults on the WebSocket API's trading requests, seen through unmodified ccxt and raw frames."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import ccxt
import pytest

from bot.sim.server import SimServer

from .test_ccxt_ws import WAIT

BUY = ("BTC/USDT", "limit", "buy", 0.001, 20000)


async def _faults(sim: SimServer, **changes: Any) -> None:
    """Switch faults the way an operator does: POST /admin/faults."""
    async with aiohttp.ClientSession() as http, http.post(f"{sim.url}/admin/faults", json=changes) as resp:
        assert resp.status == 200, await resp.text()


async def _ask(ws: aiohttp.ClientWebSocketResponse, method: str, params: dict[str, Any], req_id: int) -> Any:
    """Send one (unsigned) request and return its reply."""
    await ws.send_str(json.dumps({"id": req_id, "method": method, "params": params}))
    return json.loads((await ws.receive(timeout=WAIT)).data)


async def test_injected_429_and_418_raise_rate_limit_errors_and_execute_nothing(client: Any, sim: SimServer) -> None:
    async with asyncio.timeout(WAIT):
        await _faults(sim, http_429_fraction=1.0)
        with pytest.raises(ccxt.RateLimitExceeded, match="injected"):
            await client.create_order_ws(*BUY)
        with pytest.raises(ccxt.RateLimitExceeded):  # every trading request, not only orders
            await client.fetch_open_orders_ws("BTC/USDT")
        await _faults(sim, http_429_fraction=0.0, http_418_fraction=1.0)
        with pytest.raises(ccxt.RateLimitExceeded, match="IP banned"):
            await client.create_order_ws(*BUY)
        assert sim.exchange.orders == {}
        await _faults(sim, http_418_fraction=0.0)
        assert (await client.create_order_ws(*BUY))["status"] == "open"


async def test_injected_5xx_is_server_busy_and_not_executed(client: Any, sim: SimServer) -> None:
    async with asyncio.timeout(WAIT):
        await _faults(sim, http_5xx_fraction=1.0)
        with pytest.raises(ccxt.BaseError, match="-1008") as caught:
            await client.create_order_ws(*BUY)
        # ccxt has no WebSocket-URL mapping for -1008, so it is a plain ExchangeError (as against Binance):
        # to the bot a definite rejection, which it is - the request was not executed.
        assert type(caught.value) is ccxt.ExchangeError
        assert sim.exchange.orders == {}
        with pytest.raises(ccxt.ExchangeError, match="overloaded"):
            await client.fetch_balance_ws()
        await _faults(sim, http_5xx_fraction=0.0)
        assert (await client.create_order_ws(*BUY))["status"] == "open"


async def test_unknown_fate_executes_place_cancel_and_cancel_all(client: Any, sim: SimServer) -> None:
    async with asyncio.timeout(WAIT):
        await _faults(sim, unknown_fate_fraction=1.0)
        with pytest.raises(ccxt.OperationFailed, match="-1007"):
            await client.create_order_ws(*BUY, {"clientOrderId": "fate-ws"})
        [placed] = await client.fetch_open_orders("BTC/USDT")  # REST: the order is on the book
        assert placed["clientOrderId"] == "fate-ws"
        fetched = await client.fetch_order_ws(placed["id"], "BTC/USDT")  # order.status does not mutate
        assert fetched["status"] == "open"
        with pytest.raises(ccxt.OperationFailed, match="-1007"):
            await client.cancel_order_ws(placed["id"], "BTC/USDT")
        assert (await client.fetch_order(placed["id"], "BTC/USDT"))["status"] == "canceled"
        await _faults(sim, unknown_fate_fraction=0.0)
        for _ in range(2):
            await client.create_order_ws(*BUY)
        await _faults(sim, unknown_fate_fraction=1.0)
        with pytest.raises(ccxt.OperationFailed, match="-1007"):
            await client.cancel_all_orders_ws("BTC/USDT")
        assert await client.fetch_open_orders("BTC/USDT") == []


async def test_the_limiters_rate_limit_errors_carry_retry_after_and_injected_ones_do_not(sim: SimServer) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(sim.ws_api_url) as ws:
        await _faults(sim, http_429_fraction=1.0)  # drawn before the signature check
        reply = await _ask(ws, "order.place", {}, 1)
        assert set(reply) == {"id", "status", "error"} and (reply["id"], reply["status"]) == (1, 429)
        error = reply["error"]
        assert error["code"] == -1003 and "data" not in error  # as REST's injected 429 has no Retry-After
        await _faults(sim, http_429_fraction=0.0, http_5xx_fraction=1.0)
        reply = await _ask(ws, "order.place", {}, 2)
        assert reply == {"id": 2, "status": 503, "error": {"code": -1008, "msg": reply["error"]["msg"]}}
        await _faults(sim, http_5xx_fraction=0.0)

        sim.set_rate_limits(weight_per_minute=30, weight_window=3600, ban_after=1, ban_seconds=120)
        assert (await _ask(ws, "account.status", {}, 3))["error"]["code"] == -2014  # charged, then unsigned
        limited = await _ask(ws, "account.status", {}, 4)
        assert (limited["status"], limited["error"]["code"]) == (429, -1003)
        data = limited["error"]["data"]
        assert abs(data["retryAfter"] - (data["serverTime"] // 3_600_000 + 1) * 3_600_000) <= 1000  # window end
        banned = await _ask(ws, "account.status", {}, 5)
        assert (banned["status"], banned["error"]["code"]) == (418, -1003)
        until = int(banned["error"]["msg"].split("banned until ")[1].split(".")[0])
        assert abs(banned["error"]["data"]["retryAfter"] - until) <= 1000  # the end of the ban


async def test_open_orders_status_weight_depends_on_symbol(sim: SimServer) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(sim.ws_api_url) as ws:
        used = sim.limiter.used("127.0.0.1", sim.now())
        await _ask(ws, "openOrders.status", {"symbol": "BTCUSDT"}, 1)
        assert sim.limiter.used("127.0.0.1", sim.now()) == used + 6
        await _ask(ws, "openOrders.status", {}, 2)
        assert sim.limiter.used("127.0.0.1", sim.now()) == used + 6 + 80
