"""Smoke test of the benchmark harness: the quick mode of the cheap benchmarks writes the JSON and table.

No timing assertions: only that the figures exist and are positive finite numbers.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def test_quick_run_writes_expected_figures(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = {**os.environ, "BENCH_QUICK": "1", "BENCH_OUT": str(out), "PYTHONPATH": str(REPO)}
    env.pop("BENCH_ONLY", None)
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "compute", "sim_ceiling"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["meta"]["quick"] is True
    quote = data["compute"]["quote"]["us_per_call"]
    assert set(quote) == {"symmetric", "linear", "as", "glft"}
    for d in quote.values():
        assert _positive(d["p50"]) and _positive(d["max"]) and d["n"] >= 1
    sim = data["compute"]["simulate"]
    assert sim["paths"] == 1000 and sim["steps"] == 200
    assert _positive(sim["seconds"]["p50"]) and _positive(sim["paths_per_s"])
    backtest = data["compute"]["backtest"]
    if backtest.get("available"):
        assert _positive(backtest["events_per_s"]) and backtest["events"] > 0
    ceiling = data["sim_ceiling"]
    assert _positive(ceiling["msgs_per_s"]) and ceiling["messages"] > 0 and ceiling["gaps"] == 0
    figures = {row["figure"] for row in data["table"]}
    assert "simulate 1000 x 200-step paths (s)" in figures
    assert "sim ceiling: depth msgs/s to one client" in figures
    assert "| figure" in proc.stdout  # the table was printed


def test_unknown_benchmark_is_a_usage_error(tmp_path: Path) -> None:
    env = {**os.environ, "BENCH_OUT": str(tmp_path / "r.json"), "PYTHONPATH": str(REPO)}
    env.pop("BENCH_ONLY", None)
    proc = subprocess.run([sys.executable, "-m", "bench", "nope"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert "unknown benchmark" in proc.stderr
    assert not (tmp_path / "r.json").exists()


def test_quick_hedge_run_measures_spot_fill_to_hedge_order(tmp_path: Path) -> None:
    """The hedge benchmark (a real bot process hedging in the sim's perpetual) measures every round it plays."""
    out = tmp_path / "results.json"
    env = {**os.environ, "BENCH_QUICK": "1", "BENCH_OUT": str(out), "PYTHONPATH": str(REPO)}
    env.pop("BENCH_ONLY", None)
    proc = subprocess.run([sys.executable, "-m", "bench", "hedge"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    hedge = json.loads(out.read_text())["hedge"]
    assert "error" not in hedge, hedge.get("error")
    assert hedge["missed_after_a_bot_fill"] == 0
    latency = hedge["spot_fill_to_hedge_ms"]
    assert latency["n"] == hedge["rounds"] - hedge["missed"] >= hedge["rounds"] // 2
    assert _positive(latency["p50"]) and latency["p50"] <= latency["p99"]
    assert "hedge: spot fill -> hedge order on the wire p50 (ms)" in {row["figure"] for row in json.loads(
        out.read_text())["table"]}


def test_quick_research_run_reports_every_ratio(tmp_path: Path) -> None:
    """The research benchmark on a few thousand events: every ratio it reports is there and positive."""
    out = tmp_path / "results.json"
    env = {**os.environ, "BENCH_QUICK": "1", "BENCH_OUT": str(out), "PYTHONPATH": str(REPO),
           "BENCH_RESEARCH_EVENTS": "3000"}
    env.pop("BENCH_ONLY", None)
    proc = subprocess.run([sys.executable, "-m", "bench", "research"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    research = json.loads(out.read_text())["research"]
    assert "error" not in research, research.get("error")
    assert research["events"] > 1000 and _positive(research["in_memory"]["events_per_s"])
    assert _positive(research["json_lines"]["ratio"]) and _positive(research["json_lines"]["ratio_cpu"])
    assert {"glft", "as"} <= set(research["estimators"])
    assert all(_positive(e["ratio"]) for e in research["estimators"].values())
    binary = research["binary"]
    assert _positive(binary["ratio"]) and binary["rss"]["whole"]["events"] == research["events"]
    assert _positive(binary["rss"]["half"]["max_rss_kib"])
    hft = research["hftbacktest"]
    if hft["available"]:
        assert _positive(hft["ratio"]) and hft["events"] == research["events"]
    assert "research: in-memory replay, linear (events/s)" in {row["figure"] for row in json.loads(
        out.read_text())["table"]}


def test_quick_tune_run_reports_speedup_and_overhead(tmp_path: Path) -> None:
    """The tune benchmark on a small binary recording: both sweeps ran every trial, and the table has its rows."""
    out = tmp_path / "results.json"
    env = {**os.environ, "BENCH_QUICK": "1", "BENCH_OUT": str(out), "PYTHONPATH": str(REPO)}
    env.pop("BENCH_ONLY", None)
    proc = subprocess.run([sys.executable, "-m", "bench", "tune"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text())
    tune = results["tune"]
    assert "error" not in tune, tune.get("error")
    assert tune["trials"] == 4 and _positive(tune["trials_per_s"]["1"]) and _positive(tune["trials_per_s"]["2"])
    assert _positive(tune["speedup"]) and _positive(tune["bare_trial_s"])
    figures = {row["figure"] for row in results["table"]}
    assert {"tune: trials/s, 1 / 2 workers (speed-up)", "  tune per-trial overhead over a bare backtest"} <= figures
