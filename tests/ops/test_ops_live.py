"""The ops server of a real run against the in-process simulated exchange: metrics agree with the logs,
readiness follows the feed, status shows the bot's quotes, POST /kill trips the kill switch."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from bot.cli import main
from tests.live.conftest import SYMBOL, fast_sim, started
from tests.ops.live_helpers import LiveRun, get_json, overrides, scrape, until

BTC = (("symbol", SYMBOL),)


async def test_metrics_show_the_inventory_the_logs_show(tmp_path: Path) -> None:
    """Several times during a run: stop the market, let the last fills land, wait for the next periodic
    ``inventory`` event, scrape; the scraped inventory equals the logged one. Most takers sell, so the
    bot accumulates a position and the comparison is not of zeros only."""
    sim = await started(fast_sim(seed=3, sell_fraction=0.8))
    samples: list[tuple[float, float]] = []
    try:
        run = LiveRun(overrides(sim, tmp_path, risk={"stale_after": 30.0, "stale_kill_after": 120.0}), 60.0)
        await until(lambda: run.service.ops.server is not None, what="the ops server")
        async with aiohttp.ClientSession() as session:
            for _ in range(3):
                await until(lambda: len(run.events("fill")) > 2 * len(samples) + 2, what="fills")
                sim.paused = True  # no takers, no book changes: the position stops moving
                await asyncio.sleep(1.5)  # > reconcile_interval: fills reported late have landed
                seen = len(run.events("inventory"))
                await until(lambda seen=seen: len(run.events("inventory")) > seen, what="a periodic inventory")
                metrics = await scrape(session, run.url)
                logged = run.events("inventory")[-1]
                samples.append((metrics[("mmbot_inventory", BTC)], logged["q"]))
                fills_logged = len(run.events("fill"))
                fills_scraped = sum(v for (name, _), v in metrics.items() if name == "mmbot_fills_total")
                assert fills_scraped == fills_logged
                assert metrics[("mmbot_pnl_total", BTC)] == pytest.approx(logged["total_pnl"], abs=5e-5)  # logged: 4 dp
                placed = metrics[("mmbot_orders_total", (("action", "placed"), ("symbol", SYMBOL)))]
                assert placed == len(run.events("order_placed"))
                assert 0 < metrics[("mmbot_reaction_seconds_count", ())] <= placed + len(run.events("order_canceled"))
                sim.paused = False
        run.service.request_stop("test")
        summary = await run.task
    finally:
        await sim.stop()
    for scraped, logged in samples:
        assert scraped == pytest.approx(logged, abs=1e-12)
    assert any(abs(logged) > 0 for _, logged in samples), samples
    assert summary.symbols[0].fills >= 6


async def test_readiness_follows_a_frozen_feed_and_status_shows_the_quotes(tmp_path: Path) -> None:
    sim = await started(fast_sim(seed=5))
    try:
        run = LiveRun(overrides(sim, tmp_path, risk={"stale_after": 1.0, "stale_kill_after": 120.0}), 60.0)
        await until(lambda: run.service.ops.server is not None, what="the ops server")
        async with aiohttp.ClientSession() as session:

            async def ready() -> int:
                return (await get_json(session, run.url + "/readyz"))[0]

            await until(_is(ready, 200), what="ready")
            status, body = await get_json(session, run.url + "/readyz")
            assert status == 200 and body["ready"] is True and body["reason"].startswith("feed fresh")

            # the bot's quotes: status and metrics give the same last decision, around the mid
            await until(lambda: run.events("order_placed") != [], what="orders")
            _, doc = await get_json(session, run.url + "/status")
            metrics = await scrape(session, run.url)
            btc = doc["symbols"][SYMBOL]
            assert doc["killed"] is False and doc["venue"] == "sim"
            assert btc["bid"] is not None and btc["ask"] is not None
            assert btc["bid"] < btc["ask"]  # skew may put both on one side of the mid, but near it
            assert abs(0.5 * (btc["bid"] + btc["ask"]) - btc["mid"]) < 1.0
            assert btc["bid"] == metrics[("mmbot_quote_bid", BTC)]
            assert btc["ask"] == metrics[("mmbot_quote_ask", BTC)]
            assert btc["limit"] == 0.05 and btc["feed_age"] < 1.0

            # freeze the feed through the simulator's admin API: not ready, then ready again
            async with session.post(sim.url + "/admin/faults", json={"frozen": True}) as response:
                assert response.status == 200
            await until(_is(ready, 503), what="503 after the freeze")
            status, body = await get_json(session, run.url + "/readyz")
            assert status == 503 and body["ready"] is False
            assert body["reason"].startswith(f"feed stale: {SYMBOL} book ")

            async def withdrawn() -> bool:  # the quoter's watchdog notices within one tick (stale_after / 4)
                quotes = (await get_json(session, run.url + "/status"))[1]["symbols"][SYMBOL]
                return quotes["bid"] is None and quotes["ask"] is None

            await until(withdrawn, what="status: no quotes while the feed is stale")
            async with session.post(sim.url + "/admin/faults", json={"frozen": False}) as response:
                assert response.status == 200
            await until(_is(ready, 200), what="200 after the thaw")
            metrics = await scrape(session, run.url)
            assert metrics[("mmbot_feed_age_seconds", BTC)] < 1.0
            assert metrics[("mmbot_killed", ())] == 0

            # dropped sockets: the streams come back and the reconnects are counted
            before = metrics.get(("mmbot_reconnects_total", BTC), 0.0)
            sim.set_faults(drop_now=True)

            async def reconnected() -> bool:
                return (await scrape(session, run.url)).get(("mmbot_reconnects_total", BTC), 0.0) > before

            await until(reconnected, what="reconnects counted")
            await until(_is(ready, 200), what="ready after the reconnect")
        run.service.request_stop("test")
        summary = await run.task
    finally:
        await sim.stop()
    assert summary.kill_reason is None and summary.open_orders_left == 0


def _is(ready: Callable[[], Awaitable[int]], code: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await ready() == code

    return check


async def test_post_kill_trips_the_kill_switch(tmp_path: Path) -> None:
    """Without ops.token the run generates one into <state_dir>/ops-token (0600): a loopback POST without it is
    refused (401), with it the kill trips; the file is gone after the run and the token never reached the log."""
    sim = await started(fast_sim(seed=9))
    try:
        run = LiveRun(overrides(sim, tmp_path), 60.0)
        await until(lambda: run.events("order_placed") != [], what="orders")
        url = run.url
        token_file = run.service.ops.token_file
        assert token_file == tmp_path / "var" / "ops-token" and token_file.stat().st_mode & 0o777 == 0o600
        token = token_file.read_text().strip()
        async with aiohttp.ClientSession() as session:
            async with session.post(url + "/kill", json={}) as response:
                assert response.status == 401
            assert not run.service.kill.tripped
            async with session.post(url + "/kill", json={}, headers={"Authorization": f"Bearer {token}"}) as response:
                assert response.status == 200 and (await response.json())["killed"] is True
            status, body = await get_json(session, url + "/readyz")
            assert status == 503 and body["reason"] == "killed: manual: POST /kill"
            metrics = await scrape(session, url)
            assert metrics[("mmbot_killed", ())] == 1
        summary = await run.task
    finally:
        await sim.stop()
    assert summary.kill_reason == "manual: POST /kill" and summary.open_orders_left == 0
    assert run.service.ops.server is None  # stopped at shutdown
    assert [e["reason"] for e in run.events("kill_switch")] == ["manual: POST /kill"]
    assert not token_file.exists() and token not in run.stream.getvalue()


async def test_a_web_page_cannot_kill_a_running_bot_and_the_token_can(tmp_path: Path) -> None:
    """A browser's simple cross-origin POST (text/plain, foreign Origin) and a POST without the configured
    token are refused and logged once each without the token; the kill is not tripped. The token kills."""
    token = "live-ops-token-5d1c"
    sim = await started(fast_sim(seed=9))
    try:
        run = LiveRun(overrides(sim, tmp_path, ops={"port": 0, "token": token}), 60.0)
        await until(lambda: run.events("order_placed") != [], what="orders")
        url = run.url
        async with aiohttp.ClientSession() as session:
            page = {"Origin": "http://evil.example", "Content-Type": "text/plain"}
            async with session.post(url + "/kill", data="x", headers=page) as response:
                assert response.status == 403
                assert token not in await response.text()
            async with session.post(url + "/kill", json={}) as response:
                assert response.status == 401
            assert run.service.kill.reason is None
            status, _ = await get_json(session, url + "/readyz")
            assert status == 200
            auth = {"Authorization": f"Bearer {token}"}
            async with session.post(url + "/kill", json={}, headers=auth) as response:
                assert response.status == 200
        summary = await run.task
    finally:
        await sim.stop()
    assert summary.kill_reason == "manual: POST /kill"
    refused = run.events("ops_refused")
    assert [(e["reason"], e["status"]) for e in refused] == [("origin", 403), ("token", 401)]
    assert token not in run.stream.getvalue()


def test_a_taken_ops_port_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("MMBOT_OPS__PORT", str(port))
        monkeypatch.setenv("MMBOT_RISK__STATE_DIR", str(tmp_path))
        assert main(["run", "--duration", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"mmbot: cannot serve the ops endpoint on 127.0.0.1:{port}: address already in use")
    assert "ops.port" in err and "Traceback" not in err


def test_serving_beyond_loopback_without_a_token_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("MMBOT_OPS__HOST", "0.0.0.0")
    monkeypatch.setenv("MMBOT_OPS__PORT", "0")
    monkeypatch.setenv("MMBOT_RISK__STATE_DIR", str(tmp_path))
    monkeypatch.delenv("MMBOT_OPS__TOKEN", raising=False)
    assert main(["run", "--duration", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("mmbot: ops.host = 0.0.0.0 serves the ops endpoint beyond loopback")
    assert "ops.token" in err and "Traceback" not in err


async def test_ops_disabled_serves_nothing(tmp_path: Path) -> None:
    sim = await started(fast_sim(seed=2))
    try:
        run = LiveRun(overrides(sim, tmp_path, ops={"enabled": False}), 1.5)
        summary = await run.task
    finally:
        await sim.stop()
    assert summary.open_orders_left == 0
    assert run.service.ops.server is None and run.events("ops_started") == []
    assert run.events("started") and not run.events("task_failed")
