"""4. Capacity: how many symbols at 10 book updates per second the bot keeps up with on one core.

For each N of a ladder, the simulated exchange (this process, pinned to CPU 0) runs N synthetic markets
``S001/USDT``... with a 0.1 s clock and every book changing each step (10 depth diffs per second per
symbol); the bot (``bench.botproc``, pinned to CPU 1, so it has one core) quotes all N. After the bot
has a book for every symbol and a warm-up, the window records, for every book ccxt hands the bot, its
age: the bot's ``time.time()`` minus the book's exchange timestamp (the sim stamps each diff when its step
ran). The bot keeps up at N when, over the window, the median age stays below one update interval
(100 ms) and does not grow: the median of the last third is within 50 ms of the median of the first
third. The capacity is the largest N of the ladder that keeps up (the ladder stops at the first failure).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import QUICK, Child, cpu_seconds, dist, many_symbols, pin, sim_settings, unpin, wait_until
from bot.sim.server import start_sim

INTERVAL_MS = 100.0


async def one(n: int, window: float, warmup: float) -> dict[str, Any]:
    symbols, accounts = many_symbols(n, refresh_rate=10.0, taker_rate=0.5, levels=5, volatility=4.0)
    settings = sim_settings(step_interval=0.1, symbols=symbols, accounts=accounts)
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-capacity-{n}-"))
    sim = await start_sim(settings)
    published = {"n": 0}
    publish = sim.market_hub.publish

    def counting_publish(channel: str, text: str) -> None:
        if channel.endswith(":depth"):
            published["n"] += 1
        publish(channel, text)

    sim.market_hub.publish = counting_publish  # type: ignore[method-assign]
    (tmp / "settings.json").write_text(json.dumps({
        "venue": {"kind": "sim", "url": sim.url, "symbols": sorted(symbols)},
        "logging": {"level": "info", "format": "json"},
        "execution": {"order_size": 0.1, "orders_per_second": 100.0},
        "strategy": {"half_spread": 0.05},
        # the thin synthetic books go one-sided now and then (a pause each); across hundreds of symbols the
        # default escalation (5 pauses in 300 s, all symbols together) would kill the bot within seconds,
        # and this benchmark measures feed throughput, not that trigger
        "risk": {"pause_escalation_count": 1_000_000},
    }))
    bot = await Child.start(
        "bench.botproc", [str(tmp / "settings.json"), str(tmp / "bot.json"), "--no-rate-limit"], tmp / "bot.log", tmp
    )
    pin(0, {0})
    pin(bot.proc.pid, {1})
    t_start = time.monotonic()
    try:
        await wait_until(
            lambda: all(sim.market_hub.has(f"{s.id}:depth") for s in sim.exchange.symbols.values())
            or bot.proc.returncode is not None,
            120.0, "the bot to subscribe to every symbol", every=0.1,
        )
        if bot.proc.returncode is not None:
            raise RuntimeError("bot exited:\n" + bot.tail())
        startup = time.monotonic() - t_start
        await asyncio.sleep(warmup)
        await bot.send("mark")
        n0, t0 = published["n"], time.monotonic()
        cpu0, sim0 = cpu_seconds(bot.ps), time.process_time()
        await asyncio.sleep(window)
        cpu1, sim1 = cpu_seconds(bot.ps), time.process_time()
        n1, t1 = published["n"], time.monotonic()
    finally:
        unpin(0)
        await bot.stop(timeout=15.0)  # shutting down hundreds of symbols is not measured; a kill is fine
        await sim.stop()
    if not (tmp / "bot.json").exists():
        raise RuntimeError("bot wrote no samples:\n" + bot.tail())
    res = json.loads((tmp / "bot.json").read_text())
    lag = np.asarray(res["lag_ms"])
    lag_t = np.asarray(res["lag_t"])
    keep = lag_t <= t1  # samples of the window only (the bot kept recording while stopping)
    lag, lag_t = lag[keep], lag_t[keep]
    third = max(1, lag.size // 3)
    first, last = float(np.median(lag[:third])), float(np.median(lag[-third:]))
    p50 = float(np.median(lag)) if lag.size else float("inf")
    ok = bool(lag.size) and p50 < INTERVAL_MS and last - first <= 50.0
    return {
        "symbols": n,
        "startup_s": round(startup, 2),
        "depth_msgs_per_s": (n1 - n0) / (t1 - t0),
        "books_per_s": lag.size / (t1 - t0),
        "bot_cpu_fraction": (cpu1 - cpu0) / (t1 - t0),
        "sim_cpu_fraction": (sim1 - sim0) / (t1 - t0),
        "age_ms": dist(lag),
        "age_first_third_ms": first,
        "age_last_third_ms": last,
        "keeps_up": ok,
    }


async def run(ladder: list[int] | None = None, window: float | None = None, warmup: float = 5.0) -> dict[str, Any]:
    ladder = ladder or ([10, 40] if QUICK else [50, 100, 150, 200, 300])
    window = window or (4.0 if QUICK else 10.0)
    steps = []
    best = 0
    for n in ladder:
        step = await one(n, window, warmup)
        steps.append(step)
        if not step["keeps_up"]:
            break
        best = n
    return {"capacity_symbols": best, "ladder": steps, "bound": "lower" if best == ladder[-1] else "measured"}
