"""Injected faults seen through unmodified ccxt, the admin endpoint, and malformed input."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from typing import Any

import aiohttp
import ccxt
import pytest

from bot.sim.server import SimServer, start_sim
from bot.sim.settings import FaultSettings, RateLimitSettings

from .conftest import fast_settings
from .test_ccxt_ws import WAIT, _assert_matches_rest, _until


async def test_http_faults_map_to_ccxt_exceptions(client: Any, sim: SimServer) -> None:
    sim.set_faults(http_5xx_fraction=1.0)
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await client.fetch_order_book("BTC/USDT", 5)
    sim.set_faults(http_5xx_fraction=0.0, http_429_fraction=1.0)
    with pytest.raises(ccxt.DDoSProtection):
        await client.fetch_balance()
    sim.set_faults(http_429_fraction=0.0, http_418_fraction=1.0)
    with pytest.raises(ccxt.DDoSProtection, match="418"):
        await client.fetch_balance()
    sim.set_faults(http_418_fraction=0.0)
    assert (await client.fetch_balance())["total"]["USDT"] == 100000


async def test_order_rejects(client: Any, sim: SimServer) -> None:
    sim.set_faults(reject_fraction=1.0)
    with pytest.raises(ccxt.InvalidOrder):
        await client.create_order("BTC/USDT", "limit", "buy", 0.001, 20000)
    assert sim.exchange.orders == {}


async def test_unknown_fate_executes_the_order_but_answers_request_timeout(client: Any, sim: SimServer) -> None:
    sim.set_faults(unknown_fate_fraction=1.0)
    with pytest.raises(ccxt.RequestTimeout):
        await client.create_order("BTC/USDT", "limit", "buy", 0.001, 20000, {"clientOrderId": "fate-1"})
    sim.set_faults(unknown_fate_fraction=0.0)
    found = await client.fetch_order(None, "BTC/USDT", {"origClientOrderId": "fate-1"})
    assert found["status"] == "open" and found["clientOrderId"] == "fate-1"


async def test_slow_ack_places_the_order_before_answering(client: Any, sim: SimServer) -> None:
    sim.set_faults(slow_ack_ms=400)
    task = asyncio.create_task(client.create_order("BTC/USDT", "limit", "buy", 0.001, 20000))
    await _until(lambda: bool(sim.exchange.orders))
    assert not task.done()  # the order rests in the book while its acknowledgement is still pending
    order = await asyncio.wait_for(task, WAIT)
    assert int(order["id"]) in sim.exchange.orders


async def test_frozen_feed_then_resume_without_gap(client: Any, sim: SimServer) -> None:
    async with asyncio.timeout(WAIT):
        for _ in range(3):
            await client.watch_order_book("BTC/USDT")
    sim.set_faults(frozen=True)
    await _until(lambda: client.orderbooks["BTC/USDT"]["nonce"] == sim.published_depth["BTCUSDT"])
    seen = client.orderbooks["BTC/USDT"]["nonce"]
    sym = sim.exchange.by_name["BTC/USDT"]
    await _until(lambda: sym.update_id > seen + 10)  # matching goes on ...
    assert client.orderbooks["BTC/USDT"]["nonce"] == seen  # ... but nothing is published
    sim.set_faults(frozen=False)
    async with asyncio.timeout(WAIT):
        await client.watch_order_book("BTC/USDT")
    await _assert_matches_rest(client, sim)


async def test_orders_per_10s_limit(make_client: Callable[..., Any]) -> None:
    settings = fast_settings(rate_limits=RateLimitSettings(orders_per_10s=3))
    async with await start_sim(settings) as small:
        ex = make_client(server=small)
        await ex.load_markets()
        with pytest.raises(ccxt.DDoSProtection, match="-1015"):
            for _ in range(5):
                await ex.create_order("BTC/USDT", "limit", "buy", 0.001, 20000)
        assert len(small.exchange.orders) == 3


async def test_faults_from_settings() -> None:
    settings = fast_settings(faults=FaultSettings(http_5xx_fraction=1.0))
    async with (
        await start_sim(settings) as sim,
        aiohttp.ClientSession() as http,
        http.get(f"{sim.url}/api/v3/ping") as resp,
    ):
        assert resp.status == 503


async def test_admin_endpoint(sim: SimServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{sim.url}/admin/state") as resp:
            state = await resp.json()
        assert resp.status == 200
        assert state["accounts"]["user1"]["free"]["USDT"] == "100000.00000000"
        assert set(state["symbols"]) == {"BTC/USDT", "ETH/USDT", "SOL/USDT"}
        assert state["faults"]["frozen"] is False
        async with http.post(f"{sim.url}/admin/faults", json={"frozen": True, "gap_next": 2}) as resp:
            assert resp.status == 200
            assert (await resp.json())["faults"]["frozen"] is True
        assert sim.faults.settings.frozen and sim.faults.gap_next == 2
        for bad in ({"frozen": "maybe"}, {"no_such_fault": 1}, {"gap_next": -1}, [1, 2]):
            async with http.post(f"{sim.url}/admin/faults", json=bad) as resp:
                assert resp.status == 400, bad
                assert "error" in await resp.json()
        json_type = {"Content-Type": "application/json"}
        async with http.post(f"{sim.url}/admin/faults", data="not json", headers=json_type) as resp:
            assert resp.status == 400
        assert sim.faults.settings.frozen  # bad requests changed nothing


async def test_a_web_page_cannot_use_the_admin_endpoint(sim: SimServer) -> None:
    """A browser's simple cross-origin POST (text/plain, foreign Origin) and a JSON POST from a foreign
    Origin are refused; under a foreign Host (DNS rebinding) even the state is not shown."""
    page = {"Origin": "http://evil.example", "Content-Type": "text/plain"}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{sim.url}/admin/faults", data='{"http_5xx_fraction": 1}', headers=page) as resp:
            assert resp.status == 403
        async with http.post(f"{sim.url}/admin/faults", json={"frozen": True},
                             headers={"Origin": "http://evil.example"}) as resp:
            assert resp.status == 403
        async with http.post(f"{sim.url}/admin/rate_limits", data='{"weight_per_minute": 1}',
                             headers={"Content-Type": "text/plain"}) as resp:
            assert resp.status == 403
        async with http.get(f"{sim.url}/admin/state", headers={"Host": "evil.example"}) as resp:
            assert resp.status == 421 and "accounts" not in await resp.text()
        async with http.get(f"{sim.url}/admin/state", headers={"Host": "localhost"}) as resp:
            assert resp.status == 200
    assert sim.faults.settings.http_5xx_fraction == 0 and not sim.faults.settings.frozen
    assert sim.limiter.settings.weight_per_minute != 1


async def test_malformed_rest_requests_get_binance_errors(sim: SimServer) -> None:
    async with aiohttp.ClientSession() as http:
        cases = [
            ("GET", "/api/v3/depth?symbol=BTCUSDT&limit=abc", None, {}, 400, -1100),
            ("GET", "/api/v3/depth", None, {}, 400, -1102),
            ("GET", "/api/v3/depth?symbol=NOPE", None, {}, 400, -1121),
            ("POST", "/api/v3/order", "garbage=%%%&&=", {}, 401, -2014),
            ("POST", "/api/v3/order", "symbol=BTCUSDT", {"X-MBX-APIKEY": "nope"}, 401, -2015),
            ("POST", "/api/v3/order", "symbol=BTCUSDT&timestamp=1",
             {"X-MBX-APIKEY": sim.api_key}, 400, -1102),  # no signature
            ("GET", "/api/v3/account?timestamp=1&signature=00", None, {"X-MBX-APIKEY": sim.api_key}, 400, -1022),
            ("GET", "/api/v3/nothing", None, {}, 404, -1000),
            ("POST", "/api/v3/order", b"symbol=\xff\xfe", {}, 400, -1100),
        ]
        for method, path, body, headers, status, code in cases:
            async with http.request(method, f"{sim.url}{path}", data=body, headers=headers) as resp:
                payload = json.loads(await resp.text())
                assert (resp.status, payload["code"]) == (status, code), (path, payload)
                assert isinstance(payload["msg"], str)
        async with http.get(f"{sim.url}/api/v3/ping") as resp:  # still serving
            assert resp.status == 200 and "X-MBX-USED-WEIGHT-1M" in resp.headers


async def test_malformed_websocket_messages_get_error_replies(sim: SimServer) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{sim.ws_url}/0") as ws:
        for bad in ["not json", "[1,2]", json.dumps({"method": "SUBSCRIBE", "params": "x", "id": 1}),
                    json.dumps({"method": "SUBSCRIBE", "params": ["nope@depth"], "id": 2}),
                    json.dumps({"method": "FLY", "id": 3})]:
            await ws.send_str(bad)
            reply = json.loads((await ws.receive(timeout=WAIT)).data)
            assert "error" in reply, bad
        await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 4}))
        await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 5}))
        acks = [json.loads((await ws.receive(timeout=WAIT)).data) for _ in range(2)]
        assert {"result": None, "id": 4} in acks and {"result": None, "id": 5} in acks
    async with aiohttp.ClientSession() as http, http.ws_connect(sim.ws_api_url) as ws:
        for bad in ["{", json.dumps({"id": "a", "method": "nope", "params": {}}),
                    json.dumps({"id": "b", "method": "userDataStream.subscribe.signature",
                                "params": {"apiKey": sim.api_key, "timestamp": 1, "signature": "00"}})]:
            await ws.send_str(bad)
            reply = json.loads((await ws.receive(timeout=WAIT)).data)
            assert reply["status"] >= 400 and "code" in reply["error"], bad
        await ws.send_str(json.dumps({"id": "c", "method": "ping"}))
        assert json.loads((await ws.receive(timeout=WAIT)).data)["status"] == 200


async def test_random_gaps_and_socket_drops_from_rates(sim: SimServer) -> None:
    sim.set_faults(gap_probability=0.5)
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{sim.ws_url}/0") as ws:
        await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms"], "id": 1}))
        assert json.loads((await ws.receive(timeout=WAIT)).data) == {"result": None, "id": 1}
        diffs = [json.loads((await ws.receive(timeout=WAIT)).data) for _ in range(20)]
        jumps = [b["U"] - a["u"] for a, b in itertools.pairwise(diffs)]
        assert all(j >= 1 for j in jumps) and any(j > 1 for j in jumps)
        sim.set_faults(gap_probability=0.0, drop_sockets_rate=1000.0)
        async with asyncio.timeout(WAIT):
            while (await ws.receive()).type not in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                pass
    sim.set_faults(drop_sockets_rate=0.0)
