"""5c. ``backtest`` events per second: a synthetic recording replayed through ``run_backtest``.

The recording is made in memory by stepping the pure simulated-exchange engine (``SimExchange``, no
I/O): one book snapshot, then every step's depth diff and public trades, as the recording format's
events (the shape ``mmbot record`` writes). Only the replay is timed; the linear model with 50 ms
latency quotes the whole time and gets filled.

The headline is wall-clock events/s (median run); the same runs' process CPU time
(``time.process_time``) gives ``events_per_cpu_s``, which moves less when other processes share the
cores (on a loaded machine the wall clock also counts the time this process waits to be scheduled).

The same recording is also written to a file (``write_recording``) and timed two more ways, with the
same repeats: ``from_file`` replays the events ``read_recording`` made of it (the replay alone, on events
laid out in memory as a reader lays them out), and ``command`` streams the file through
``run_backtest(iter_recording(path), ...)``, what ``mmbot backtest`` does: reading, checking and
replaying, end to end. Every way must give the same result; the run fails otherwise.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bot
from bench.common import QUICK, dist, one_symbol, sim_settings
from bot.core.limits import LimitParams
from bot.core.models import ModelParams
from bot.core.quote import MarketRules
from bot.core.reconcile import Tolerance
from bot.research.backtest import BacktestParams, BacktestResult, run_backtest
from bot.research.recording import BookEvent, Event, TradeEvent, iter_recording, read_recording, write_recording
from bot.sim.engine import SimExchange
from bot.sim.events import PublicTrade

ATOM = 1e-8


def synthetic_events(steps: int, dt: float = 0.05, seed: int = 1) -> list[Event]:
    settings = sim_settings(seed=seed, step_interval=dt, symbols=one_symbol(refresh_rate=2.0, taker_rate=8.0))
    ex = SimExchange(settings, 0)
    sym_id = "BTCUSDT"
    _, bids, asks = ex.depth(sym_id, 1000)
    events: list[Event] = [
        BookEvent(0.0, "BTC/USDT", tuple((p * ATOM, q * ATOM) for p, q in bids),
                  tuple((p * ATOM, q * ATOM) for p, q in asks), True)
    ]
    ex.take_depth_diff(sym_id)
    ex.take_events()
    for i in range(1, steps + 1):
        ts = i * dt
        ex.step(dt, int(ts * 1000))
        for ev in ex.take_events():
            if isinstance(ev, PublicTrade):
                events.append(TradeEvent(ts, "BTC/USDT", ev.price * ATOM, ev.qty * ATOM,
                                         "sell" if ev.buyer_is_maker else "buy", str(ev.id)))
        diff = ex.take_depth_diff(sym_id)
        if diff is not None:
            events.append(BookEvent(ts, "BTC/USDT", tuple((p * ATOM, q * ATOM) for p, q in diff.bids),
                                    tuple((p * ATOM, q * ATOM) for p, q in diff.asks), False))
    return events


def _timed(replay: Callable[[], BacktestResult], events: int, repeats: int) -> tuple[dict[str, Any], BacktestResult]:
    """Wall and process CPU seconds of ``repeats`` calls of ``replay``, as events per second."""
    secs, cpu = [], []
    result: BacktestResult | None = None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        result = replay()
        secs.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    assert result is not None
    d, c = dist(secs), dist(cpu)
    figures = {
        "seconds": d,
        "events_per_s": events / d["p50"],
        "events_per_s_worst": events / d["max"],
        "cpu_seconds": c,
        "events_per_cpu_s": events / c["p50"],
    }
    return figures, result


def run(steps: int | None = None, repeats: int | None = None) -> dict[str, Any]:
    steps = steps or (2000 if QUICK else 40000)
    repeats = repeats or (2 if QUICK else 5)
    events = synthetic_events(steps)
    params = BacktestParams(
        model=ModelParams(model="linear", half_spread=0.03, skew=0.05),
        limits=LimitParams(max_position=0.1, order_size=0.002),
        rules=MarketRules(tick=0.01, lot=0.00001, min_qty=0.00001, min_notional=5.0),
        tolerance=Tolerance(0.01, 2),
        latency=0.05,
    )
    n = len(events)
    headline, result = _timed(lambda: run_backtest(events, "BTC/USDT", params), n, repeats)
    with tempfile.TemporaryDirectory(prefix="mmbot-bench-") as tmp:
        path = Path(tmp) / "recording.jsonl"
        write_recording(path, events)
        read = read_recording(path)
        from_file, result_read = _timed(lambda: run_backtest(read, "BTC/USDT", params), n, repeats)
        command, result_streamed = _timed(lambda: run_backtest(iter_recording(path), "BTC/USDT", params), n, repeats)
    if not result == result_read == result_streamed:
        raise RuntimeError("backtest: the file-read replays differ from the in-memory one")
    return {
        "available": True,
        "build": bot.compiled(),  # "mypyc" or "pure" (see setup.py)
        "events": n,
        "fills": result.fills,
        **headline,
        "from_file": from_file,
        "command": command,
    }
