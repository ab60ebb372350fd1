"""The ops server's guard over real HTTP: a web page can neither kill the bot (no CORS-free POST gets
through) nor read it under a foreign host name (DNS rebinding); the token, when configured, is required.

``serve`` passes the new keyword arguments only when a test uses them, so the tests without a token also
run against the server before the guard existed (they failed there: see the issue 17 note).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from bot.cli import main
from bot.errors import UserError
from bot.ops import Metrics, OpsServer, start_ops_server
from bot.ops.http import kill_routes

TOKEN = "s3cret-ops-token-0123456789abcdef"
GET_ROUTES = ("/status", "/metrics", "/healthz", "/readyz")
PAGE = {"Origin": "http://evil.example", "Content-Type": "text/plain"}  # what a browser sends for any page


class Recorder:
    """A logger that keeps every call, to check what was logged."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def __getattr__(self, level: str) -> Any:
        def log(event: str, **fields: Any) -> None:
            self.calls.append((level, event, fields))

        return log


class Served:
    """A running ops server with the kill route; ``kills`` holds the reasons it was tripped with."""

    def __init__(self, server: OpsServer, kills: list[str], log: Recorder) -> None:
        self.server, self.kills, self.log = server, kills, log

    @property
    def url(self) -> str:
        return self.server.url


async def serve(host: str = "127.0.0.1", **guard: Any) -> Served:
    kills: list[str] = []
    log = Recorder()
    if guard:
        guard = {"log": log, **guard}
    server = await start_ops_server(Metrics(), lambda: (True, "feed fresh"),
                                    lambda: {"killed": bool(kills), "symbols": {"BTC/USDT": {"q": 0.5}}},
                                    host, 0, routes=kill_routes(kills.append), **guard)
    return Served(server, kills, log)


@pytest.fixture
async def open_server() -> AsyncIterator[Served]:
    """No token configured (the default)."""
    served = await serve()
    try:
        yield served
    finally:
        await served.server.stop()


@pytest.fixture
async def token_server() -> AsyncIterator[Served]:
    served = await serve(token=SecretStr(TOKEN))
    try:
        yield served
    finally:
        await served.server.stop()


async def post(url: str, headers: dict[str, str] | None = None, data: str | None = None,
               json_body: Any = None) -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.post(
        url, headers=headers, data=data, json=json_body
    ) as response:
        return response.status, await response.text(), dict(response.headers)


async def request(method: str, url: str, headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.request(method, url, headers=headers) as response:
        return response.status, await response.text(), dict(response.headers)


def no_cors_approval(headers: dict[str, str]) -> bool:
    return not any(k.lower().startswith("access-control-allow") for k in headers)


# -- POST /kill from a web page ----------------------------------------------------------------------


async def test_a_browser_simple_cross_origin_post_does_not_kill(open_server: Served) -> None:
    """The curl of the issue: text/plain, a foreign Origin, any body. A browser sends it for any page."""
    status, body, headers = await post(open_server.url + "/kill", headers=PAGE, data="x")
    assert status == 403
    assert body.startswith("{") and "error" in body
    assert open_server.kills == []
    assert no_cors_approval(headers)


async def test_a_foreign_origin_is_refused_with_json_too(open_server: Served) -> None:
    for origin in ("http://evil.example", "null", "http://127.0.0.1.evil.example", "http://localhost.evil.example:9108"):
        status, _, _ = await post(open_server.url + "/kill", headers={"Origin": origin}, json_body={})
        assert status == 403, origin
    assert open_server.kills == []


async def test_without_a_token_only_json_without_a_foreign_origin_kills(open_server: Served) -> None:
    """A form post (curl's default content type) is refused; JSON with no Origin or a loopback one kills."""
    url = open_server.url + "/kill"
    assert (await post(url, data="x"))[0] == 403
    assert (await post(url, headers={"Content-Type": "application/x-www-form-urlencoded"}, data="a=1"))[0] == 403
    assert open_server.kills == []
    port = open_server.server.port
    accepted = [None, f"http://127.0.0.1:{port}", "http://localhost:3000", "http://[::1]:8080"]
    for origin in accepted:
        status, body, _ = await post(url, headers={"Origin": origin} if origin else None, json_body={})
        assert (status, body) == (200, '{"killed": true}'), origin
    assert open_server.kills == ["manual: POST /kill"] * len(accepted)


async def test_an_options_preflight_is_not_approved(open_server: Served) -> None:
    headers = {"Origin": "http://evil.example", "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "content-type, authorization"}
    for path in ("/kill", "/status"):
        status, _, got = await request("OPTIONS", open_server.url + path, headers)
        assert status >= 400 and no_cors_approval(got), path
    for path in GET_ROUTES:
        _, _, got = await request("GET", open_server.url + path, {"Origin": "http://evil.example"})
        assert no_cors_approval(got), path
    assert open_server.kills == []


# -- the token ----------------------------------------------------------------------------------------


async def test_a_configured_token_is_required(token_server: Served) -> None:
    url = token_server.url + "/kill"
    wrong = ["", "Bearer", "Bearer ", f"Basic {TOKEN}", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x",
             f"Bearer {TOKEN[:-1]}{chr(ord(TOKEN[-1]) + 1)}", f"Bearer {TOKEN.upper()}", f"Bearer x{TOKEN}", TOKEN]
    for authorization in wrong:
        status, body, headers = await post(url, headers={"Authorization": authorization} if authorization else None,
                                           json_body={})
        assert status == 401, authorization
        assert headers.get("WWW-Authenticate") == "Bearer" and TOKEN not in body
    assert token_server.kills == []
    for scheme in ("Bearer", "bearer"):
        status, _, _ = await post(url, headers={"Authorization": f"{scheme} {TOKEN}"}, json_body={})
        assert status == 200
    assert token_server.kills == ["manual: POST /kill"] * 2


async def test_a_foreign_origin_is_refused_even_with_the_token(token_server: Served) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    status, body, _ = await post(token_server.url + "/kill", headers={**auth, "Origin": "http://evil.example"},
                                 json_body={})
    assert status == 403 and TOKEN not in body
    status, _, _ = await post(token_server.url + "/kill", headers={**auth, **PAGE}, data="x")
    assert status == 403
    assert token_server.kills == []


async def test_the_token_is_never_in_a_response_or_the_log(token_server: Served) -> None:
    url = token_server.url + "/kill"
    attempts = [
        {"Authorization": f"Bearer {TOKEN}", "Origin": "http://evil.example", "Content-Type": "application/json"},
        {"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/plain"},
        {"Authorization": f"Bearer {TOKEN}x", "Content-Type": "application/json"},
        {"Authorization": f"Bearer {TOKEN}", "Host": "evil.example", "Content-Type": "application/json"},
    ]
    for headers in attempts:
        status, body, got = await post(url, headers=headers, data="{}")
        assert status in (401, 403, 421)
        assert TOKEN not in body and TOKEN not in repr(got)
    assert token_server.kills == []
    logged = token_server.log.calls
    assert [(level, event) for level, event, _ in logged] == [("warning", "ops_refused")] * len(attempts)
    assert sorted(f["reason"] for _, _, f in logged) == ["content_type", "host", "origin", "token"]
    assert TOKEN not in repr(logged)


# -- Host (DNS rebinding) -----------------------------------------------------------------------------


async def test_a_foreign_host_is_refused_on_every_route(open_server: Served) -> None:
    port = open_server.server.port
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.nip.io", "localhostx", ""):
        for path in GET_ROUTES:
            status, body, _ = await request("GET", open_server.url + path, {"Host": host})
            assert status == 421, (host, path)
            assert "BTC/USDT" not in body
        status, _, _ = await post(open_server.url + "/kill", headers={"Host": host}, json_body={})
        assert status == 421, host
    assert open_server.kills == []


async def test_loopback_names_and_the_bound_address_are_served(open_server: Served) -> None:
    port = open_server.server.port
    for host in ("127.0.0.1", f"127.0.0.1:{port}", "localhost", f"LOCALHOST:{port}", "[::1]", f"[::1]:{port}"):
        status, body, _ = await request("GET", open_server.url + "/status", {"Host": host})
        assert status == 200 and "BTC/USDT" in body, host


async def test_allowed_hosts_add_names() -> None:
    served = await serve("127.0.0.1", token=SecretStr(TOKEN), allowed_hosts=["bot", "Mmbot.Internal"])
    try:
        for host in ("bot:9108", "bot", "mmbot.internal"):
            assert (await request("GET", served.url + "/metrics", {"Host": host}))[0] == 200, host
        assert (await request("GET", served.url + "/metrics", {"Host": "bot.evil.example"}))[0] == 421
    finally:
        await served.server.stop()


# -- binding -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.com"])
async def test_binding_beyond_loopback_needs_a_token(host: str) -> None:
    with pytest.raises(UserError) as err:
        await serve(host, token=None)
    assert len(err.value.lines) == 1 and "ops.token" in err.value.lines[0]


async def test_an_empty_token_or_a_bad_allowed_host_is_refused() -> None:
    with pytest.raises(UserError, match=r"ops\.token is empty"):
        await serve(token=SecretStr("  "))
    for bad in ("bot:9108", "http://bot", ""):
        with pytest.raises(UserError, match=r"ops\.allowed_hosts"):
            await serve(allowed_hosts=[bad])


async def test_all_interfaces_with_a_token_serve_loopback_clients() -> None:
    """The container set-up: bound to 0.0.0.0 with a token; Prometheus scrapes by service name."""
    served = await serve("0.0.0.0", token=SecretStr(TOKEN), allowed_hosts=["bot"])
    try:
        assert served.url == f"http://127.0.0.1:{served.server.port}"
        assert (await request("GET", served.url + "/metrics", {"Host": f"bot:{served.server.port}"}))[0] == 200
        assert (await request("GET", served.url + "/status", {"Host": "0.0.0.0"}))[0] == 200
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert (await post(served.url + "/kill", headers=auth, json_body={}))[0] == 200
    finally:
        await served.server.stop()
    assert served.kills == ["manual: POST /kill"]


async def test_mmbot_status_passes_the_guard_and_explains_a_refusal(capsys: pytest.CaptureFixture[str]) -> None:
    """``mmbot status`` reads a token-guarded bot bound to all interfaces; asked under a Host the bot does not
    answer (127.0.0.2 is loopback on Linux, but not an allowed name), it says so in one line, exit 2."""
    served = await serve("0.0.0.0", token=SecretStr(TOKEN))
    try:
        assert await asyncio.to_thread(main, ["status", "--url", served.url]) == 0
        assert "BTC/USDT" in capsys.readouterr().out
        other = f"http://127.0.0.2:{served.server.port}"
        assert await asyncio.to_thread(main, ["status", "--url", other]) == 2
    finally:
        await served.server.stop()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refused GET /status: HTTP 421: Host not allowed" in err, err
