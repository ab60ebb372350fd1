"""``tune`` trials per second with 1 and 2 local workers, and the per-trial overhead over a bare backtest.

A synthetic recording (:func:`bench.backtest_bench.synthetic_events`, ~50k events; ~5k with ``BENCH_QUICK``) is
written as a binary recording (``.mmb``, what a sweep over real history reads); the sweep is a grid of skew x
half-spread (24 trials; 4 quick) with the linear model, 50 ms latency, no maker fee, walk-forward off.

* ``overhead``: per trial, a bare ``run_backtest`` of its parameters (``trial_params``) on the events in memory
  against the tuner's own path for the same trial (``runner.execute``: settings, params, replay, row) on the same
  events held by the process cache, interleaved trial by trial (best of 2 each) so drift on a busy host hits both;
  ``overhead = tuned / bare - 1`` summed over the trials.
* ``trials_per_s`` with 1 worker (in this process) and 2 worker processes, each from a cold cache (every worker
  reads the file once, as a real sweep does); ``speedup`` = 2 workers / 1 worker. On a 2-core machine the
  second worker shares the cores with everything else running.

Every way must give the same rows (the run fails otherwise).
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import bot
from bench.backtest_bench import synthetic_events
from bench.common import QUICK
from bot.core.quote import MarketRules
from bot.research.backtest import run_backtest
from bot.research.columnar import write_binary
from bot.research.tune import data
from bot.research.tune.runner import DataRef, execute
from bot.research.tune.runner import run as run_sweep
from bot.research.tune.space import build_space
from bot.research.tune.sweep import in_order, plan
from bot.research.tune.trial import TuneBase, trial_params

SYMBOL = "BTC/USDT"


def _sweep(tasks: list[Any], refs: list[DataRef], base: TuneBase, workers: int) -> tuple[float, list[dict[str, Any]]]:
    rows: dict[str, dict[str, Any]] = {}
    start = time.perf_counter()
    stats = run_sweep(tasks, refs, base, 0.0, lambda key, row: rows.__setitem__(key, row), workers=workers,
                      stream=io.StringIO())
    seconds = time.perf_counter() - start
    if stats.done != len(tasks):
        raise RuntimeError(f"tune bench: {stats.done} of {len(tasks)} trials ran")
    return seconds, [{k: v for k, v in r.items() if k != "seconds"} for r in in_order(tasks, rows)]


def run(steps: int | None = None) -> dict[str, Any]:
    steps = steps or (3000 if QUICK else 30000)
    events = synthetic_events(steps)
    grid = ["strategy.skew=0,0.05", "strategy.half_spread=0.02,0.04"] if QUICK else \
        ["strategy.skew=0,0.01,0.02,0.05,0.1,0.2", "strategy.half_spread=0.01,0.02,0.03,0.05"]
    space = build_space([*grid, "strategy.model=linear"])
    base = TuneBase.load(None, SYMBOL, MarketRules(0.01, 0.00001, 0.00001, 5.0), latency=0.05, maker_fee=0.0,
                         base="BTC", quote="USDT")
    trials = space.trials()
    with tempfile.TemporaryDirectory(prefix="mmbot-bench-tune-") as tmp:
        path = Path(tmp) / "recording.mmb"
        write_binary(path, events, {"symbols": [SYMBOL]})
        refs = [DataRef(str(path), data.file_sha256(path))]
        tasks = plan(trials, base, refs, 0.0)

        held = data.load(str(path), refs[0].sha)  # the events as the tuner holds them, for both timings
        bare_s = tuned_s = 0.0
        bare = []
        for overrides, task in zip(trials, tasks, strict=True):  # interleaved: drift on a busy host hits both
            best_bare = best_tuned = float("inf")
            for _ in range(1 if QUICK else 2):
                start = time.perf_counter()
                result = run_backtest(held, SYMBOL, trial_params(base, overrides))
                best_bare = min(best_bare, time.perf_counter() - start)
                start = time.perf_counter()
                execute(refs, base, task, 0.0)
                best_tuned = min(best_tuned, time.perf_counter() - start)
            bare.append(result)
            bare_s, tuned_s = bare_s + best_bare, tuned_s + best_tuned

        data.forget()
        one_s, rows_one = _sweep(tasks, refs, base, 1)  # cold: reads the file once, then every trial
        data.forget()
        two_s, rows_two = _sweep(tasks, refs, base, 2)
    if rows_one != rows_two or [r["fills"] for r in rows_one] != [b.fills for b in bare]:
        raise RuntimeError("tune bench: the sweeps' rows differ")
    n = len(trials)
    return {
        "available": True,
        "build": bot.compiled(),
        "events": len(events),
        "trials": n,
        "bare_trial_s": bare_s / n,
        "tuned_trial_s": tuned_s / n,
        "overhead": tuned_s / bare_s - 1.0,
        "trials_per_s": {"1": n / one_s, "2": n / two_s},
        "speedup": one_s / two_s,
        "cores": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
    }


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(), indent=2))
