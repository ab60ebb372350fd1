"""The console over a real run against the in-process simulated exchange: the stream's history and frames, pause
and resume confirmed at the venue, the explorer equal to ``mmbot quote``, a page that never reads."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.cli import main
from tests.live.conftest import SYMBOL, fast_sim, started, venue_view
from tests.ops.live_helpers import LiveRun, overrides, until
from tests.ops.test_console import read_event


def auth(run: LiveRun) -> dict[str, str]:
    assert run.service.ops.token_file is not None
    return {"Authorization": f"Bearer {run.service.ops.token_file.read_text().strip()}"}


async def test_the_stream_shows_the_bot_and_pause_resume_act_at_the_venue(tmp_path: Path) -> None:
    sim = await started(fast_sim(seed=21))
    try:
        run = LiveRun(overrides(sim, tmp_path, ops={"port": 0, "console_interval": 0.2}), 90.0)
        await until(lambda: len(run.events("fill")) >= 1, 30.0, "a fill")
        console = run.service.ops.console
        assert console is not None
        await until(lambda: len(console.history.columns.get(SYMBOL, {}).get("t", ())) >= 4, 10.0, "a history")
        async with aiohttp.ClientSession() as session, session.get(run.url + "/console/stream") as stream:
            event, hello = await read_event(stream)
            assert event == "hello" and [s["symbol"] for s in hello["symbols"]] == [SYMBOL]
            assert hello["symbols"][0]["tick"] == 0.01 and hello["symbols"][0]["strategy"]["model"] == "linear"
            history = hello["history"][SYMBOL]
            assert len(history["t"]) >= 2 and any(m is not None for m in history["mid"])
            fill_ids = {e["trade_id"] for e in run.events("fill")}
            assert fill_ids & {f["id"] for f in hello["fills"][SYMBOL]}  # fills booked so far are in the window
            event, frame = await read_event(stream)
            assert event == "frame"
            sym = frame["symbols"][SYMBOL]
            assert sym["limit"] == 0.05 and sym["paused"] is False and frame["killed"] is False
            for order in sym["orders"]:  # the distance from mid in ticks and bps, as shown
                assert order["ticks"] == round(abs(order["price"] - sym["mid"]) / 0.01, 1)

            async with session.post(run.url + "/pause", json={}, headers=auth(run)) as response:
                assert response.status == 200 and (await response.json())["paused"] == [SYMBOL]

            async def none_open() -> bool:
                return (await venue_view(sim))[0] == []

            await until(none_open, 15.0, "the venue shows no open order of ours after pause")
            await asyncio.sleep(1.5)  # the quoter's watchdog runs many times: the operator's pause holds
            assert (await venue_view(sim))[0] == [] and run.service.runs[0].gate.held
            while True:  # the frames say so
                event, frame = await read_event(stream)
                if event == "frame" and frame["symbols"][SYMBOL]["orders"] == []:
                    assert frame["symbols"][SYMBOL]["paused"] is True
                    assert frame["symbols"][SYMBOL]["pauses"] == {"manual": "operator: POST /pause"}
                    break
            async with session.post(run.url + "/resume", json={"symbol": SYMBOL}, headers=auth(run)) as response:
                assert response.status == 200 and (await response.json())["paused"] == []

            async def quoting_again() -> bool:
                return len((await venue_view(sim))[0]) >= 1

            await until(quoting_again, 15.0, "orders at the venue after resume")
        assert not run.service.kill.tripped
        assert [e["symbols"] for e in run.events("operator_pause")] == [[SYMBOL]]
        run.service.request_stop("test")
        await run.task
    finally:
        await sim.stop()


async def test_pause_needs_the_token_and_an_unknown_symbol_is_404(tmp_path: Path) -> None:
    sim = await started(fast_sim(seed=22))
    try:
        run = LiveRun(overrides(sim, tmp_path), 60.0)
        await until(lambda: run.events("order_placed") != [], 30.0, "orders")
        token = auth(run)["Authorization"].removeprefix("Bearer ")
        assert run.announced == [f"console at {run.url}/console#token={token}"]  # once quoting began
        assert token not in run.stream.getvalue()
        async with aiohttp.ClientSession() as session:
            async with session.post(run.url + "/pause", json={}) as response:
                assert response.status == 401
            async with session.post(run.url + "/pause", json={}, headers={"Authorization": "Bearer nope"}) as response:
                assert response.status == 401
            headers = {**auth(run), "Origin": "http://evil.example"}
            async with session.post(run.url + "/pause", json={}, headers=headers) as response:
                assert response.status == 403
            async with session.post(run.url + "/pause", json={"symbol": "DOGE/USDT"}, headers=auth(run)) as response:
                assert response.status == 404
            async with session.post(run.url + "/pause", data="{", headers={**auth(run), "Content-Type":
                                                                            "application/json"}) as response:
                assert response.status == 400
        assert not run.service.runs[0].gate.held and len((await venue_view(sim))[0]) >= 1
        run.service.request_stop("test")
        await run.task
    finally:
        await sim.stop()


async def test_the_explorer_answers_what_mmbot_quote_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sim = await started(fast_sim(seed=23))
    try:
        run = LiveRun(overrides(sim, tmp_path), 60.0)
        await until(lambda: run.events("quote") != [], 30.0, "a quote")
        answers: list[dict[str, Any]] = []
        async with aiohttp.ClientSession() as session:
            for query in ({"q": "0.03", "half_spread": "0.07"}, {"q": "-0.05", "model": "glft", "gamma": "0.01"},
                          {"q": "0.01", "model": "as", "sigma": "0.5", "horizon": "30", "limit": "0.02"}):
                params = {"symbol": SYMBOL, **query}
                async with session.get(run.url + "/console/explore", params=params) as response:
                    assert response.status == 200, await response.text()
                    answers.append(await response.json())
            async with session.get(run.url + "/console/explore", params={"symbol": SYMBOL, "gamma": "-1"}) as r:
                assert r.status == 400 and "gamma" in (await r.json())["error"]
        run.service.request_stop("test")
        await run.task
    finally:
        await sim.stop()
    capsys.readouterr()
    for answer in answers:
        argv = answer["argv"]
        assert argv[:2] == ["mmbot", "quote"] and answer["command"] == " ".join(argv)
        for key, value in answer["inputs"].items():  # the command carries the values the answer used
            flag = {"limit": "--limit", "order_size": "--size"}.get(key, "--" + key.replace("_", "-"))
            if value is not None and flag in argv:
                given = argv[argv.index(flag) + 1]
                assert given == value if isinstance(value, str) else float(given) == value, (flag, given, value)
        assert main(argv[1:]) == 0
        assert json.loads(capsys.readouterr().out) == answer["quote"]
    assert answers[0]["inputs"]["q"] == 0.03 and answers[0]["inputs"]["half_spread"] == 0.07
    assert answers[1]["inputs"]["model"] == "glft" and answers[2]["inputs"]["limit"] == 0.02
    sold_out = answers[1]["quote"]  # q = -limit: no room to sell, so no ask
    assert sold_out["ask"] is None and sold_out["ask_reason"] == "position limit" and sold_out["bid_size"] == 0.002


async def test_a_page_that_never_reads_does_not_stop_the_quoter(tmp_path: Path) -> None:
    sim = await started(fast_sim(seed=24))
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        run = LiveRun(overrides(sim, tmp_path, ops={"port": 0, "console_interval": 0.1}), 60.0)
        await until(lambda: run.events("order_placed") != [], 30.0, "orders")
        host, port = run.url.removeprefix("http://").split(":")
        await asyncio.get_running_loop().sock_connect(stalled, (host, int(port)))
        stalled.sendall(f"GET /console/stream HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        console = run.service.ops.console
        assert console is not None
        await until(lambda: len(console.broadcast.clients) == 1, 10.0, "the page joined")
        placed, frames = len(run.events("order_placed")), console.frames
        await until(lambda: len(run.events("order_placed")) >= placed + 10, 30.0, "quoting goes on")
        assert console.frames > frames
        assert all(c.queue.qsize() <= c.queue.maxsize for c in console.broadcast.clients)
        run.service.request_stop("test")
        summary = await run.task
    finally:
        stalled.close()
        await sim.stop()
    assert summary.open_orders_left == 0 and summary.kill_reason is None
