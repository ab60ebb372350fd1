"""3 + 6. CPU overhead of the running bot against a bare ccxt loop, and its resident size over time.

The simulated exchange (this process) runs BTC/USDT with fast book changes (a step every 5 ms, every
step changes the book) and normal takers. Two children consume the same depth stream at the same time:
the bot (``bench.botproc``: all of its feeds, user stream, quoting, orders, logging) and a bare ccxt
``watch_order_book`` loop (``bench.bareloop``). Over a common window after a warm-up the benchmark reads
each child's CPU seconds (``/proc`` via psutil) and counts the depth diffs the sim published for the
symbol; CPU per depth message of each, and their ratio, are the overhead figures. Neither carries a
per-book probe (the bot runs with ``--no-book-probe``: only its order requests are counted), so the ratio
compares the two programs, not their instrumentation.

Fairness. The sim runs on CPU 0; the bot and the bare loop each get a CPU of their own and swap CPUs after
every slice of the window (``SLICES`` per round), so each spends half its time next to the sim. (Until
session 4 both shared CPU 1: the ratio then came out 1.13 or 1.31-1.36 from run to run, by which of the two
the scheduler ran first on the shared core.) The window is split over ``ROUNDS`` rounds, each with a fresh
pair of processes, started in the opposite order: in session 8, two identical bare loops measured side by
side gave the first-started one 0.99-1.16x the CPU of the second (twelve runs, mean 1.05), so a single
order would tilt the ratio. The figures pool the rounds (total CPU over total messages); the table shows
each round's ratio and the spread of the slices'.

Memory: the last round's bot runs on after its CPU window; its RSS is sampled every ``rss_every`` seconds
from its first quote to the end of the run.
The memory figure is the least-squares slope (KiB/min) over a window of ``BENCH_MEMORY_S`` seconds
(default 180) that starts ``BENCH_MEMORY_WARMUP_S`` seconds (default 240) after the first quote, by
when the bot's bounded structures (ccxt's 200-entry caches, the 200 latest done orders, the 200 kept
trade ids) have filled at this benchmark's order and fill rates; SQLite's page cache (256 KiB) may
still be filling. The lengths and caps of everything that could grow (``bench.botproc.container_sizes``)
are read once after the CPU window (what that reading allocates once stays out of the window) and
again at the start and the end of the window, and the table names the capped ones still filling. The
slope over that bot's CPU window (its first minute and more, mostly warm-up) is kept as a secondary figure.

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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import QUICK, Child, cpu_seconds, one_symbol, pin, sim_settings, slope, unpin, wait_until
from bot.sim.server import start_sim

ROUNDS = 2  # fresh bot + bare pairs, started bot first then bare first (see the docstring)
SLICES = 4  # parts of each round's window, a ratio each; the two swap CPUs after every one


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


def _write_settings(tmp: Path, url: str, order_entry: str) -> Path:
    """The bot's settings file (``load_settings`` overrides) in a new directory ``tmp``."""
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "settings.json"
    path.write_text(json.dumps({
        "venue": {"kind": "sim", "url": url, "symbols": ["BTC/USDT"], "order_entry": order_entry},
        "logging": {"level": "info", "format": "json"},
    }))
    return path


async def _start_pair(sim: Any, tmp: Path, order_entry: str, bot_first: bool) -> tuple[Child, Child]:
    """A bot and a bare loop on the sim, in ``tmp`` (journal, logs), started in the order given."""
    settings = _write_settings(tmp, sim.url, order_entry)
    module = os.environ.get("BENCH_BOT_MODULE", "bench.botproc")

    async def bot() -> Child:
        return await Child.start(module, [str(settings), str(tmp / "bot.json"), "--no-book-probe"],
                                 tmp / "bot.log", tmp)

    async def bare() -> Child:
        return await Child.start("bench.bareloop", [sim.url, "BTC/USDT", str(tmp / "bare.json")], tmp / "bare.log",
                                 tmp)

    if bot_first:
        b = await bot()
        return b, await bare()
    r = await bare()
    return await bot(), r


async def _wait_quoting(sim: Any, bot: Child) -> float:
    """Wait for the bot's first resting order; its monotonic time."""
    account = sim.exchange.ledger.accounts["user1"]
    await wait_until(lambda: sim.exchange.open_orders(account) or bot.proc.returncode is not None, 30.0,
                     "the bot to quote")
    if bot.proc.returncode is not None:
        raise RuntimeError("bot exited:\n" + bot.tail())
    return time.monotonic()


async def _cpu_window(bot: Child, bare: Child, published: dict[str, int], window: float) -> dict[str, Any]:
    """CPU seconds of each and depth messages over ``window``, read in ``SLICES`` slices; the two swap CPUs
    after every slice (the bot starts on CPU 1)."""
    await bot.send("mark")
    n0, t0, sim0 = published["n"], time.monotonic(), time.process_time()
    marks = [(cpu_seconds(bot.ps), cpu_seconds(bare.ps))]
    for k in range(1, SLICES + 1):
        await asyncio.sleep(max(0.0, t0 + window * k / SLICES - time.monotonic()))
        marks.append((cpu_seconds(bot.ps), cpu_seconds(bare.ps)))
        if k < SLICES:
            bot_cpu, bare_cpu = ({0}, {1}) if k % 2 else ({1}, {0})
            pin(bot.proc.pid, bot_cpu)
            pin(bare.proc.pid, bare_cpu)
    return {
        "t0": t0, "t1": time.monotonic(), "msgs": published["n"] - n0, "sim_cpu": time.process_time() - sim0,
        "bot_cpu": marks[-1][0] - marks[0][0], "bare_cpu": marks[-1][1] - marks[0][1],
        "slice_ratios": [(b1 - b0) / (r1 - r0) if r1 > r0 else float("inf")
                         for (b0, r0), (b1, r1) in itertools.pairwise(marks)],
    }


async def _round(sim: Any, tmp: Path, order_entry: str, bot_first: bool, published: dict[str, int],
                 window: float, warmup: float, on_quoted: Callable[[Child], None] | None = None,
                 ) -> tuple[dict[str, Any], Child, Child, float]:
    """One round: a fresh pair, pinned (sim CPU 0, bot CPU 1, bare CPU 0), warmed up, measured. The pair is
    returned running (the caller stops it), with the monotonic time of the bot's first quote, when
    ``on_quoted(bot)`` is called."""
    bot, bare = await _start_pair(sim, tmp, order_entry, bot_first)
    try:
        pin(bot.proc.pid, {1})
        pin(bare.proc.pid, {0})
        quoted = await _wait_quoting(sim, bot)
        if on_quoted is not None:
            on_quoted(bot)
        await asyncio.sleep(warmup)
        cpu = await _cpu_window(bot, bare, published, window)
        await bot.send(f"dump {tmp / 'bot_cpu.json'}")  # the probes' samples over the CPU window
        cpu["bot_first"] = bot_first
        cpu["ratio"] = cpu["bot_cpu"] / cpu["bare_cpu"] if cpu["bare_cpu"] > 0 else float("inf")
        return cpu, bot, bare, quoted
    except BaseException:
        await bot.stop()
        await bare.stop()
        raise


async def _stop(bot: Child, bare: Child) -> None:
    code = await bot.stop()
    await bare.stop()
    if code != 0:
        raise RuntimeError(f"bot exited {code}:\n" + bot.tail())


async def run(window: float | None = None, warmup: float | None = None, rss_every: float = 1.0) -> dict[str, Any]:
    """``window``: seconds of CPU window per round (``ROUNDS`` rounds)."""
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
    pin(0, {0})
    rounds: list[dict[str, Any]] = []
    rss_t: list[float] = []
    rss: list[float] = []
    sampler: asyncio.Task[None] | None = None
    bot: Child | None = None
    bare: Child | None = None

    def sample(child: Child) -> None:  # memory: the last round's bot, from its first quote to the end
        nonlocal sampler
        sampler = asyncio.create_task(_sample_rss(child.ps, rss_every, rss_t, rss))

    try:
        for k in range(ROUNDS):
            last_round = k == ROUNDS - 1
            cpu, bot, bare, quoted = await _round(sim, tmp / f"round{k}", order_entry, k % 2 == 0, published,
                                                  window, warmup, sample if last_round else None)
            rounds.append(cpu)
            if not last_round:
                await _stop(bot, bare)
                bot = bare = None
        assert bot is not None and bare is not None
        bare_rss = bare.ps.memory_info().rss / 1024.0
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
        try:
            if bot is not None and bare is not None:
                await _stop(bot, bare)
        finally:
            await sim.stop()
    rdirs = [tmp / f"round{k}" for k in range(ROUNDS)]  # every child has exited: their files are complete
    at_stop = json.loads((rdirs[-1] / "bot.json").read_text()).get("sizes")
    requests = sum(json.loads((d / "bot_cpu.json").read_text())["requests"] for d in rdirs)
    bare_books = sum(json.loads((d / "bare.json").read_text())["books"] for d in rdirs)
    msgs = max(1, sum(r["msgs"] for r in rounds))
    seconds = sum(r["t1"] - r["t0"] for r in rounds)
    bot_us = sum(r["bot_cpu"] for r in rounds) / msgs * 1e6
    bare_us = sum(r["bare_cpu"] for r in rounds) / msgs * 1e6
    last = rounds[-1]
    ts = [t - quoted for t in rss_t]
    mem_idx = [i for i, t in enumerate(rss_t) if m0 <= t <= m1]
    mem_t, mem_rss = [ts[i] for i in mem_idx], [rss[i] for i in mem_idx]
    cpu_idx = [i for i, t in enumerate(rss_t) if last["t0"] <= t <= last["t1"]]
    half = len(mem_t) // 2
    return {
        "order_entry": _entry_used(rdirs[-1] / "bot.log") or order_entry,
        "rounds": [{"bot_first": r["bot_first"], "ratio": r["ratio"], "window_s": round(r["t1"] - r["t0"], 3),
                    "depth_msgs": r["msgs"], "slice_ratios": r["slice_ratios"]} for r in rounds],
        "window_s": round(seconds, 3),
        "depth_msgs": msgs,
        "depth_msgs_per_s": msgs / seconds,
        "bot_cpu_us_per_msg": bot_us,
        "bare_cpu_us_per_msg": bare_us,
        "ratio": bot_us / bare_us if bare_us > 0 else float("inf"),
        "slice_ratios": [x for r in rounds for x in r["slice_ratios"]],
        "bare_books_handed": bare_books,
        "bot_order_requests": requests,
        "sim_cpu_fraction": sum(r["sim_cpu"] for r in rounds) / seconds,
        # memory: times are seconds since the last round's bot first quoted
        "memory_warmup_s": round(m0 - quoted, 1),
        "memory_window_s": round(m1 - m0, 1),
        "rss_kib_start": mem_rss[0],
        "rss_kib_end": mem_rss[-1],
        "rss_kib_max": max(rss),
        "rss_slope_kib_per_min": slope(mem_t, mem_rss) * 60.0,
        "rss_slope_second_half_kib_per_min": slope(mem_t[half:], mem_rss[half:]) * 60.0,
        "rss_slope_cpu_window_kib_per_min": slope([ts[i] for i in cpu_idx], [rss[i] for i in cpu_idx]) * 60.0,
        "rss_series": [[round(t, 1), v] for t, v in zip(ts, rss, strict=True)],
        "rss_samples": len(mem_rss),
        "bot_container_sizes_window_start": sizes0,
        "bot_container_sizes_window_end": sizes1,
        "bot_container_sizes": at_stop,
        "bare_rss_kib": bare_rss,
    }
