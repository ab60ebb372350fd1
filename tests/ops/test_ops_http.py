"""The ops server over real HTTP on a loopback port: /metrics, /healthz, /readyz, /status."""

from __future__ import annotations

import json
import math
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.ops import Metrics, OpsServer, start_ops_server


class State:
    """What a live service would expose: mutable readiness and a status document."""

    def __init__(self) -> None:
        self.ready: tuple[bool, str] = (True, "feed fresh")
        self.doc: dict[str, Any] = {"killed": False, "symbols": {}}

    def readiness(self) -> tuple[bool, str]:
        return self.ready

    def status(self) -> dict[str, Any]:
        return self.doc


@pytest.fixture
async def served() -> AsyncIterator[tuple[Metrics, State, OpsServer]]:
    metrics, state = Metrics(), State()
    server = await start_ops_server(metrics, state.readiness, state.status)
    try:
        yield metrics, state, server
    finally:
        await server.stop()


async def get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


async def test_binds_loopback_on_a_free_port(served: tuple[Metrics, State, OpsServer]) -> None:
    _, _, server = served
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}"
    status, _, body = await get(server.url + "/healthz")
    assert status == 200
    assert json.loads(body)["alive"] is True


async def test_scrape_shows_values_set_through_metrics(served: tuple[Metrics, State, OpsServer]) -> None:
    metrics, _, server = served
    metrics.on_inventory("BTC/USDT", q=0.04, limit=0.1, pnl_realized=3.0, pnl_unrealized=-1.0, fees=0.5)
    metrics.on_quote("BTC/USDT", bid=29999.5, ask=30000.5, mid=30000.0, reservation=29999.9)
    metrics.on_fill("BTC/USDT", "sell", price=30000.5, amount=0.01, fee=0.3)
    metrics.on_order("BTC/USDT", "placed")
    metrics.set_killed(True)
    metrics.observe_reaction(0.0007)

    status, content_type, text = await get(server.url + "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain")
    got = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    btc = (("symbol", "BTC/USDT"),)
    assert got[("mmbot_inventory", btc)] == 0.04
    assert got[("mmbot_limit_utilization", btc)] == pytest.approx(0.4)
    assert got[("mmbot_pnl_total", btc)] == pytest.approx(1.5)
    assert got[("mmbot_quote_bid", btc)] == 29999.5
    assert got[("mmbot_quoted_spread", btc)] == pytest.approx(1.0)
    assert got[("mmbot_fills_total", (("side", "sell"), ("symbol", "BTC/USDT")))] == 1
    assert got[("mmbot_orders_total", (("action", "placed"), ("symbol", "BTC/USDT")))] == 1
    assert got[("mmbot_killed", ())] == 1
    assert got[("mmbot_reaction_seconds_bucket", (("le", "0.001"),))] == 1
    assert got[("mmbot_reaction_seconds_bucket", (("le", "0.0005"),))] == 0

    metrics.on_inventory("BTC/USDT", q=-0.02, limit=0.1, pnl_realized=3.0, pnl_unrealized=0.0, fees=0.5)
    _, _, text = await get(server.url + "/metrics")
    assert 'mmbot_inventory{symbol="BTC/USDT"} -0.02' in text


async def test_readiness_flips_with_the_callback(served: tuple[Metrics, State, OpsServer]) -> None:
    _, state, server = served
    status, _, body = await get(server.url + "/readyz")
    assert (status, json.loads(body)) == (200, {"ready": True, "reason": "feed fresh"})

    state.ready = (False, "feed stale: BTC/USDT book 12.0s old")
    status, _, body = await get(server.url + "/readyz")
    assert status == 503
    assert json.loads(body) == {"ready": False, "reason": "feed stale: BTC/USDT book 12.0s old"}

    state.ready = (True, "feed fresh")
    status, _, _ = await get(server.url + "/readyz")
    assert status == 200


async def test_status_is_json_with_nan_as_null(served: tuple[Metrics, State, OpsServer]) -> None:
    _, state, server = served
    state.doc = {"killed": True, "kill_reason": "max_loss", "symbols": {"BTC/USDT": {"q": 0.5, "bid": math.nan}}}
    status, content_type, body = await get(server.url + "/status")
    assert status == 200
    assert content_type.startswith("application/json")
    expected = {"killed": True, "kill_reason": "max_loss", "symbols": {"BTC/USDT": {"q": 0.5, "bid": None}}}
    assert json.loads(body) == expected


async def test_failing_callbacks_answer_not_ready_and_500() -> None:
    def broken() -> Any:
        raise RuntimeError("state not built yet")

    server = await start_ops_server(Metrics(), broken, broken)
    try:
        status, _, body = await get(server.url + "/readyz")
        assert status == 503
        assert "state not built yet" in json.loads(body)["reason"]
        status, _, body = await get(server.url + "/status")
        assert status == 500
        assert "state not built yet" in json.loads(body)["error"]
    finally:
        await server.stop()


async def test_async_callbacks_are_awaited() -> None:
    async def readiness() -> tuple[bool, str]:
        return False, "killed: max_drawdown"

    async def status() -> dict[str, Any]:
        return {"killed": True}

    server = await start_ops_server(Metrics(), readiness, status)
    try:
        code, _, body = await get(server.url + "/readyz")
        assert code == 503 and json.loads(body)["reason"] == "killed: max_drawdown"
        code, _, body = await get(server.url + "/status")
        assert json.loads(body) == {"killed": True}
    finally:
        await server.stop()


async def test_taken_port_raises_and_stop_frees_the_port() -> None:
    server = await start_ops_server(Metrics(), lambda: (True, ""), dict)
    with pytest.raises(OSError):
        await start_ops_server(Metrics(), lambda: (True, ""), dict, port=server.port)
    await server.stop()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", server.port)) != 0
