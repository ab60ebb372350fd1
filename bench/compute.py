"""5. Pure-compute costs: one ``make_quote`` call per model, ``simulate`` paths, ``backtest`` events.

Each figure is a distribution over repeats taken in this run: per repeat, the mean cost of a batch of
calls (quote) or one full run (simulate, backtest); the table reports the median and the worst repeat.
"""

from __future__ import annotations

import importlib.util
import math
import time
from typing import Any

import numpy as np

from bench.common import QUICK, dist
from bot.core.limits import LimitParams
from bot.core.models import ModelParams
from bot.core.pipeline import make_quote
from bot.core.quote import MarketRules, QuoteInputs
from bot.research.as2008 import AS2008Params, simulate

MODELS = ("symmetric", "linear", "as", "glft")


def quote_cost(batch: int | None = None, repeats: int | None = None) -> dict[str, Any]:
    """ns per ``make_quote`` call, per model, over inputs that vary q, mid and the touch."""
    batch = batch or (2000 if QUICK else 10000)
    repeats = repeats or (5 if QUICK else 15)
    rng = np.random.default_rng(1)
    qs = rng.normal(0.0, 0.3, batch).tolist()
    mids = (30000.0 + rng.normal(0.0, 5.0, batch)).tolist()
    inputs = [
        QuoteInputs(mid=m, q=q, best_bid=m - 0.02, best_ask=m + 0.02, t=float(i), sigma=2.0, A=1.5, kappa=5.0)
        for i, (m, q) in enumerate(zip(mids, qs, strict=True))
    ]
    limits = LimitParams(max_position=1.0, order_size=0.01)
    rules = MarketRules(tick=0.01, lot=0.00001, min_qty=0.00001, min_notional=5.0)
    out: dict[str, Any] = {}
    for name in MODELS:
        params = ModelParams(model=name)
        per_call = []
        for _ in range(repeats):
            t0 = time.perf_counter_ns()
            for x in inputs:
                make_quote(x, params, limits, rules)
            per_call.append((time.perf_counter_ns() - t0) / batch)
        out[name] = dist(per_call, 1e-3)  # microseconds per call
    return {"us_per_call": out, "batch": batch, "repeats": repeats}


def simulate_cost(paths: int = 1000, repeats: int | None = None) -> dict[str, Any]:
    """Seconds for the A-S (2008) experiment of ``paths`` x 200 steps (both strategies per path)."""
    repeats = repeats or (3 if QUICK else 10)
    params = AS2008Params()
    simulate(params, paths=paths, seed=0)  # warm numpy
    secs = []
    for r in range(repeats):
        t0 = time.perf_counter()
        simulate(params, paths=paths, seed=r)
        secs.append(time.perf_counter() - t0)
    d = dist(secs)
    return {
        "paths": paths,
        "steps": params.steps,
        "seconds": d,
        "paths_per_s": paths / d["p50"] if d["p50"] > 0 else math.inf,
    }


def backtest_cost() -> dict[str, Any]:
    """Events per second of ``bot.research.backtest`` (when that module exists)."""
    if importlib.util.find_spec("bot.research.backtest") is None:
        return {"available": False, "reason": "bot.research.backtest is not in the tree yet"}
    from bench import backtest_bench

    return backtest_bench.run()


def run() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, fn in (("quote", quote_cost), ("simulate", simulate_cost), ("backtest", backtest_cost)):
        try:
            out[name] = fn()
        except Exception as exc:  # report the others even when one part breaks
            out[name] = {"failed": f"{type(exc).__name__}: {exc}"}
    return out
