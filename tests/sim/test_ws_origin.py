"""The sim's WebSocket endpoints refuse an upgrade from a web page (foreign Origin or Host) before it happens;
ccxt-like clients (no Origin) and loopback pages are served."""

from __future__ import annotations

import json

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sim.server import SimServer
from bot.sim.ws_market import upgrade_refusal

from .test_ccxt_ws import WAIT

LOCAL = "127.0.0.1:8765"
EVIL = "http://evil.example"


def reason(host: str | None, origin: str | None, bind: str = "127.0.0.1") -> str | None:
    why = upgrade_refusal(host, origin, bind)
    return None if why is None else why.reason


def test_foreign_or_opaque_origin_is_refused() -> None:
    for origin in (EVIL, "https://evil.example:443", "null", "", "http://127.0.0.1.evil.example",
                   "file://", "http://localhost/page", "ws://127.0.0.1:1", "http://[::1"):
        assert reason(LOCAL, origin) == "origin", origin
    why = upgrade_refusal(LOCAL, EVIL, "127.0.0.1")
    assert why is not None and why.status == 403


@given(port=st.one_of(st.none(), st.integers(1, 65535)), name=st.sampled_from(["127.0.0.1", "localhost", "[::1]"]),
       scheme=st.sampled_from(["http", "https"]))
def test_loopback_page_or_no_origin_is_served(port: int | None, name: str, scheme: str) -> None:
    origin = f"{scheme}://{name}" + ("" if port is None else f":{port}")
    assert reason(LOCAL, origin) is None
    assert reason(LOCAL, None) is None


def test_host_must_be_the_sims_address_or_a_loopback_name() -> None:
    for host in ("evil.example", "evil.example:8765", "127.0.0.1:port", "", None, "10.0.0.5:8765"):
        assert reason(host, None) == "host", host
    why = upgrade_refusal("evil.example", None, "127.0.0.1")
    assert why is not None and why.status == 421
    for host in ("127.0.0.1:8765", "localhost:8765", "LOCALHOST", "[::1]:8765"):
        assert reason(host, None) is None, host
    assert reason("10.0.0.5:8765", None, bind="10.0.0.5") is None
    assert reason("[fd00::5]:8765", None, bind="fd00::5") is None


def test_a_sim_on_every_interface_takes_any_host_but_still_no_foreign_origin() -> None:
    for bind in ("0.0.0.0", "::"):
        assert reason("exchange-sim:8765", None, bind) is None  # docker-compose's bot
        assert reason("exchange-sim:8765", EVIL, bind) == "origin"


def _endpoints(sim: SimServer) -> list[str]:
    return [sim.ws_url, f"{sim.ws_url}/btcusdt@trade", f"{sim.url.replace('http', 'ws')}/ws", sim.ws_api_url]


@pytest.mark.parametrize(("headers", "status"), [
    ({"Origin": EVIL}, 403),
    ({"Origin": "null"}, 403),
    ({"Host": "evil.example"}, 421),  # DNS rebinding: the page's own name, resolved to 127.0.0.1
])
async def test_a_web_page_cannot_open_a_sim_websocket(sim: SimServer, headers: dict[str, str], status: int) -> None:
    async with aiohttp.ClientSession() as http:
        for url in _endpoints(sim):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                async with http.ws_connect(url, headers=headers):
                    pass
            assert refused.value.status == status, url
    assert not sim.market_hub.connections and not sim.user_hub.connections


@pytest.mark.parametrize("headers", [{}, {"Origin": "http://127.0.0.1:3000"}, {"Origin": "http://localhost"},
                                     {"Host": "localhost"}])
async def test_clients_without_origin_and_loopback_pages_are_served(sim: SimServer, headers: dict[str, str]) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(sim.ws_url, headers=headers) as ws:
            await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1}))
            assert json.loads((await ws.receive(timeout=WAIT)).data) == {"result": None, "id": 1}
        async with http.ws_connect(sim.ws_api_url, headers=headers) as ws:
            await ws.send_str(json.dumps({"id": "p", "method": "ping"}))
            assert json.loads((await ws.receive(timeout=WAIT)).data)["status"] == 200
