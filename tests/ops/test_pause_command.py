"""`mmbot pause` / `mmbot resume` against a small ops server behind the real request guard: what is sent, the
token's lookup order, refusals, a missing token and nothing answering, each one line and exit 2."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.cli import main
from bot.ops import Metrics, start_ops_server

TOKEN = "s3cret-token-for-the-test"
SYMBOLS = ("BTC/USDT", "SOL/USDT")


class FakeBot:
    """The console's pause routes: a set of manually paused symbols, 404 for an unknown one."""

    def __init__(self) -> None:
        self.paused: set[str] = set()
        self.requests: list[tuple[str, dict[str, Any], str | None]] = []

    def routes(self) -> list[web.RouteDef]:
        async def handle(request: web.Request) -> web.Response:
            action = request.path.strip("/")
            body = await request.json()
            self.requests.append((action, body, request.headers.get("Authorization")))
            symbol = body.get("symbol")
            if symbol is not None and symbol not in SYMBOLS:
                return web.json_response({"error": f"unknown symbol {symbol!r}"}, status=404)
            chosen = {symbol} if symbol else set(SYMBOLS)
            self.paused = self.paused | chosen if action == "pause" else self.paused - chosen
            return web.json_response({"paused": sorted(self.paused), "note": "quotes withdrawn at the next cycle"})

        return [web.post("/pause", handle), web.post("/resume", handle)]


async def serve(token: SecretStr | None) -> AsyncIterator[tuple[FakeBot, str]]:
    fake = FakeBot()
    server = await start_ops_server(Metrics(), lambda: (True, ""), dict, routes=fake.routes(), token=token)
    try:
        yield fake, server.url
    finally:
        await server.stop()


@pytest.fixture
async def bot() -> AsyncIterator[tuple[FakeBot, str]]:
    """A bot whose guard checks the token."""
    async for served in serve(SecretStr(TOKEN)):
        yield served


@pytest.fixture
async def tokenless_bot() -> AsyncIterator[tuple[FakeBot, str]]:
    """A bot without a token (loopback clients only): its route sees whichever token the command sent."""
    async for served in serve(None):
        yield served


async def mmbot(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return path


async def test_pause_everything_then_resume(bot: tuple[FakeBot, str], token_file: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    fake, url = bot
    assert await mmbot("pause", "--url", url, "--token-file", str(token_file)) == 0
    out = capsys.readouterr().out.splitlines()
    assert fake.requests == [("pause", {}, f"Bearer {TOKEN}")]
    assert out[0] == ("paused BTC/USDT, SOL/USDT: quotes are being withdrawn (the bot keeps managing fills); "
                      "check with mmbot status")
    assert out[-1] == "the bot says: quotes withdrawn at the next cycle"
    assert await mmbot("resume", "--url", url, "--token-file", str(token_file)) == 0
    out = capsys.readouterr().out.splitlines()
    assert fake.requests[-1] == ("resume", {}, f"Bearer {TOKEN}")
    assert out[0].startswith("resumed every symbol: quoting again unless another pause holds")
    assert "under the manual pause now: none" in out


async def test_one_symbol(bot: tuple[FakeBot, str], token_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake, url = bot
    assert await mmbot("pause", "--url", url, "--token-file", str(token_file), "--symbol", "SOL/USDT") == 0
    assert fake.requests[-1][1] == {"symbol": "SOL/USDT"}
    assert capsys.readouterr().out.startswith("paused SOL/USDT: quotes are being withdrawn")
    assert await mmbot("pause", "--url", url, "--token-file", str(token_file), "--symbol", "BTC/USDT") == 0
    assert "under the manual pause now: BTC/USDT, SOL/USDT" in capsys.readouterr().out.splitlines()
    assert await mmbot("resume", "--url", url, "--token-file", str(token_file), "--symbol", "BTC/USDT") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("resumed BTC/USDT: ") and "under the manual pause now: SOL/USDT" in out


async def test_unknown_symbol_is_the_servers_error_and_exit_2(bot: tuple[FakeBot, str], token_file: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    _, url = bot
    assert await mmbot("pause", "--url", url, "--token-file", str(token_file), "--symbol", "DOGE/USDT") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"mmbot: the bot at {url} refused POST /pause: HTTP 404: unknown symbol 'DOGE/USDT'"]


async def test_a_wrong_token_is_refused_and_never_printed(bot: tuple[FakeBot, str], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    fake, url = bot
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-token")
    assert await mmbot("pause", "--url", url, "--token-file", str(wrong)) == 2
    captured = capsys.readouterr()
    assert fake.requests == [], "the guard refused it before the route"
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mmbot: the bot at {url} refused POST /pause: HTTP 401")
    assert "not-the-token" not in captured.err + captured.out


@pytest.mark.parametrize("code", [403, 421])
async def test_other_refusals_are_one_line_with_the_servers_error(code: int, token_file: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    async def refuse(_: web.Request) -> web.Response:
        return web.json_response({"error": "foreign Origin\nrefused"}, status=code)

    server = await start_ops_server(Metrics(), lambda: (True, ""), dict, routes=[web.post("/resume", refuse)],
                                    token=SecretStr(TOKEN))
    try:
        assert await mmbot("resume", "--url", server.url, "--token-file", str(token_file)) == 2
    finally:
        await server.stop()
    assert capsys.readouterr().err.splitlines() == [
        f"mmbot: the bot at {server.url} refused POST /resume: HTTP {code}: foreign Origin refused"]


async def test_the_token_lookup_order(tokenless_bot: tuple[FakeBot, str], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """--token-file, else MMBOT_OPS__TOKEN, else the secret file, else <risk.state_dir>/ops-token."""
    fake, url = tokenless_bot
    state = tmp_path / "state"
    state.mkdir()
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    monkeypatch.setenv("MMBOT_SECRETS_DIR", str(secrets))
    config = tmp_path / "bot.toml"
    config.write_text(f'[risk]\nstate_dir = "{state}"\n')
    monkeypatch.delenv("MMBOT_RISK__STATE_DIR")  # the test environment's; the config names the state dir here
    sources = {"file": tmp_path / "file", "env": "from-env", "secret": secrets / "mmbot_ops__token",
               "generated": state / "ops-token"}
    sources["file"].write_text("from-file")  # type: ignore[union-attr]
    monkeypatch.setenv("MMBOT_OPS__TOKEN", "from-env")
    sources["secret"].write_text("from-secret\n")  # type: ignore[union-attr]
    sources["generated"].write_text("from-generated\n")  # type: ignore[union-attr]

    async def sent(*extra: str) -> str | None:
        assert await mmbot("pause", "--url", url, "--config", str(config), *extra) == 0
        return fake.requests[-1][2]

    assert await sent("--token-file", str(sources["file"])) == "Bearer from-file"
    assert await sent() == "Bearer from-env"
    monkeypatch.delenv("MMBOT_OPS__TOKEN")
    assert await sent() == "Bearer from-secret"
    (secrets / "mmbot_ops__token").unlink()
    assert await sent() == "Bearer from-generated"
    captured = capsys.readouterr()
    assert "from-" not in captured.out + captured.err, "no token is printed"


async def test_the_generated_token_and_the_url_come_from_the_config(
    bot: tuple[FakeBot, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    fake, url = bot
    port = int(url.rsplit(":", 1)[1])
    monkeypatch.delenv("MMBOT_OPS__PORT")  # the test environment's port 0 would override the file's
    monkeypatch.delenv("MMBOT_RISK__STATE_DIR")
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "ops-token").write_text(TOKEN + "\n")
    config = tmp_path / "bot.toml"
    config.write_text(f'[ops]\nhost = "127.0.0.1"\nport = {port}\n\n[risk]\nstate_dir = "{tmp_path / "state"}"\n')
    assert await mmbot("pause", "--config", str(config)) == 0
    assert fake.requests == [("pause", {}, f"Bearer {TOKEN}")]
    assert capsys.readouterr().out.startswith("paused BTC/USDT, SOL/USDT: ")


def test_a_missing_token_says_where_it_looked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pause", "--url", "http://127.0.0.1:9221"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines == [f"mmbot: no ops token: not in MMBOT_OPS__TOKEN, the secret file mmbot_ops__token or "
                     f"{tmp_path / 'var' / 'ops-token'} (the running bot writes it there; pass the --config of "
                     "mmbot run, or --token-file)"]


@pytest.mark.parametrize(("content", "why"), [(None, "no such file"), ("\n", "the file is empty (no ops token)")])
def test_a_bad_token_file_is_one_line(content: str | None, why: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "token"
    if content is not None:
        path.write_text(content)
    assert main(["resume", "--url", "http://127.0.0.1:9221", "--token-file", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [f"mmbot: --token-file {path}: {why}"]


def test_nothing_answering_is_one_line_and_exit_2(token_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    assert main(["pause", "--url", url, "--token-file", str(token_file), "--timeout", "2"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mmbot: no bot answering at {url} (")
    assert TOKEN not in captured.err


async def test_an_answer_without_the_paused_list_is_not_taken_for_success(
    token_file: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    async def other(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    server = await start_ops_server(Metrics(), lambda: (True, ""), dict, routes=[web.post("/pause", other)],
                                    token=SecretStr(TOKEN))
    try:
        assert await mmbot("pause", "--url", server.url, "--token-file", str(token_file)) == 2
    finally:
        await server.stop()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"mmbot: the bot at {server.url} answered POST /pause without the list")


async def test_an_answer_that_does_not_show_what_was_asked_exits_1(
    token_file: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """A bot that answers 200 but does not list the symbol under the manual pause: said as it is, exit 1."""

    async def unchanged(_: web.Request) -> web.Response:
        return web.json_response({"paused": [], "note": ""})

    server = await start_ops_server(Metrics(), lambda: (True, ""), dict, routes=[web.post("/pause", unchanged)],
                                    token=SecretStr(TOKEN))
    try:
        assert await mmbot("pause", "--url", server.url, "--token-file", str(token_file), "--symbol", "BTC/USDT") == 1
    finally:
        await server.stop()
    assert capsys.readouterr().out.splitlines() == [
        "the bot answered pause BTC/USDT but reports under the manual pause: none; check with mmbot status"]


def test_the_port_0_of_a_config_needs_an_url(token_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pause", "--token-file", str(token_file)]) == 2  # the test environment sets ops.port 0
    assert capsys.readouterr().err == "mmbot: ops.port is 0 (the bot took any free port): pass --url http://HOST:PORT\n"



async def test_end_to_end_against_a_running_bot_on_the_sim(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A real run on the sim: `mmbot pause` (the token the run generated into <state_dir>/ops-token, found through
    the environment's risk.state_dir) withdraws the quotes at the venue and `mmbot status` says so; `mmbot resume`
    brings them back."""
    from tests.live.conftest import SYMBOL, fast_sim, started
    from tests.ops.live_helpers import LiveRun, overrides, until

    sim = await started(fast_sim(seed=11))
    try:
        run = LiveRun(overrides(sim, tmp_path), 60.0)
        await until(lambda: run.events("order_placed") != [], what="orders")
        account = sim.exchange.ledger.accounts["user1"]
        market = sim.exchange.by_name[SYMBOL]

        def at_venue() -> int:
            return len(sim.exchange.open_orders(account, market.id))

        assert await mmbot("pause", "--url", run.url) == 0
        assert capsys.readouterr().out.startswith(f"paused {SYMBOL}: quotes are being withdrawn")
        await until(lambda: at_venue() == 0, what="no open order at the venue")
        assert await mmbot("status", "--url", run.url) == 0
        out = capsys.readouterr().out.splitlines()
        assert f"{SYMBOL} paused: manual (operator: POST /pause)" in out

        assert await mmbot("resume", "--url", run.url, "--symbol", SYMBOL) == 0
        assert "under the manual pause now: none" in capsys.readouterr().out.splitlines()
        await until(lambda: at_venue() > 0, what="quotes back at the venue")
        assert await mmbot("status", "--url", run.url) == 0
        assert f"{SYMBOL} quoting" in capsys.readouterr().out.splitlines()
        token = (tmp_path / "var" / "ops-token").read_text().strip()
        run.service.request_stop("test")
        summary = await run.task
    finally:
        await sim.stop()
    assert summary.kill_reason is None
    captured = capsys.readouterr()
    assert token not in captured.out + captured.err


async def test_a_real_mmbot_run_announces_its_token_and_mmbot_pause_finds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """`mmbot run` in its own process (the in-process sim) prints the console's URL with the generated token and
    writes that token to <risk.state_dir>/ops-token; `mmbot pause` and `resume` with no flag find the bot
    (ops.port) and the token from the same settings; the quotes go and come back; the file is gone at the stop."""
    import os
    import signal
    import sys
    import urllib.request

    with socket.socket() as probe:  # a free port (the run and the commands read it from the same settings)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MMBOT_OPS__PORT", str(port))
    log = (tmp_path / "run.log").open("wb")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", "--duration", "60",
                                                env=dict(os.environ), stdout=log, stderr=asyncio.subprocess.PIPE)
    log.close()
    try:
        assert proc.stderr is not None
        line = (await asyncio.wait_for(proc.stderr.readline(), 60.0)).decode().strip()
        assert line.startswith(f"mmbot: console at http://127.0.0.1:{port}/console#token="), line
        token = line.split("#token=", 1)[1]
        token_file = tmp_path / "var" / "ops-token"
        assert token_file.read_text().strip() == token

        def open_orders() -> int:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=3) as response:
                return int(json.loads(response.read())["symbols"]["BTC/USDT"]["open_orders"])

        async def until(check: Any, what: str) -> None:
            for _ in range(300):
                if await asyncio.to_thread(check):
                    return
                await asyncio.sleep(0.1)
            raise AssertionError(f"gave up waiting: {what}")

        await until(lambda: open_orders() > 0, "the bot to quote")
        assert await mmbot("pause") == 0
        await until(lambda: open_orders() == 0, "the quotes withdrawn")
        assert await mmbot("status") == 0
        assert "BTC/USDT paused: manual (operator: POST /pause)" in capsys.readouterr().out.splitlines()
        assert await mmbot("resume") == 0
        await until(lambda: open_orders() > 0, "the quotes back")
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 60.0) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert not token_file.exists()
    captured = capsys.readouterr()
    assert token not in captured.out + captured.err + (tmp_path / "run.log").read_text()
