"""1 + 2. Reaction latency: wire-to-wire (sim side) and bot-internal (bot side), from the same reactions.

The simulated exchange runs in this process with a still market (no volatility, takers or refreshes) and
its clock paused; the bot runs as a child process (``bench.botproc``) quoting BTC/USDT 50 ticks either
side of the mid with ``requote_ticks = 2``. Each round the benchmark moves the mid 10 ticks (alternately up
and down), lets the engine re-place the background, and publishes the depth diff, stamping
``perf_counter_ns`` just before the publish. Stamps on the sim side (same process, same clock):

- ``wire_to_wire``: publish -> the sim's handler (REST endpoint or WebSocket API trading request) starts on
  the bot's first resulting request (the first thing every handler does is ask the fault injector whether
  to fail; that call is wrapped here).
- ``to_engine``: publish -> that request reaches the matching engine (``place_order``/``cancel_order``),
  i.e. plus the sim's own parsing, signature check and rate accounting.

The bot's probes give ``bot_internal``: book handed to the bot by ccxt -> order request handed to ccxt.
Where ``perf_counter`` is CLOCK_MONOTONIC (system-wide on Linux) the two processes' stamps are also
paired to split each reaction into legs: ``sim_to_bot`` (publish -> ccxt hands the book to the bot: the
sim's send, loopback, ccxt's frame decoding and book update) and ``bot_to_sim`` (order handed to ccxt ->
the sim's handler: ccxt's rate limiter, signing, the HTTP request or WebSocket frame, loopback, aiohttp's
parsing).
Socket stamps in both processes (:class:`bench.common.SocketStamps`) split those legs further, each a p50 over
the paired reactions: ``sim_send`` (publish -> the sim's socket write: encoding, compression, its writer
task), ``wire_in`` (that write -> the bot's socket read: loopback and the bot's wake-up), ``ccxt_in`` (read ->
book handed to the bot), then ``bot_internal``, ``ccxt_out`` (order handed to ccxt -> the bot's socket write of
the request: ccxt's order building and signing, the HTTP request or WebSocket frame), ``wire_out`` (that write ->
the sim's socket read: loopback and the sim's wake-up) and ``sim_parse`` (that read -> the handler starts:
aiohttp's HTTP or WebSocket parsing and dispatch in the sim).

Each order entry (``venue.order_entry``: REST, the WebSocket API) is measured in its own run; the sim's
handler is the REST endpoint or the WebSocket API's trading request, both of which start by asking the fault
injector, where the stamp is taken.
The round ends when no request has arrived for ``settle`` seconds and the bot rests two orders again.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    QUICK,
    REPO,
    Child,
    SocketStamps,
    dist,
    free_port,
    one_symbol,
    pin,
    sim_settings,
    unpin,
    wait_until,
)
from bench.sseclient import Pages
from bot.sim.server import start_sim

#: the order entries measured (``venue.order_entry``), each in its own run of ``rounds`` reactions
ENTRIES = ("rest", "websocket")
#: the blocks of a run with console pages (:func:`plan`): without and with the pages open
NONE, PAGES = "none", "pages"
#: the legs of one reaction in order, as (name, start stamp, end stamp); they add up to wire-to-wire
LEGS = (("sim_send", "send", "write"), ("wire_in", "write", "read"), ("ccxt_in", "read", "book"),
        ("bot_internal", "book", "request"), ("ccxt_out", "request", "write_out"), ("wire_out", "write_out", "data"),
        ("sim_parse", "data", "http"))


def legs(windows: list[tuple[int, int, int, int]], bot: dict[str, Any]) -> dict[str, Any]:
    """Split each reaction into sim -> bot (publish -> ccxt hands the book over) and bot -> sim (order handed
    to ccxt -> the sim's handler starts), and both further by the socket stamps (``split_us``: p50 of each of
    :data:`LEGS`), pairing the bot's stamps with the sim's by time. ``windows``: (publish, the sim's first
    socket write after it, the sim's socket read of the request, handler start) per reaction. Only valid
    where ``perf_counter`` is the system-wide CLOCK_MONOTONIC in both processes (Linux)."""
    here = time.get_clock_info("perf_counter").implementation
    if "CLOCK_MONOTONIC" not in here or bot.get("clock") != here:
        return {"legs": f"not comparable across processes here ({here})"}
    books = np.asarray(bot["book_abs_ns"], dtype=np.int64)
    reqs = np.asarray(bot["request_abs_ns"], dtype=np.int64)
    reads = np.asarray(bot.get("read_abs_ns") or [0] * reqs.size, dtype=np.int64)
    writes = np.asarray(bot.get("write_abs_ns") or [0] * reqs.size, dtype=np.int64)
    inbound, outbound = [], []
    split: dict[str, list[int]] = {name: [] for name, _, _ in LEGS}
    for t_send, t_write, t_data, t_http in windows:
        i = int(np.searchsorted(reqs, t_send))
        if i < reqs.size and t_send <= books[i] <= reqs[i] <= t_http:
            inbound.append(books[i] - t_send)
            outbound.append(t_http - reqs[i])
            at = {"send": t_send, "write": t_write, "read": int(reads[i]), "book": int(books[i]),
                  "request": int(reqs[i]), "write_out": int(writes[i]), "data": t_data, "http": t_http}
            # every stamp present and in order, else the pairing is off for this one (a read of another socket)
            if all(at[a] and at[b] and at[a] <= at[b] for _, a, b in LEGS):
                for name, a, b in LEGS:
                    split[name].append(at[b] - at[a])
    return {"sim_to_bot_ms": dist(inbound, 1e-6), "bot_to_sim_ms": dist(outbound, 1e-6),
            "split_us": {name: dist(v, 1e-3) for name, v in split.items()}}


async def run(rounds: int | None = None, settle: float = 0.015, extra_args: tuple[str, ...] = (),
              entries: tuple[str, ...] = ENTRIES) -> dict[str, Any]:
    """One measurement per order entry (``venue.order_entry``), then the host floor."""
    result: dict[str, Any] = {}
    for entry in entries:
        result[entry] = await measure(entry, rounds or (100 if QUICK else 1000), settle, extra_args)
    result["host_jitter_us"] = await host_jitter(reps=100 if QUICK else 500)
    return result


async def measure(entry: str, rounds: int, settle: float = 0.015, extra_args: tuple[str, ...] = (),
                  console_pages: int = 0, blocks: int = 0) -> dict[str, Any]:
    """One run of ``rounds`` reactions over ``entry``. With ``console_pages``: in ``blocks`` blocks (:func:`plan`),
    half of them with that many console streams open (:class:`bench.sseclient.Pages`, another process), and the
    figures of each kind of block (``by_pages``)."""
    # installed before any connection is made: a transport binds its read callback when it is created
    stamps = SocketStamps().install()
    try:
        return await _measure(stamps, rounds, settle, extra_args, entry, console_pages, blocks)
    finally:
        stamps.uninstall()


def plan(rounds: int, blocks: int) -> list[tuple[str, int]]:
    """``(label, rounds)`` per block: one block of :data:`NONE` without ``blocks``, else ``blocks`` blocks (a
    multiple of 4) in the order none, pages, pages, none, ... so a drift over the run weighs on both alike."""
    if not blocks:
        return [(NONE, rounds)]
    pattern = (NONE, PAGES, PAGES, NONE)
    return [(pattern[i % 4], rounds // blocks) for i in range(blocks)]


def by_label(blocks: list[int], spans: list[tuple[str, int, int]], w2w: list[int],
             bot: dict[str, Any]) -> dict[str, Any]:
    """Wire-to-wire and bot-internal of the blocks of each label (``blocks``: each w2w sample's index in
    ``spans``), and each block's wire-to-wire p50/p99 (the spread between blocks of one kind is the noise to
    judge a difference by). A bot sample belongs to the block its book arrived in (the bot's ``perf_counter_ns``
    against the sim's: comparable only where both are the system-wide CLOCK_MONOTONIC, else bot-internal is not
    split)."""
    here = time.get_clock_info("perf_counter").implementation
    comparable = "CLOCK_MONOTONIC" in here and bot.get("clock") == here
    out: dict[str, Any] = {}
    for label in (NONE, PAGES):
        mine = [i for i, (name, _, _) in enumerate(spans) if name == label]
        internal = [ns for ns, at in zip(bot["internal_ns"], bot["book_abs_ns"], strict=True)
                    if any(spans[i][1] <= at <= spans[i][2] for i in mine)]
        per_block = [dist([w for w, b in zip(w2w, blocks, strict=True) if b == i], 1e-6) for i in mine]
        out[label] = {"wire_to_wire_ms": dist([w for w, b in zip(w2w, blocks, strict=True) if b in mine], 1e-6),
                      "bot_internal_us": dist(internal, 1e-3) if comparable else None, "blocks": len(mine),
                      "block_w2w_ms": [[d["p50"], d["p99"]] for d in per_block]}
    return out


async def host_jitter(gap: float = 0.045, reps: int = 500, cpu: int = 1) -> dict[str, Any]:
    """``bench.jitter`` on the bot's core after the bot has gone: the host's own spread for a fixed piece of
    Python after the same idle gap as the reactions (``p99_over_p50`` is the ratio to compare with)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.jitter", str(gap), str(reps), str(cpu), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, cwd=str(REPO),
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:  # a side figure: the reaction's own figures stand without it
        return {"error": f"bench.jitter exited {proc.returncode}: {err.decode(errors='replace')[-300:]}"}
    d = dist(json.loads(out))
    return {**d, "p99_over_p50": d["p99"] / d["p50"], "gap_s": gap}


async def _nudge(sym: Any, done: Any, every: float = 0.2) -> None:
    """Move ``sym``'s mid one tick up and back down every ``every`` s until ``done()`` (the sim's own loop
    steps the engine and publishes the diffs)."""
    direction = 1
    while not done():
        sym.market.mid += direction
        direction = -direction
        await asyncio.sleep(every)


async def _measure(stamps: SocketStamps, rounds: int, settle: float, extra_args: tuple[str, ...],
                   entry: str, console_pages: int = 0, blocks: int = 0) -> dict[str, Any]:
    settings = sim_settings(
        step_interval=0.05,
        symbols=one_symbol(volatility=0.0, taker_rate=0.0, refresh_rate=0.0, levels=5),
    )
    tmp = Path(tempfile.mkdtemp(prefix="bench-reaction-"))
    sim = await start_sim(settings)
    state: dict[str, Any] = {"armed": False, "http": 0, "data": 0, "last_req": 0.0, "t_send": 0}
    w2w: list[int] = []
    windows: list[tuple[int, int, int, int]] = []  # (publish, its socket write, request read, handler) each
    to_engine: list[int] = []
    faults = sim.faults
    http_status = faults.http_status

    def stamped_http_status() -> Any:
        state["http"] = time.perf_counter_ns()
        state["data"] = stamps.last_read  # the request's bytes (the bot sends nothing else meanwhile)
        return http_status()

    faults.http_status = stamped_http_status  # type: ignore[method-assign]
    engine = sim.exchange
    place, cancel = engine.place_order, engine.cancel_order

    def on_order() -> None:
        now = time.perf_counter_ns()
        state["last_req"] = time.monotonic()
        if state["armed"]:
            state["armed"] = False
            w2w.append(state["http"] - state["t_send"])
            windows.append((state["t_send"], stamps.first_write, state["data"], state["http"]))
            to_engine.append(now - state["t_send"])

    def placed(*a: Any, **k: Any) -> Any:
        on_order()
        return place(*a, **k)

    def canceled(*a: Any, **k: Any) -> Any:
        on_order()
        return cancel(*a, **k)

    engine.place_order, engine.cancel_order = placed, canceled  # type: ignore[method-assign]
    account = engine.ledger.accounts["user1"]
    sym = engine.by_name["BTC/USDT"]

    def resting() -> int:
        return len(engine.open_orders(account, sym.id))

    ops_port = free_port()  # the console pages' address (the bot's ops server is on as live)
    (tmp / "settings.json").write_text(json.dumps({
        "venue": {"kind": "sim", "url": sim.url, "symbols": ["BTC/USDT"], "order_entry": entry},
        "logging": {"level": "info", "format": "json", "inventory_interval": 5.0},
        "strategy": {"model": "linear", "half_spread": 0.5, "use_estimators": False},
        "execution": {"order_size": 0.001, "requote_ticks": 2, "orders_per_second": 10000.0,
                      "max_order_age": 3600.0, "reconcile_interval": 5.0},
        "risk": {"stale_after": 30.0},
        "ops": {"port": ops_port},
    }))
    args = [str(tmp / "settings.json"), str(tmp / "bot.json"), "--socket-stamps", *extra_args]
    bot = await Child.start(os.environ.get("BENCH_BOT_MODULE", "bench.botproc"), args, tmp / "bot.log", tmp)
    pin(0, {0})
    pin(bot.proc.pid, {1})
    missed = 0
    labels: list[int] = []  # per reaction measured (as w2w): its block's index
    spans: list[tuple[str, int, int]] = []  # per block: its label, first publish and end (perf_counter_ns)
    pages: Pages | None = None

    async def quiet(seconds: float) -> None:
        await wait_until(lambda: time.monotonic() - state["last_req"] > seconds, 10.0, "a quiet bot")

    try:
        if console_pages:  # connected only for their blocks
            pages = await Pages.start(f"http://127.0.0.1:{ops_port}/console/stream", console_pages, tmp)
        # the still market publishes nothing by itself, and the bot quotes only once a streamed update
        # arrives (a subscription's snapshot alone is not fresh data): move the mid a tick to and fro
        nudger = asyncio.create_task(_nudge(sym, lambda: resting() == 2 or bot.proc.returncode is not None))
        await wait_until(lambda: resting() == 2 or bot.proc.returncode is not None, 30.0, "the bot to quote")
        nudger.cancel()
        if bot.proc.returncode is not None:
            raise RuntimeError("bot exited:\n" + bot.tail())
        await quiet(0.3)
        sim.paused = True
        sim.publish_market()  # flush the bot's own order changes while nobody is measuring
        await quiet(0.2)
        await bot.send("mark")
        direction = 1
        for label, n in plan(rounds, blocks if pages is not None else 0):
            if pages is not None:  # switched between blocks, outside the measured rounds
                await (pages.open() if label == PAGES else pages.close())
                await quiet(0.3)
            first = time.perf_counter_ns()
            for _ in range(n):
                sym.market.mid += 10 * direction
                direction = -direction
                engine.step(settings.step_interval, sim.now_ms())
                state["armed"] = True
                stamps.arm()
                state["t_send"] = time.perf_counter_ns()
                sim.publish_market()
                try:
                    await wait_until(lambda: not state["armed"], 2.0, "a reaction", every=0.0005)
                except TimeoutError:
                    state["armed"] = False
                    missed += 1
                    continue
                labels.append(len(spans))
                await wait_until(
                    lambda: time.monotonic() - state["last_req"] > settle and resting() == 2, 5.0,
                    "the bot to settle", every=0.002,
                )
            spans.append((label, first, time.perf_counter_ns()))
        sim.paused = False
    finally:
        unpin(0)
        counts = await pages.stop() if pages is not None else None
        code = await bot.stop()
        await sim.stop()
    if code != 0:
        raise RuntimeError(f"bot exited {code}:\n" + bot.tail())
    res = json.loads((tmp / "bot.json").read_text())
    return {
        **legs(windows, res),
        "rounds": rounds,
        "missed": missed,
        **({} if pages is None else {"console_pages": console_pages, "pages": counts,
                                     "by_pages": by_label(labels, spans, w2w, res)}),
        "wire_to_wire_ms": dist(w2w, 1e-6),
        "to_engine_ms": dist(to_engine, 1e-6),
        "bot_internal_us": dist(res["internal_ns"], 1e-3),
        "book_to_cycle_us": dist(res["to_cycle_ns"], 1e-3),
        "clock": "wire_to_wire/to_engine: perf_counter_ns in the sim process; bot_internal: perf_counter_ns in the bot",
    }
