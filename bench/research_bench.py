"""``make bench ARGS=research``: the backtest's speed side by side on one synthetic recording.

The recording is :func:`bench.backtest_bench.synthetic_events` (the simulated exchange's depth diffs and
trades every 50 ms), about ``BENCH_RESEARCH_EVENTS`` events (default 1,000,000; 20,000 with ``BENCH_QUICK``).
Every replay is the linear market maker of the backtest benchmark (half-spread 0.03, skew 0.05, limit 0.1,
order size 0.002, requote 2 ticks) at zero latency unless said otherwise, timed as wall-clock events/s
(median of the repeats). Figures:

- ``in_memory``: ``run_backtest`` over the events held in a list (the reference of every ratio below);
- ``binary``: the same events written with :func:`bot.research.columnar.write_binary` and streamed back by
  ``run_backtest(iter_recording(path))`` (what ``mmbot backtest`` and ``tune`` do), ratio to in-memory
  (goal >= 0.9); ``json_lines``: the same through a JSON-lines file;
- ``rss``: the peak resident size (``ru_maxrss``) of a process that streams the binary file through the
  replay, for the whole file and for its first half: flat when the whole is within 10% (+16 MiB) of the half;
- ``estimators``: glft and as with ``use_estimators`` (live sigma, A, kappa) on the same events, ratio to the
  linear in-memory replay (goal >= 0.6);
- ``hftbacktest``: :mod:`bench.hftbt` on the same events, mmbot's in-memory events/s over hftbacktest's
  (goal >= 0.5), its numba compile apart;
- ``tune``: ``bench.tune_bench.run()`` when that module exists (trials/s on 1 and 2 workers, overhead).

Every replay of the same parameters must give the same result; the run fails otherwise.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import bot
from bench import hftbt
from bench.backtest_bench import _timed, synthetic_events
from bench.common import QUICK, REPO
from bot.core.limits import LimitParams
from bot.core.models import ModelParams
from bot.core.quote import MarketRules
from bot.core.reconcile import Tolerance
from bot.research.backtest import BacktestParams, run_backtest
from bot.research.recording import Event, iter_recording, write_recording

SYMBOL = "BTC/USDT"
EVENTS_PER_STEP = 1.62  # what synthetic_events makes per 50 ms step (a diff, and trades ~40% of the steps)
RULES = MarketRules(tick=0.01, lot=0.00001, min_qty=0.00001, min_notional=5.0)
HALF, SKEW, LIMIT, SIZE, REQUOTE = 0.03, 0.05, 0.1, 0.002, 2

LINEAR = BacktestParams(ModelParams("linear", half_spread=HALF, skew=SKEW), LimitParams(LIMIT, SIZE), RULES,
                        Tolerance(RULES.tick, REQUOTE))
ESTIMATING = {
    "glft": BacktestParams(ModelParams("glft", gamma=0.2, sigma=0.5, kappa=20.0, A=2.0, min_spread=0.05),
                           LimitParams(LIMIT, SIZE), RULES, Tolerance(RULES.tick, REQUOTE), use_estimators=True),
    "as": BacktestParams(ModelParams("as", gamma=0.5, sigma=0.5, kappa=20.0, horizon=20.0, horizon_mode="session"),
                         LimitParams(LIMIT, SIZE), RULES, Tolerance(RULES.tick, REQUOTE), use_estimators=True),
}
RSS_SLACK_KIB = 16 * 1024


def _columnar() -> Any:
    """Engineer A's binary recording module, or None before it exists."""
    try:
        return importlib.import_module("bot.research.columnar")
    except ImportError:
        return None


def streamed_rss(path: str) -> None:
    """(Run in a child process) stream ``path`` through the linear replay; print events and ru_maxrss KiB."""
    import resource

    result = run_backtest(iter_recording(path), SYMBOL, LINEAR)
    print(result.events, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _rss(path: Path) -> dict[str, int]:
    code = f"from bench.research_bench import streamed_rss; streamed_rss({str(path)!r})"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=3600, check=True).stdout.split()
    return {"events": int(out[0]), "max_rss_kib": int(out[1])}


def _binary(events: list[Event], n: int, repeats: int, reference: Any, tmp: Path) -> dict[str, Any]:
    columnar = _columnar()
    if columnar is None:
        return {"available": False, "reason": "n/a (not yet): bot.research.columnar is missing"}
    path = tmp / "recording.mmb"
    columnar.write_binary(path, events, {"symbols": [SYMBOL]})
    figures, result = _timed(lambda: run_backtest(iter_recording(path), SYMBOL, LINEAR), n, repeats)
    if result != reference:
        raise RuntimeError("research: the replay of the binary file differs from the in-memory one")
    half = tmp / "half.mmb"
    columnar.write_binary(half, events[: len(events) // 2], {"symbols": [SYMBOL]})
    whole, first_half = _rss(path), _rss(half)
    flat = whole["max_rss_kib"] <= 1.1 * first_half["max_rss_kib"] + RSS_SLACK_KIB
    return {"available": True, "bytes": path.stat().st_size, **figures,
            "rss": {"whole": whole, "half": first_half, "flat": flat}}


def run(events: int | None = None, repeats: int | None = None) -> dict[str, Any]:
    target = events or int(os.environ.get("BENCH_RESEARCH_EVENTS") or (20_000 if QUICK else 1_000_000))
    repeats = repeats or (1 if QUICK else 3)
    recording = synthetic_events(max(10, round(target / EVENTS_PER_STEP)))
    n = len(recording)
    out: dict[str, Any] = {"available": True, "build": bot.compiled(), "events": n}
    in_memory, reference = _timed(lambda: run_backtest(recording, SYMBOL, LINEAR), n, repeats)
    base = in_memory["events_per_s"]
    out["in_memory"] = {**in_memory, "fills": reference.fills}
    with tempfile.TemporaryDirectory(prefix="mmbot-research-") as name:
        tmp = Path(name)
        binary = _binary(recording, n, repeats, reference, tmp)
        if binary["available"]:
            binary["ratio"] = binary["events_per_s"] / base
        out["binary"] = binary
        path = tmp / "recording.jsonl"
        write_recording(path, recording)
        json_lines, result = _timed(lambda: run_backtest(iter_recording(path), SYMBOL, LINEAR), n, 1)
        if result != reference:
            raise RuntimeError("research: the replay of the JSON-lines file differs from the in-memory one")
        out["json_lines"] = {**json_lines, "ratio": json_lines["events_per_s"] / base}
    estimators: dict[str, Any] = {}
    for model, params in ESTIMATING.items():
        figures, result = _timed(lambda p=params: run_backtest(recording, SYMBOL, p), n, repeats)  # type: ignore[misc]
        estimators[model] = {**figures, "fills": result.fills, "ratio": figures["events_per_s"] / base}
    out["estimators"] = estimators
    hft = hftbt.run(recording, SYMBOL, half_spread=HALF, skew=SKEW, max_position=LIMIT, order_size=SIZE,
                    tick=RULES.tick, lot=RULES.lot, requote_ticks=REQUOTE)
    if hft.get("available"):
        hft["ratio"] = base / hft["events_per_s"]
    out["hftbacktest"] = hft
    try:
        tune_bench = importlib.import_module("bench.tune_bench")
    except ImportError:
        out["tune"] = {"available": False, "reason": "n/a (not yet): bench/tune_bench.py is missing"}
    else:
        out["tune"] = tune_bench.run()
    return out


def rows(res: dict[str, Any], add: Any) -> None:
    """The table's lines for these figures, through ``bench.run.rows``' ``add(name, value, fmt, target, ok)``."""
    r = res.get("research") or {}
    base = (r.get("in_memory") or {}).get("events_per_s")
    add("research: in-memory replay, linear (events/s)", base, "{:,.0f}")
    if not r:
        return  # not run: one line says so
    b = r.get("binary") or {}
    ratio = b.get("ratio")
    add("  binary file streamed / in-memory", ratio if b.get("available", True) else None, "{:.2f}", ">= 0.9",
        ratio is not None and ratio >= 0.9)
    rss = b.get("rss") or {}
    add("  binary streamed peak RSS, whole / first half (MiB)",
        f"{rss['whole']['max_rss_kib'] / 1024:.0f} / {rss['half']['max_rss_kib'] / 1024:.0f}" if rss else None, "{}",
        "flat", rss.get("flat") if rss else None)
    j = (r.get("json_lines") or {}).get("ratio")
    add("  JSON-lines file streamed / in-memory", j, "{:.2f}")
    for model, e in (r.get("estimators") or {}).items():
        add(f"  estimators on ({model}) / off (linear)", e.get("ratio"), "{:.2f}", ">= 0.6",
            e.get("ratio") is not None and e["ratio"] >= 0.6)
    h = r.get("hftbacktest") or {}
    add("  mmbot replay / hftbacktest (events/s)", h.get("ratio") and
        f"{base:,.0f} / {h['events_per_s']:,.0f} = {h['ratio']:.2f}", "{}", ">= 0.5",
        h.get("ratio") is not None and h["ratio"] >= 0.5)
    add("  hftbacktest numba compile (s)", h.get("compile_seconds"), "{:.1f}")
