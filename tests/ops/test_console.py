"""The console's feed and routes (bot/ops/console.py) over a fake bot: history, fan-out that never waits, a stalled
page, the page's headers and assets, the explorer's answers."""

from __future__ import annotations

import asyncio
import json
import math
import socket
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import UserError
from bot.ops.console import Broadcast, Client, Console, FillTape, History, percentiles, sse


def frame(t: float, mid: float = 100.0, fills: list[dict[str, Any]] | None = None, pad: str = "") -> dict[str, Any]:
    return {"t": t, "pad": pad, "symbols": {"SOL/USDT": {
        "mid": mid, "reservation": mid - 0.01, "bid": mid - 0.05, "ask": mid + 0.05, "best_bid": mid - 0.01,
        "best_ask": mid + 0.01, "q": 1.5, "fills": fills or [],
        "pnl": {"total_pnl": 1.0, "spread_captured": 2.0, "skew_cost": 0.5, "inventory_pnl": -0.5, "fees": 0.5}}}}


# -- history ------------------------------------------------------------------------------------


def test_history_keeps_the_window_at_one_point_per_step_and_the_fills_inside_it() -> None:
    history = History(window=10.0, step=1.0)
    for i in range(40):  # 4 frames a second for 10 s
        t = 1000.0 + i * 0.25
        history.add(frame(t, mid=100.0 + i, fills=[{"t": t, "id": str(i)}] if i % 10 == 0 else None))
    columns, fills = history.document()
    cols = columns["SOL/USDT"]
    assert cols["t"] == [1000.0 + k for k in range(10)]  # one point a second, the window 1000..1009.75
    assert cols["mid"] == [100.0 + 4 * k for k in range(10)]
    assert cols["total_pnl"] == [1.0] * 10 and len({len(v) for v in cols.values()}) == 1
    assert [f["id"] for f in fills["SOL/USDT"]] == ["0", "10", "20", "30"]
    history.add(frame(1015.0))  # 5 s later: points and fills older than 1005 are gone
    columns, fills = history.document()
    assert columns["SOL/USDT"]["t"] == [1005.0, 1006.0, 1007.0, 1008.0, 1009.0, 1015.0]
    assert [f["id"] for f in fills["SOL/USDT"]] == ["20", "30"]  # 20 at 1005.0: on the edge, kept


def test_fill_tape_gives_each_fill_once() -> None:
    tape = FillTape(keep=3)
    for i in range(5):
        tape.add({"id": str(i)})
    assert [f["id"] for f in tape.since(0)] == ["2", "3", "4"]  # the oldest pushed out
    seen = tape.seq
    tape.add({"id": "5"})
    assert [f["id"] for f in tape.since(seen)] == ["5"] and tape.since(tape.seq) == []


@given(st.lists(st.floats(0, 1, allow_nan=False), max_size=200))
def test_percentiles_are_the_nearest_rank(samples: list[float]) -> None:
    p50, p99 = percentiles(samples)
    if not samples:
        assert p50 is None and p99 is None
        return
    expected = np.percentile(samples, [50, 99], method="inverted_cdf")
    assert (p50, p99) == (float(expected[0]), float(expected[1]))


# -- fan-out ------------------------------------------------------------------------------------


def test_a_full_page_is_marked_lagging_and_its_queue_stays_bounded() -> None:
    client = Client(depth=3)
    for i in range(10):
        client.offer(str(i).encode())  # never waits
    assert client.lagged and client.queue.qsize() <= 3 and client.dropped > 0
    assert client.queue.get_nowait() is not None


def test_broadcast_refuses_pages_beyond_its_limit() -> None:
    broadcast = Broadcast(max_clients=2)
    a, b = broadcast.join(), broadcast.join()
    assert a is not None and b is not None and broadcast.join() is None
    broadcast.leave(a)
    assert broadcast.join() is not None


# -- the routes, served -------------------------------------------------------------------------


class FakeBot:
    def __init__(self, pad: str = "") -> None:
        self.t = 1000.0
        self.pad = pad
        self.explored: list[dict[str, str]] = []

    def frame(self) -> dict[str, Any]:
        self.t += 0.5
        return frame(self.t, pad=self.pad)

    def describe(self) -> dict[str, Any]:
        return {"venue": "sim", "exchange": "binance", "symbols": [{"symbol": "SOL/USDT", "tick": 0.01}]}

    def explore(self, symbol: str, query: dict[str, str]) -> dict[str, Any]:
        if symbol != "SOL/USDT":
            raise KeyError(symbol)
        if query.get("q") == "x":
            raise UserError("q: not a number: 'x'")
        self.explored.append(query)
        return {"symbol": symbol, "quote": {"bid": 99.95}}


async def serve(console: Console) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_routes(console.routes())
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def read_event(response: aiohttp.ClientResponse) -> tuple[str, Any]:
    event, data = "", ""
    while True:
        line = (await response.content.readline()).decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[len("event: "):]
        elif line.startswith("data: "):
            data = line[len("data: "):]
        elif line == "" and event:
            return event, json.loads(data)


async def test_a_page_gets_the_history_then_frames(tmp_path: Path) -> None:
    bot = FakeBot()
    console = Console(bot.frame, bot.describe, bot.explore, interval=0.5, window=60.0)
    for _ in range(4):
        console.tick()
    runner, url = await serve(console)
    try:
        async with aiohttp.ClientSession() as session, session.get(url + "/console/stream") as response:
            assert response.headers["Content-Type"] == "text/event-stream"
            event, hello = await read_event(response)
            assert event == "hello" and hello["venue"] == "sim" and hello["window"] == 60.0
            assert hello["history"]["SOL/USDT"]["t"] == [1000.5, 1001.0, 1001.5, 1002.0]
            assert hello["frame"]["t"] == 1002.0
            console.tick()
            event, body = await read_event(response)
            assert event == "frame" and body["t"] == 1002.5 and body["symbols"]["SOL/USDT"]["mid"] == 100.0
            bot.t = 1010.0
            console.close()  # one last frame (the state the bot stopped in), then the stream ends
            event, body = await read_event(response)
            assert event == "frame" and body["t"] == 1010.5
            assert await response.content.read() == b""
    finally:
        await runner.cleanup()


async def test_a_stalled_page_never_holds_the_feed_and_is_closed(tmp_path: Path) -> None:
    """A page that opens the stream and never reads: every tick returns at once (tick() cannot wait), its queue
    stays bounded, a reading page keeps getting every frame, and after ``write_timeout`` the stalled one is
    closed. Frames are padded to 256 KiB so the socket buffers fill in a few ticks."""
    bot = FakeBot(pad="x" * 262_144)
    console = Console(bot.frame, bot.describe, bot.explore, interval=0.5, window=60.0, write_timeout=1.0)
    runner, url = await serve(console)
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        host, port = url.removeprefix("http://").split(":")
        await asyncio.get_running_loop().sock_connect(stalled, (host, int(port)))
        stalled.sendall(f"GET /console/stream HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        async with aiohttp.ClientSession() as session, session.get(url + "/console/stream") as reader:
            assert (await read_event(reader))[0] == "hello"
            for _ in range(100):  # the other page takes each frame
                console.tick()
                event, body = await read_event(reader)
                assert event == "frame" and body["t"] == bot.t
            pages = {id(c): c for c in console.broadcast.clients}
            assert len(pages) in (1, 2)  # the stalled one may already have been closed
            assert all(c.queue.qsize() <= c.queue.maxsize for c in pages.values())
            for _ in range(40):  # the stalled page is closed after write_timeout
                if len(console.broadcast.clients) == 1:
                    break
                console.tick()
                await read_event(reader)
                await asyncio.sleep(0.1)
            assert len(console.broadcast.clients) == 1
    finally:
        stalled.close()
        console.close()
        await runner.cleanup()


async def test_the_page_is_served_under_a_strict_policy_and_assets_stay_inside(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>mmbot</title>")
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "lib.js").write_text("var x = 1;")
    (tmp_path / "secret.py").write_text("TOKEN = 1")
    bot = FakeBot()
    console = Console(bot.frame, bot.describe, bot.explore, assets=tmp_path)
    runner, url = await serve(console)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "/", allow_redirects=False) as response:
                assert response.status == 302 and response.headers["Location"] == "/console"
            async with session.get(url + "/console") as response:
                assert response.status == 200 and "mmbot" in await response.text()
                policy = response.headers["Content-Security-Policy"]
                assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
                assert response.headers["X-Frame-Options"] == "DENY"
            async with session.get(url + "/console/assets/vendor/lib.js") as response:
                assert response.status == 200 and response.content_type == "text/javascript"
            for path in ("/console/assets/secret.py", "/console/assets/%2e%2e/console.py",
                         "/console/assets/..%2fconsole.py", "/console/assets/.hidden.js", "/console/assets/nope.js"):
                async with session.get(url + path) as response:
                    assert response.status == 404, path
    finally:
        await runner.cleanup()


async def test_explore_answers_400_for_a_bad_value_and_404_for_an_unknown_symbol() -> None:
    bot = FakeBot()
    console = Console(bot.frame, bot.describe, bot.explore)
    runner, url = await serve(console)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "/console/explore", params={"symbol": "SOL/USDT", "q": "0.5"}) as r:
                assert r.status == 200 and (await r.json())["quote"]["bid"] == 99.95
            async with session.get(url + "/console/explore", params={"symbol": "SOL/USDT", "q": "x"}) as r:
                assert r.status == 400 and (await r.json())["error"] == "q: not a number: 'x'"
            async with session.get(url + "/console/explore", params={"symbol": "DOGE/USDT"}) as r:
                assert r.status == 404
    finally:
        await runner.cleanup()
    assert bot.explored == [{"symbol": "SOL/USDT", "q": "0.5"}]


def test_a_hello_before_the_first_sample_takes_no_frame_from_the_feed() -> None:
    """``frame()`` hands over the fills since the previous call: only the sampler may call it, or fills would
    miss the history."""
    bot = FakeBot()
    console = Console(bot.frame, bot.describe, bot.explore)
    hello = json.loads(console.hello().decode().split("data: ", 1)[1])
    assert hello["frame"] is None and bot.t == 1000.0  # frame() not called
    console.tick()
    assert json.loads(console.hello().decode().split("data: ", 1)[1])["frame"]["t"] == 1000.5


def test_sse_frames_one_event() -> None:
    assert sse("frame", '{"t":1}') == b'event: frame\ndata: {"t":1}\n\n'


@pytest.mark.parametrize("value", [math.inf, math.nan])
def test_frames_carry_no_non_finite_numbers(value: float) -> None:
    from bot.ops.console import to_json

    assert json.loads(to_json({"a": [value, 1.0]})) == {"a": [None, 1.0]}
