"""The simulated perpetual's protocol below ccxt: routes, error bodies, listen keys, faults per market, the
admin endpoint, and a sim without perpetuals."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import ccxt
import pytest

from bot.sim.auth import sign
from bot.sim.perp.ws import LISTEN_KEY_TTL_MS, ListenKeys
from bot.sim.server import SimServer, start_sim
from bot.sim.settings import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimSettings

from . import test_perp_ccxt as base
from .test_perp_ccxt import PERP, WAIT, touch

psim, make_futures, fut = base.psim, base.make_futures, base.fut  # the fixtures, shared


async def _get(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.request(method, url, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


def _signed(sim: SimServer, path: str, **params: Any) -> str:
    query = urlencode({"timestamp": int(time.time() * 1000), **params})
    return f"{sim.url}{path}?{query}&signature={sign(DEFAULT_API_SECRET, query)}"


KEY = {"X-MBX-APIKEY": DEFAULT_API_KEY}


def test_listen_keys_one_live_key_per_account() -> None:
    keys = ListenKeys()
    a = keys.issue("user1", 0)
    assert keys.issue("user1", 1000) == a  # POST again: the same key, extended
    assert keys.issue("user2", 0) != a
    assert keys.account_of(a, 1000 + LISTEN_KEY_TTL_MS) == "user1"
    assert keys.account_of(a, 1001 + LISTEN_KEY_TTL_MS) is None  # expired
    with pytest.raises(Exception, match="listenKey does not exist"):
        keys.extend("user1", a, 1001 + LISTEN_KEY_TTL_MS)
    b = keys.issue("user1", 2 * LISTEN_KEY_TTL_MS)
    assert b != a
    assert keys.extend("user1", None, 2 * LISTEN_KEY_TTL_MS + 5) == b  # PUT extends
    assert keys.account_of(b, 3 * LISTEN_KEY_TTL_MS + 5) == "user1"
    with pytest.raises(Exception, match="listenKey does not exist"):
        keys.extend("user2", b, 0)  # another account's key
    assert keys.close("user1", b) == b
    assert keys.account_of(b, 0) is None and keys.close("user1", b) is None


async def test_error_bodies_are_binance_json(psim: SimServer) -> None:
    status, body = await _get(f"{psim.url}/fapi/v1/depth?symbol=NOPE")
    assert (status, body["code"], body["msg"]) == (400, -1121, "Invalid symbol.")
    status, body = await _get(f"{psim.url}/fapi/v1/nothing")
    assert status == 404 and body["code"] == -1000
    status, body = await _get(f"{psim.url}/fapi/v3/positionRisk")
    assert (status, body["code"]) == (401, -2014)  # no key
    status, body = await _get(f"{psim.url}/fapi/v3/positionRisk?timestamp=1&signature=00", KEY)
    assert (status, body["code"]) == (400, -1022)
    status, body = await _get(_signed(psim, "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="LIMIT",
                                      quantity="0.0105", price="30000", timeInForce="GTC"), KEY, "POST")
    assert (status, body["code"]) == (400, -1111)  # quantity finer than the step
    status, body = await _get(_signed(psim, "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="LIMIT",
                                      quantity="0.01", price="30000.05", timeInForce="GTC"), KEY, "POST")
    assert (status, body["code"]) == (400, -4014)
    status, body = await _get(_signed(psim, "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="STOP",
                                      quantity="0.01"), KEY, "POST")
    assert (status, body["code"]) == (400, -1116)
    status, body = await _get(_signed(psim, "/fapi/v1/order", symbol="BTCUSDT", orderId="999"), KEY)
    assert (status, body["code"], body["msg"]) == (400, -2013, "Order does not exist.")
    status, body = await _get(_signed(psim, "/fapi/v1/positionSide/dual", dualSidePosition="false"), KEY, "POST")
    assert (status, body["code"]) == (400, -4059)


async def test_listen_key_endpoints_need_only_the_key(psim: SimServer) -> None:
    url = f"{psim.url}/fapi/v1/listenKey"
    status, body = await _get(url, None, "POST")
    assert (status, body["code"]) == (401, -2014)
    status, first = await _get(url, KEY, "POST")
    assert status == 200 and len(first["listenKey"]) == 64
    assert (await _get(url, KEY, "POST"))[1] == first
    assert (await _get(url, KEY, "PUT"))[1] == first
    ws = f"ws://127.0.0.1:{psim.port}/fstream/private/ws?listenKey="
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(ws + first["listenKey"]) as conn:
            assert psim.perp is not None and len(psim.perp.user_streams.connections) == 1
            assert (await _get(url, KEY, "DELETE"))[0] == 200  # closing the key closes its streams
            msg = await conn.receive(timeout=WAIT)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(ws + first["listenKey"])
        assert refused.value.status == 400
    status, body = await _get(url, KEY, "PUT")
    assert (status, body["code"]) == (400, -1125)


async def test_subscribe_acks_and_market_paths(psim: SimServer) -> None:
    async with aiohttp.ClientSession() as session:
        for path in ("/fstream/public/ws/0", "/fstream/market/ws/3", "/fstream/ws"):
            async with session.ws_connect(f"ws://127.0.0.1:{psim.port}{path}") as conn:
                await conn.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@markPrice@1s"], "id": 7})
                assert await conn.receive_json(timeout=WAIT) == {"result": None, "id": 7}
                event = await conn.receive_json(timeout=WAIT)
                assert event["e"] == "markPriceUpdate" and event["s"] == "BTCUSDT" and float(event["p"]) > 0
                await conn.send_json({"method": "SUBSCRIBE", "params": ["nope@depth"], "id": 8})
                reply = await conn.receive_json(timeout=WAIT)
                while "id" not in reply:
                    reply = await conn.receive_json(timeout=WAIT)
                assert reply["id"] == 8 and reply["error"]["code"] == 2
        async with session.ws_connect(f"ws://127.0.0.1:{psim.port}/fstream/public/ws/1") as conn:
            await conn.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms"], "id": 1})
            assert await conn.receive_json(timeout=WAIT) == {"result": None, "id": 1}
            diffs = [await conn.receive_json(timeout=WAIT) for _ in range(5)]
    assert all(d["e"] == "depthUpdate" for d in diffs)
    assert all(b["pu"] == a["u"] for a, b in itertools.pairwise(diffs))


async def test_perp_faults_leave_spot_alone_and_spot_faults_leave_the_perp(fut: Any, psim: SimServer) -> None:
    assert psim.perp is not None
    psim.perp.set_faults(http_5xx_fraction=1.0)
    status, _ = await _get(f"{psim.url}/fapi/v1/ping")
    assert status == 503
    assert (await _get(f"{psim.url}/api/v3/ping"))[0] == 200
    psim.perp.set_faults(http_5xx_fraction=0.0, reject_fraction=1.0)
    with pytest.raises(ccxt.InvalidOrder):
        await fut.create_order(PERP, "market", "buy", 0.001)
    psim.perp.set_faults(reject_fraction=0.0, unknown_fate_fraction=1.0)
    with pytest.raises(ccxt.RequestTimeout):  # -1007: executed, fate unknown to the client
        await fut.create_order(PERP, "market", "buy", 0.001)
    psim.perp.set_faults(unknown_fate_fraction=0.0)
    assert len(await fut.fetch_my_trades(PERP)) >= 1  # executed though answered "unknown"
    psim.set_faults(http_5xx_fraction=1.0)
    assert (await _get(f"{psim.url}/api/v3/ping"))[0] == 503
    assert (await _get(f"{psim.url}/fapi/v1/ping"))[0] == 200
    psim.set_faults(http_5xx_fraction=0.0)


async def test_slow_ack_delays_perp_orders(fut: Any, psim: SimServer) -> None:
    assert psim.perp is not None
    bid, _ask = await touch(fut)
    psim.perp.set_faults(slow_ack_ms=400)
    started = time.monotonic()
    await fut.create_order(PERP, "limit", "buy", 0.01, round(bid - 50, 1))
    assert time.monotonic() - started >= 0.4


async def test_admin_state_and_perp_faults(psim: SimServer, fut: Any) -> None:
    await fut.create_order(PERP, "market", "buy", 0.002)
    status, state = await _get(f"{psim.url}/admin/state")
    assert status == 200
    perp = state["perps"]["symbols"][PERP]
    assert perp["spot"] == "BTC/USDT" and float(perp["mark"]) > 0 and perp["next_funding_ms"] > 0
    user = state["perps"]["accounts"]["user1"]
    assert [p["amount"] for p in user["positions"]] == ["0.00200000"] and float(user["wallet"]) < 100000
    url = f"{psim.url}/admin/perp/faults"
    json_headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data='{"position_lag_ms": 250, "gap_next": 1}', headers=json_headers) as r:
            assert r.status == 200 and (await r.json())["perp_faults"]["position_lag_ms"] == 250
        async with session.post(url, data='{"position_lag_ms": -1}', headers=json_headers) as r:
            assert r.status == 400
        async with session.post(url, data='{"basis_shock_bps": "x"}', headers=json_headers) as r:
            assert r.status == 400
        before = psim.perp.engine.basis_bps("BTCUSDT") if psim.perp else 0.0
        async with session.post(url, data='{"basis_shock_bps": 100, "funding_now": true}', headers=json_headers) as r:
            assert r.status == 200
        assert psim.perp is not None and psim.perp.engine.basis_bps("BTCUSDT") > before + 50
    assert psim.perp.faults.gap_next == 1 and psim.perp.perp_faults.position_lag_ms == 250
    history = await fut.fetch_funding_history(PERP)
    assert len(history) == 1


async def test_without_perps_nothing_is_served() -> None:
    sim = await start_sim(SimSettings(step_interval=0.05))
    try:
        assert sim.perp is None and sim.futures_urls is None
        status, body = await _get(f"{sim.url}/fapi/v1/ping")
        assert status == 404 and body["code"] == -1000
        assert (await _get(f"{sim.url}/admin/state"))[1]["perps"] is None
        async with aiohttp.ClientSession() as session, session.post(
            f"{sim.url}/admin/perp/faults", data="{}", headers={"Content-Type": "application/json"}
        ) as r:
            assert r.status == 404
    finally:
        await sim.stop()


async def test_futures_urls(psim: SimServer) -> None:
    urls = psim.futures_urls
    assert urls is not None
    assert urls["rest"] == f"{psim.url}/fapi/v1" and urls["ws"] == f"ws://127.0.0.1:{psim.port}/fstream/ws"


async def test_mmbot_sim_prints_the_futures_urls(tmp_path: Path) -> None:
    config = tmp_path / "sim.toml"
    config.write_text(
        '[sim]\nstep_interval = 0.05\n\n[sim.perps."BTC/USDT:USDT"]\nbase = "BTC"\nquote = "USDT"\n'
        'spot = "BTC/USDT"\nmid = "30000"\n\n[logging]\nformat = "json"\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMBOT_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "sim", "--port", "0", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )
    assert proc.stdout is not None
    events: dict[str, dict[str, Any]] = {}
    try:
        async with asyncio.timeout(20):
            while "sim_account" not in events:
                line = await proc.stdout.readline()
                assert line, "mmbot sim exited early"
                event = json.loads(line)
                events[event["event"]] = event
        futures = events["sim_futures_listening"]
        url = events["sim_listening"]["url"]
        assert futures["rest"] == f"{url}/fapi/v1" and futures["rest_v3"] == f"{url}/fapi/v3"
        assert futures["ws"] == url.replace("http://", "ws://") + "/fstream/ws"
        assert futures["perps"] == ["BTC/USDT:USDT"]
        status, body = await _get(f"{futures['rest']}/exchangeInfo")
        assert status == 200 and [s["symbol"] for s in body["symbols"]] == ["BTCUSDT"]
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            assert await proc.wait() == 0


async def test_rate_limits_count_per_market(psim: SimServer) -> None:
    assert psim.perp is not None
    psim.set_rate_limits(weight_per_minute=3, ban_after=100)
    for _ in range(3):
        assert (await _get(f"{psim.url}/fapi/v1/ping"))[0] == 200
    status, body = await _get(f"{psim.url}/fapi/v1/ping")
    assert (status, body["code"]) == (429, -1003)
    assert (await _get(f"{psim.url}/api/v3/ping"))[0] == 200  # spot's weight is its own


async def test_drop_and_frozen_touch_only_the_perpetual_streams(psim: SimServer) -> None:
    assert psim.perp is not None
    port = psim.port
    async with aiohttp.ClientSession() as session:
        perp_ws = await session.ws_connect(f"ws://127.0.0.1:{port}/fstream/public/ws/0")
        spot_ws = await session.ws_connect(f"ws://127.0.0.1:{port}/stream/ws")
        await perp_ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@bookTicker"], "id": 1})
        await spot_ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms"], "id": 1})
        assert await perp_ws.receive_json(timeout=WAIT) == {"result": None, "id": 1}
        assert await spot_ws.receive_json(timeout=WAIT) == {"result": None, "id": 1}
        psim.perp.set_faults(frozen=True)
        await asyncio.sleep(0.1)
        for _ in range(100):  # drain what was queued before the freeze; then 0.3 s of silence
            try:
                await perp_ws.receive_json(timeout=0.3)
            except TimeoutError:
                break
        else:
            pytest.fail("the frozen perpetual kept streaming")
        assert (await spot_ws.receive_json(timeout=WAIT))["e"] == "depthUpdate"  # spot still streams
        psim.perp.set_faults(frozen=False)
        assert (await perp_ws.receive_json(timeout=WAIT))["e"] == "bookTicker"
        psim.perp.set_faults(drop_now=True)
        msg = await perp_ws.receive(timeout=WAIT)
        while msg.type == aiohttp.WSMsgType.TEXT:
            msg = await perp_ws.receive(timeout=WAIT)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert not spot_ws.closed and (await spot_ws.receive_json(timeout=WAIT))["e"] == "depthUpdate"
        await spot_ws.close()
        await perp_ws.close()


async def test_web_pages_are_refused_on_fapi_and_fstream(psim: SimServer) -> None:
    page = {"Origin": "http://evil.example", **KEY}
    status, body = await _get(_signed(psim, "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="MARKET",
                                      quantity="0.01"), page, "POST")
    assert (status, body["code"]) == (403, -1002)
    status, body = await _get(f"{psim.url}/fapi/v1/ping", {"Host": "evil.example"})
    assert (status, body["code"]) == (421, -1002)
    async with aiohttp.ClientSession() as session:
        for path in ("/fstream/public/ws/0", "/fstream/private/ws?listenKey=x"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(f"ws://127.0.0.1:{psim.port}{path}", headers={"Origin": "http://evil.example"})
            assert refused.value.status == 403
    assert psim.perp is not None and psim.perp.engine.orders == {}


async def test_each_market_has_its_own_clock_offset(psim: SimServer) -> None:
    assert psim.perp is not None
    psim.perp.set_faults(clock_offset_ms=-120_000)  # the perpetual's clock is two minutes behind
    host = int(time.time() * 1000)
    perp_time = (await _get(f"{psim.url}/fapi/v1/time"))[1]["serverTime"]
    spot_time = (await _get(f"{psim.url}/api/v3/time"))[1]["serverTime"]
    assert perp_time < host - 110_000 and abs(spot_time - host) < 10_000
    status, body = await _get(_signed(psim, "/fapi/v1/openOrders", symbol="BTCUSDT"), KEY)
    assert (status, body["code"]) == (400, -1021)  # a host-clock timestamp is ahead of the perpetual's
    assert (await _get(_signed(psim, "/api/v3/openOrders", symbol="BTCUSDT"), KEY))[0] == 200
    psim.perp.set_faults(clock_offset_ms=0)
    psim.set_faults(clock_offset_ms=-120_000)
    assert (await _get(_signed(psim, "/fapi/v1/openOrders", symbol="BTCUSDT"), KEY))[0] == 200
    psim.set_faults(clock_offset_ms=0)


async def test_new_order_reply_ack_by_default_result_on_request(psim: SimServer) -> None:
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.002"}
    status, ack = await _get(_signed(psim, "/fapi/v1/order", **order), KEY, "POST")
    assert status == 200 and (ack["status"], ack["executedQty"]) == ("NEW", "0.00000000")
    status, result = await _get(_signed(psim, "/fapi/v1/order", newOrderRespType="RESULT", **order), KEY, "POST")
    assert status == 200 and (result["status"], result["executedQty"]) == ("FILLED", "0.00200000")
    status, got = await _get(_signed(psim, "/fapi/v1/order", symbol="BTCUSDT", orderId=ack["orderId"]), KEY)
    assert got["status"] == "FILLED" and got["time"] == ack["updateTime"]


async def test_order_parameter_errors(psim: SimServer) -> None:
    base = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.002"}
    for extra, code in (({"positionSide": "UP"}, -4060), ({"reduceOnly": "maybe"}, -4062),
                        ({"newClientOrderId": "x" * 37}, -4015), ({"price": "30000"}, -1106),
                        ({"quantity": "0"}, -4003), ({"side": "HOLD"}, -1117)):
        status, body = await _get(_signed(psim, "/fapi/v1/order", **{**base, **extra}), KEY, "POST")
        assert (status, body["code"]) == (400, code), extra
    status, body = await _get(_signed(psim, "/fapi/v1/marginType", symbol="BTCUSDT", marginType="CROSSED"), KEY,
                              "POST")
    assert (status, body["code"], body["msg"]) == (400, -4046, "No need to change margin type.")
    assert psim.perp is not None and psim.perp.engine.orders == {}


async def test_an_expired_listen_key_ends_its_stream(psim: SimServer) -> None:
    assert psim.perp is not None
    key = (await _get(f"{psim.url}/fapi/v1/listenKey", KEY, "POST"))[1]["listenKey"]
    async with aiohttp.ClientSession() as session, session.ws_connect(
        f"ws://127.0.0.1:{psim.port}/fstream/private/ws?listenKey={key}"
    ) as conn:
        psim.perp.set_faults(clock_offset_ms=LISTEN_KEY_TTL_MS + 1000)  # the perpetual's clock an hour on
        event = await conn.receive_json(timeout=WAIT)
        assert event["e"] == "listenKeyExpired" and event["listenKey"] == key
        msg = await conn.receive(timeout=WAIT)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    status, body = await _get(f"{psim.url}/fapi/v1/listenKey", KEY, "PUT")
    assert (status, body["code"]) == (400, -1125)
    status, fresh = await _get(f"{psim.url}/fapi/v1/listenKey", KEY, "POST")
    assert status == 200 and fresh["listenKey"] != key
