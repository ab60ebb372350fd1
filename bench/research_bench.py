"""``make bench ARGS=research``: the backtest's speed side by side on one synthetic recording.

The recording is :func:`bench.backtest_bench.synthetic_events` (the simulated exchange's depth diffs and
trades every 50 ms), about ``BENCH_RESEARCH_EVENTS`` events (default 1,000,000; 20,000 with ``BENCH_QUICK``).
Every replay is the linear market maker of the backtest benchmark (half-spread 0.03, skew 0.05, limit 0.1,
order size 0.002, requote 2 ticks) at zero latency, timed as wall-clock events/s and events per CPU second of
the replaying thread (``time.thread_time``; median of the repeats). Each ratio is given both ways (``ratio``:
wall, ``ratio_cpu``: CPU); the table's verdicts read the CPU ratio, which the other processes of a shared host
move less (the wall clock also counts the time this process waits for a core). Figures:

- ``in_memory``: ``run_backtest`` over the events held in a list (the reference of every ratio below);
- ``binary``: the same events written with :func:`bot.research.columnar.write_binary` and streamed back by
  ``run_backtest(iter_recording(path))`` (what ``mmbot backtest`` and ``tune`` do), ratio to in-memory
  (goal >= 0.9); ``json_lines``: the same through a JSON-lines file;
- ``rss``: the peak resident size (``VmHWM``) of a child process that streams the binary file through the
  replay, for the whole file and for its first half: flat when the whole is within 10% (+16 MiB) of the half;
- ``estimators``: glft and as with ``use_estimators`` (live sigma, A, kappa) on the same events, ratio to the
  linear in-memory replay (goal >= 0.6);
- ``hftbacktest``: :mod:`bench.hftbt` on the same events, mmbot's in-memory events/s over hftbacktest's
  (goal >= 0.5), its numba compile apart.

The tuner's figures (trials/s on 1 and 2 workers, per-trial overhead) are the ``tune`` benchmark's
(:mod:`bench.tune_bench`), in the same ``make bench`` run.

Every replay of the same parameters must give the same result; the run fails otherwise.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bot
from bench import hftbt
from bench.backtest_bench import synthetic_events
from bench.common import QUICK, REPO, dist
from bot.core.limits import LimitParams
from bot.core.models import ModelParams
from bot.core.quote import MarketRules
from bot.core.reconcile import Tolerance
from bot.research.backtest import BacktestParams, BacktestResult, run_backtest
from bot.research.columnar import write_binary
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


def streamed_rss(path: str) -> None:
    """(Run in a child process) stream ``path`` through the linear replay; print events and the peak resident
    size in KiB: ``VmHWM`` of /proc/self/status (``ru_maxrss`` would not do: Linux keeps it across the exec that
    started this process, so it would report the parent's size), else ``ru_maxrss`` off Linux."""
    import resource

    result = run_backtest(iter_recording(path), SYMBOL, LINEAR)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1])
    print(result.events, peak)


def _rss(path: Path) -> dict[str, int]:
    code = f"from bench.research_bench import streamed_rss; streamed_rss({str(path)!r})"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=3600, check=True).stdout.split()
    return {"events": int(out[0]), "max_rss_kib": int(out[1])}


def _timed(replay: Callable[[], BacktestResult], events: int, repeats: int) -> tuple[dict[str, Any], BacktestResult]:
    """Wall and thread CPU seconds of ``repeats`` calls of ``replay``, as events per second (median)."""
    secs, cpu = [], []
    result: BacktestResult | None = None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.thread_time()
        result = replay()
        secs.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    assert result is not None
    d, c = dist(secs), dist(cpu)
    return {"seconds": d, "events_per_s": events / d["p50"], "cpu_seconds": c,
            "events_per_cpu_s": events / c["p50"]}, result


def _ratios(figures: dict[str, Any], base: dict[str, Any]) -> dict[str, float]:
    """``figures``' events/s over ``base``'s, wall and CPU."""
    return {"ratio": figures["events_per_s"] / base["events_per_s"],
            "ratio_cpu": figures["events_per_cpu_s"] / base["events_per_cpu_s"]}


def _binary(events: list[Event], n: int, repeats: int, reference: Any, tmp: Path) -> dict[str, Any]:
    path = tmp / "recording.mmb"
    write_binary(path, events, {"symbols": [SYMBOL]})
    figures, result = _timed(lambda: run_backtest(iter_recording(path), SYMBOL, LINEAR), n, repeats)
    if result != reference:
        raise RuntimeError("research: the replay of the binary file differs from the in-memory one")
    half = tmp / "half.mmb"
    write_binary(half, events[: len(events) // 2], {"symbols": [SYMBOL]})
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
    out["in_memory"] = {**in_memory, "fills": reference.fills}
    with tempfile.TemporaryDirectory(prefix="mmbot-research-") as name:
        tmp = Path(name)
        binary = _binary(recording, n, repeats, reference, tmp)
        if binary["available"]:
            binary.update(_ratios(binary, in_memory))
        out["binary"] = binary
        path = tmp / "recording.jsonl"
        write_recording(path, recording)
        json_lines, result = _timed(lambda: run_backtest(iter_recording(path), SYMBOL, LINEAR), n, 1)
        if result != reference:
            raise RuntimeError("research: the replay of the JSON-lines file differs from the in-memory one")
        out["json_lines"] = {**json_lines, **_ratios(json_lines, in_memory)}
    estimators: dict[str, Any] = {}
    for model, params in ESTIMATING.items():
        figures, result = _timed(lambda p=params: run_backtest(recording, SYMBOL, p), n, repeats)  # type: ignore[misc]
        estimators[model] = {**figures, "fills": result.fills, **_ratios(figures, in_memory)}
    out["estimators"] = estimators
    hft = hftbt.run(recording, SYMBOL, half_spread=HALF, skew=SKEW, max_position=LIMIT, order_size=SIZE,
                    tick=RULES.tick, lot=RULES.lot, requote_ticks=REQUOTE)
    if hft.get("available"):
        hft.update(_ratios(in_memory, hft))
    out["hftbacktest"] = hft
    return out


def _pair(d: dict[str, Any]) -> str | None:
    """A ratio as the table shows it: CPU, then wall."""
    if d.get("ratio_cpu") is None:
        return None
    return f"{d['ratio_cpu']:.2f} (wall {d['ratio']:.2f})"


def rows(res: dict[str, Any], add: Any) -> None:
    """The table's lines for these figures, through ``bench.run.rows``' ``add(name, value, fmt, target, ok)``."""
    r = res.get("research") or {}
    base = (r.get("in_memory") or {}).get("events_per_s")
    add("research: in-memory replay, linear (events/s)", base, "{:,.0f}")
    if not r:
        return  # not run: one line says so
    add("  in-memory replay, linear (events per CPU s)", _get(r, "in_memory", "events_per_cpu_s"), "{:,.0f}")
    b = r.get("binary") or {}
    add("  binary file streamed / in-memory: CPU (wall)", _pair(b), "{}", ">= 0.9", _ok(b, 0.9))
    rss = b.get("rss") or {}
    add("  binary streamed peak RSS, whole / first half (MiB)",
        f"{rss['whole']['max_rss_kib'] / 1024:.0f} / {rss['half']['max_rss_kib'] / 1024:.0f}" if rss else None, "{}",
        "flat", rss.get("flat") if rss else None)
    add("  JSON-lines file streamed / in-memory: CPU (wall)", _pair(r.get("json_lines") or {}), "{}")
    for model, e in (r.get("estimators") or {}).items():
        add(f"  estimators on ({model}) / off (linear): CPU (wall)", _pair(e), "{}", ">= 0.6", _ok(e, 0.6))
    h = r.get("hftbacktest") or {}
    add("  mmbot replay / hftbacktest: CPU (wall)", _pair(h), "{}", ">= 0.5", _ok(h, 0.5))
    add("  hftbacktest (events/s; numba compile s)", h.get("events_per_s") and
        f"{h['events_per_s']:,.0f}; {h['compile_seconds']:.1f}", "{}")


def _get(d: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        d = d.get(key) if isinstance(d, dict) else None  # type: ignore[assignment]
    return d


def _ok(d: dict[str, Any], goal: float) -> bool:
    return d.get("ratio_cpu") is not None and d["ratio_cpu"] >= goal
