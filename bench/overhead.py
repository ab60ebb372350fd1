"""3 + 6. CPU overhead of the running bot against a bare ccxt loop, and its resident size over time.

The simulated exchange (this process) runs BTC/USDT with fast book changes (a step every 5 ms, every
step changes the book) and normal takers. Two children consume the same depth stream at the same time:
the bot (``bench.botproc``: all of its feeds, user stream, quoting, orders, logging) and a bare ccxt
``watch_order_book`` loop (``bench.bareloop``). Over one common window after a warm-up the benchmark
reads each child's CPU seconds (``/proc`` via psutil) and counts the depth diffs the sim published for
the symbol; CPU per depth message of each, and their ratio, are the overhead figures. Neither carries a
per-book probe (the bot runs with ``--no-book-probe``: only its order requests are counted), so the ratio
compares the two programs, not their instrumentation. The sim runs on CPU 0; the bot and the bare loop each
get a CPU of their own and swap CPUs at half time, so each spends half the window next to the sim. (Until
session 4 both shared CPU 1: the ratio then came out 1.13 or 1.31-1.36 from run to run, by which of the two
the scheduler ran first on the shared core.) The window is also read in ``SLICES`` parts, one ratio each.

Memory: the bot's RSS is sampled every ``rss_every`` seconds from its first quote to the end of the run.
The memory figure is the least-squares slope (KiB/min) over a window of ``BENCH_MEMORY_S`` seconds
(default 180) that starts ``BENCH_MEMORY_WARMUP_S`` seconds (default 240) after the first quote, by
when the bot's bounded structures (ccxt's 200-entry caches, the 200 latest done orders, the 200 kept
trade ids) have filled at this benchmark's order and fill rates; SQLite's page cache (256 KiB) may
still be filling. The lengths and caps of everything that could grow (``bench.botproc.container_sizes``)
are read once after the CPU window (what that reading allocates once stays out of the window) and
again at the start and the end of the window, and the table names the capped ones still filling. The
slope over the CPU window (the first minute, mostly warm-up) is kept as a secondary figure.

The bot sends its orders as configured by default (``venue.order_entry = "auto"``: the WebSocket API on
the sim), or as ``BENCH_ORDER_ENTRY`` says (``rest``, ``websocket``); the result names the entry it used.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import QUICK, Child, cpu_seconds, one_symbol, pin, sim_settings, slope, unpin, wait_until
from bot.sim.server import start_sim

SLICES = 6  # parts of the CPU window with a ratio each (the table shows their range beside the whole)


def _entry_used(log: Path) -> str | None:
    """The order entry the bot says it uses (its ``started`` event), if the log has it."""
    for line in log.read_text(errors="replace").splitlines():
        if '"started"' in line:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "started":
                return event.get("order_entry")  # type: ignore[no-any-return]
    return None


def _memory_window() -> tuple[float, float]:
    """(warm-up after the first quote, window) of the memory figure, seconds."""
    warmup = float(os.environ.get("BENCH_MEMORY_WARMUP_S") or (3.0 if QUICK else 240.0))
    window = float(os.environ.get("BENCH_MEMORY_S") or (5.0 if QUICK else 180.0))
    return warmup, window


async def _sample_rss(ps: Any, every: float, t_out: list[float], rss_out: list[float]) -> None:
    """Append (monotonic time, RSS KiB) of ``ps`` every ``every`` seconds until cancelled."""
    while True:
        t_out.append(time.monotonic())
        rss_out.append(ps.memory_info().rss / 1024.0)
        await asyncio.sleep(every)


async def _sizes(bot: Child, path: Path) -> dict[str, Any] | None:
    """The bot's container sizes (``sizes`` command), None when it does not answer within 5 s; the memory
    window starts after and ends before a reading, so what one allocates is not measured as growth."""
    await bot.send(f"sizes {path}")
    for _ in range(250):
        if path.exists():  # noqa: ASYNC240 (a small local file, between measurements)
            return json.loads(path.read_text())  # type: ignore[no-any-return]  # noqa: ASYNC240
        await asyncio.sleep(0.02)
    return None


async def run(window: float | None = None, warmup: float | None = None, rss_every: float = 1.0) -> dict[str, Any]:
    window = window or (5.0 if QUICK else 60.0)
    warmup = warmup or (3.0 if QUICK else 10.0)
    mem_warmup, mem_window = _memory_window()
    order_entry = os.environ.get("BENCH_ORDER_ENTRY") or "auto"  # auto: the product's default
    settings = sim_settings(step_interval=0.005, symbols=one_symbol(refresh_rate=20.0, levels=10))
    tmp = Path(tempfile.mkdtemp(prefix="bench-overhead-"))
    sim = await start_sim(settings)
    published = {"n": 0}
    publish = sim.market_hub.publish

    def counting_publish(channel: str, text: str) -> None:
        if channel == "BTCUSDT:depth":
            published["n"] += 1
        publish(channel, text)

    sim.market_hub.publish = counting_publish  # type: ignore[method-assign]
    (tmp / "settings.json").write_text(json.dumps({
        "venue": {"kind": "sim", "url": sim.url, "symbols": ["BTC/USDT"], "order_entry": order_entry},
        "logging": {"level": "info", "format": "json"},
    }))
    module = os.environ.get("BENCH_BOT_MODULE", "bench.botproc")
    bot = await Child.start(module, [str(tmp / "settings.json"), str(tmp / "bot.json"), "--no-book-probe"],
                            tmp / "bot.log", tmp)
    bare = await Child.start("bench.bareloop", [sim.url, "BTC/USDT", str(tmp / "bare.json")], tmp / "bare.log", tmp)
    # the sim on CPU 0; the bot and the bare loop each on its own CPU, swapped at half time (below)
    pin(0, {0})
    pin(bot.proc.pid, {1})
    pin(bare.proc.pid, {0})
    account = sim.exchange.ledger.accounts["user1"]
    sampler: asyncio.Task[None] | None = None
    try:
        await wait_until(
            lambda: sim.exchange.open_orders(account) or bot.proc.returncode is not None, 30.0, "the bot to quote"
        )
        if bot.proc.returncode is not None:
            raise RuntimeError("bot exited:\n" + bot.tail())
        quoted = time.monotonic()
        rss_t: list[float] = []
        rss: list[float] = []
        sampler = asyncio.create_task(_sample_rss(bot.ps, rss_every, rss_t, rss))  # until the memory window ends
        await asyncio.sleep(warmup)
        await bot.send("mark")
        n0, t0 = published["n"], time.monotonic()
        cpu_bot0, cpu_bare0 = cpu_seconds(bot.ps), cpu_seconds(bare.ps)
        sim_cpu0 = time.process_time()
        # the same window read in SLICES parts too: one ratio per part, for the spread within the run. At half
        # time the two swap CPUs, so each spends half the window next to the sim and half on a CPU of its own
        marks = [(cpu_bot0, cpu_bare0)]
        for k in range(1, SLICES + 1):
            await asyncio.sleep(max(0.0, t0 + window * k / SLICES - time.monotonic()))
            marks.append((cpu_seconds(bot.ps), cpu_seconds(bare.ps)))
            if k == SLICES // 2:
                pin(bot.proc.pid, {0})
                pin(bare.proc.pid, {1})
        cpu_bot1, cpu_bare1 = marks[-1]
        n1, t1 = published["n"], time.monotonic()
        sim_cpu1 = time.process_time()
        bare_rss = bare.ps.memory_info().rss / 1024.0
        await bot.send(f"dump {tmp / 'bot_cpu.json'}")  # the probes' samples over the CPU window
        # a first reading well before the window: what reading the sizes allocates once is not in the window
        await _sizes(bot, tmp / "sizes_warmup.json")
        await asyncio.sleep(max(0.0, quoted + mem_warmup - time.monotonic()))
        sizes0 = await _sizes(bot, tmp / "sizes0.json")
        m0 = time.monotonic()
        await asyncio.sleep(max(0.0, m0 + mem_window - time.monotonic()))
        m1 = time.monotonic()
        sizes1 = await _sizes(bot, tmp / "sizes1.json")
    finally:
        if sampler is not None:
            sampler.cancel()
        unpin(0)
        code = await bot.stop()
        await bare.stop()
        await sim.stop()
    if code != 0:
        raise RuntimeError(f"bot exited {code}:\n" + bot.tail())
    res = json.loads((tmp / "bot_cpu.json").read_text())
    at_stop = json.loads((tmp / "bot.json").read_text()).get("sizes")
    bare_res = json.loads((tmp / "bare.json").read_text())
    msgs = max(1, n1 - n0)
    bot_us = (cpu_bot1 - cpu_bot0) / msgs * 1e6
    bare_us = (cpu_bare1 - cpu_bare0) / msgs * 1e6
    ts = [t - quoted for t in rss_t]
    cpu_idx = [i for i, t in enumerate(rss_t) if t0 <= t <= t1]
    mem_idx = [i for i, t in enumerate(rss_t) if m0 <= t <= m1]
    cpu_t, cpu_rss = [ts[i] for i in cpu_idx], [rss[i] for i in cpu_idx]
    mem_t, mem_rss = [ts[i] for i in mem_idx], [rss[i] for i in mem_idx]
    half = len(mem_t) // 2
    return {
        "order_entry": _entry_used(tmp / "bot.log") or order_entry,
        "window_s": round(t1 - t0, 3),
        "depth_msgs": msgs,
        "depth_msgs_per_s": msgs / (t1 - t0),
        "bot_cpu_us_per_msg": bot_us,
        "bare_cpu_us_per_msg": bare_us,
        "ratio": bot_us / bare_us if bare_us > 0 else float("inf"),
        "slice_ratios": [(b1 - b0) / (r1 - r0) if r1 > r0 else float("inf")
                         for (b0, r0), (b1, r1) in itertools.pairwise(marks)],
        "bare_books_handed": bare_res["books"],
        "bot_order_requests": res["requests"],
        "sim_cpu_fraction": (sim_cpu1 - sim_cpu0) / (t1 - t0),
        # memory: times are seconds since the bot's first quote
        "memory_warmup_s": round(m0 - quoted, 1),
        "memory_window_s": round(m1 - m0, 1),
        "rss_kib_start": mem_rss[0],
        "rss_kib_end": mem_rss[-1],
        "rss_kib_max": max(rss),
        "rss_slope_kib_per_min": slope(mem_t, mem_rss) * 60.0,
        "rss_slope_second_half_kib_per_min": slope(mem_t[half:], mem_rss[half:]) * 60.0,
        "rss_slope_cpu_window_kib_per_min": slope(cpu_t, cpu_rss) * 60.0,
        "rss_series": [[round(t, 1), v] for t, v in zip(ts, rss, strict=True)],
        "rss_samples": len(mem_rss),
        "bot_container_sizes_window_start": sizes0,
        "bot_container_sizes_window_end": sizes1,
        "bot_container_sizes": at_stop,
        "bare_rss_kib": bare_rss,
    }
