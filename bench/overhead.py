"""3 + 6. CPU overhead of the running bot against a bare ccxt loop, and its resident size over time.

The simulated exchange (this process) runs BTC/USDT with fast book changes (a step every 5 ms, every
step changes the book) and normal takers. Two children consume the same depth stream at the same time:
the bot (``bench.botproc``: all of its feeds, user stream, quoting, orders, logging) and a bare ccxt
``watch_order_book`` loop (``bench.bareloop``). Over one common window after a warm-up the benchmark
reads each child's CPU seconds (``/proc`` via psutil) and counts the depth diffs the sim published for
the symbol; CPU per depth message of each, and their ratio, are the overhead figures. The bot's probes
also give its internal latency (book -> order request) in this busy market. The bot's RSS is
sampled every ``rss_every`` seconds through the window; the least-squares slope (KiB/min) over the
window is the memory figure.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import QUICK, Child, cpu_seconds, dist, one_symbol, pin, sim_settings, slope, unpin, wait_until
from bot.sim.server import start_sim


async def run(window: float | None = None, warmup: float | None = None, rss_every: float = 1.0) -> dict[str, Any]:
    window = window or float(os.environ.get("BENCH_MEMORY_S") or (5.0 if QUICK else 60.0))
    warmup = warmup or (3.0 if QUICK else 10.0)
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
        "venue": {"kind": "sim", "url": sim.url, "symbols": ["BTC/USDT"]},
        "logging": {"level": "info", "format": "json"},
    }))
    module = os.environ.get("BENCH_BOT_MODULE", "bench.botproc")
    bot = await Child.start(module, [str(tmp / "settings.json"), str(tmp / "bot.json")], tmp / "bot.log", tmp)
    bare = await Child.start("bench.bareloop", [sim.url, "BTC/USDT", str(tmp / "bare.json")], tmp / "bare.log", tmp)
    pin(0, {0})
    pin(bot.proc.pid, {1})
    pin(bare.proc.pid, {1})
    account = sim.exchange.ledger.accounts["user1"]
    try:
        await wait_until(
            lambda: sim.exchange.open_orders(account) or bot.proc.returncode is not None, 30.0, "the bot to quote"
        )
        if bot.proc.returncode is not None:
            raise RuntimeError("bot exited:\n" + bot.tail())
        await asyncio.sleep(warmup)
        await bot.send("mark")
        n0, t0 = published["n"], time.monotonic()
        cpu_bot0, cpu_bare0 = cpu_seconds(bot.ps), cpu_seconds(bare.ps)
        sim_cpu0 = time.process_time()
        rss_t: list[float] = []
        rss: list[float] = []
        while time.monotonic() - t0 < window:
            rss_t.append(time.monotonic() - t0)
            rss.append(bot.ps.memory_info().rss / 1024.0)
            await asyncio.sleep(rss_every)
        cpu_bot1, cpu_bare1 = cpu_seconds(bot.ps), cpu_seconds(bare.ps)
        n1, t1 = published["n"], time.monotonic()
        sim_cpu1 = time.process_time()
        bare_rss = bare.ps.memory_info().rss / 1024.0
    finally:
        unpin(0)
        code = await bot.stop()
        await bare.stop()
        await sim.stop()
    if code != 0:
        raise RuntimeError(f"bot exited {code}:\n" + bot.tail())
    res = json.loads((tmp / "bot.json").read_text())
    bare_res = json.loads((tmp / "bare.json").read_text())
    msgs = max(1, n1 - n0)
    bot_us = (cpu_bot1 - cpu_bot0) / msgs * 1e6
    bare_us = (cpu_bare1 - cpu_bare0) / msgs * 1e6
    k = slope(rss_t, rss) * 60.0
    half = len(rss) // 2
    return {
        "window_s": round(t1 - t0, 3),
        "depth_msgs": msgs,
        "depth_msgs_per_s": msgs / (t1 - t0),
        "bot_cpu_us_per_msg": bot_us,
        "bare_cpu_us_per_msg": bare_us,
        "ratio": bot_us / bare_us if bare_us > 0 else float("inf"),
        "bot_books_handed": res["books"],
        "bare_books_handed": bare_res["books"],
        "bot_order_requests": res["requests"],
        "bot_internal_busy_us": dist(res["internal_ns"], 1e-3),
        "bot_container_sizes": res.get("sizes"),
        "sim_cpu_fraction": (sim_cpu1 - sim_cpu0) / (t1 - t0),
        "rss_kib_start": rss[0],
        "rss_kib_end": rss[-1],
        "rss_kib_max": max(rss),
        "rss_slope_kib_per_min": k,
        "rss_slope_second_half_kib_per_min": slope(rss_t[half:], rss[half:]) * 60.0,
        "rss_series": [[round(t, 1), v] for t, v in zip(rss_t, rss, strict=True)],
        "bare_rss_kib": bare_rss,
        "rss_samples": len(rss),
    }
