"""The sim's REST API refuses a web page (DNS rebinding: a foreign Host -> 421; a foreign Origin on a
state-changing request -> 403) before anything runs; ccxt (loopback Host, no Origin) and loopback names are
served."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp
import ccxt
import pytest

from bot.sim.auth import sign
from bot.sim.rest import request_refusal
from bot.sim.server import SimServer

EVIL_HOST = "evil.example"
EVIL = "http://evil.example"
ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001",
         "price": "20000"}


def reason(method: str, host: str | None, origin: str | None, bind: str = "127.0.0.1") -> str | None:
    why = request_refusal(method, host, origin, bind)
    return None if why is None else why.reason


def test_host_must_be_the_sims_address_or_a_loopback_name_on_every_method() -> None:
    for method in ("GET", "POST", "DELETE", "HEAD"):
        for host in ("evil.example", "evil.example:8765", "", None, "10.0.0.5:8765", "127.0.0.1:x"):
            assert reason(method, host, None) == "host", (method, host)
        for host in ("127.0.0.1:8765", "localhost:8765", "LOCALHOST", "[::1]:8765"):
            assert reason(method, host, None) is None, (method, host)
    why = request_refusal("GET", EVIL_HOST, None, "127.0.0.1")
    assert why is not None and why.status == 421
    assert reason("POST", "10.0.0.5:8765", None, bind="10.0.0.5") is None


def test_foreign_origin_is_refused_on_state_changing_methods_only() -> None:
    for method in ("POST", "DELETE", "PUT"):
        for origin in (EVIL, "null", "", "http://127.0.0.1.evil.example"):
            assert reason(method, "127.0.0.1:8765", origin) == "origin", (method, origin)
        for origin in ("http://127.0.0.1:3000", "http://localhost", "https://[::1]:8080"):
            assert reason(method, "127.0.0.1:8765", origin) is None, (method, origin)
    why = request_refusal("POST", "127.0.0.1:8765", EVIL, "127.0.0.1")
    assert why is not None and why.status == 403
    assert reason("GET", "127.0.0.1:8765", EVIL) is None  # a read is no change; CORS keeps the answer from the page


def test_a_sim_on_every_interface_takes_any_host_but_still_no_foreign_origin() -> None:
    for bind in ("0.0.0.0", "::"):
        assert reason("POST", "exchange-sim:8765", None, bind) is None  # docker-compose's bot
        assert reason("GET", EVIL_HOST, None, bind) is None
        assert reason("POST", "exchange-sim:8765", EVIL, bind) == "origin"


def _signed(sim: SimServer, params: dict[str, str]) -> str:
    query = urlencode({**params, "timestamp": str(int(time.time() * 1000))})
    return f"{query}&signature={sign(sim.api_secret, query)}"


async def _call(sim: SimServer, method: str, path: str, params: dict[str, str], headers: dict[str, str]
                ) -> tuple[int, Any]:
    url = f"{sim.url}/api/v3/{path}?{_signed(sim, params)}"
    async with aiohttp.ClientSession() as http, http.request(
        method, url, headers={"X-MBX-APIKEY": sim.api_key, **headers}
    ) as resp:
        return resp.status, json.loads(await resp.text())


def _open_orders(sim: SimServer) -> int:
    return len(sim.exchange.open_orders(sim.exchange.ledger.by_key[sim.api_key]))


async def test_a_foreign_host_is_refused_before_anything_runs(sim: SimServer) -> None:
    status, body = await _call(sim, "GET", "account", {}, {"Host": f"{EVIL_HOST}:{sim.port}"})
    assert (status, body["code"]) == (421, -1002)
    assert "balances" not in body
    status, body = await _call(sim, "POST", "order", ORDER, {"Host": EVIL_HOST})
    assert (status, body["code"]) == (421, -1002)
    assert _open_orders(sim) == 0
    assert sim.limiter.used("127.0.0.1", sim.now()) == 0  # refused before any weight is charged


async def test_a_foreign_origin_cannot_place_an_order(sim: SimServer) -> None:
    for origin in (EVIL, "null"):
        status, body = await _call(sim, "POST", "order", ORDER, {"Origin": origin})
        assert (status, body["code"]) == (403, -1002)
    assert _open_orders(sim) == 0


@pytest.mark.parametrize("headers", [{}, {"Host": "localhost"}, {"Host": "127.0.0.1"}, {"Host": "[::1]:1"},
                                     {"Origin": "http://localhost:3000"}])
async def test_loopback_names_and_pages_are_served(sim: SimServer, headers: dict[str, str]) -> None:
    status, body = await _call(sim, "GET", "account", {}, headers)
    assert status == 200 and "balances" in body
    status, body = await _call(sim, "POST", "order", ORDER, headers)
    assert status == 200 and body["status"] == "NEW"
    assert _open_orders(sim) == 1


def test_ccxt_reads_the_refusal_as_an_authentication_error() -> None:
    """Not retried as a network error: the bot stops with the sim's reason."""
    why = request_refusal("GET", EVIL_HOST, None, "127.0.0.1")
    assert why is not None
    body = json.dumps({"code": -1002, "msg": why.error})
    exchange = ccxt.binance()
    with pytest.raises(ccxt.AuthenticationError, match="Host not allowed"):
        exchange.handle_errors(421, "Misdirected Request", "http://x/api/v3/account", "GET", {}, body,
                               json.loads(body), None, None)
