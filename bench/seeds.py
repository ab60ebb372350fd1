"""The P&L distribution over sim seeds: ``mmbot run`` on one config, once per seed, and a table of the summaries.

    python -m bench.seeds [--config config/sim.toml] [--seeds 1-10] [--duration 300] [--jobs 5] [--out DIR]
    python -m bench.seeds --table DIR          # the table again from the logs of an earlier batch

Each run is ``python -m bot run --config CONFIG --duration D`` on this tree's ``bot`` (the one next to
``bench/``) with ``MMBOT_SIM__SEED=n``, JSON logs to ``DIR/seed-n.jsonl`` and its own journal
(``DIR/seed-n/``, ops server on a free port), ``jobs`` runs at a time. The table is built from each run's
``summary`` events (one per symbol), read generically: every numeric field that is not a count, a size, a
price, a rate or a time is taken as a P&L component (so components added to the summary later show up
without a change here; a nested object such as ``{"1s": {"markout": x}}`` becomes ``name.1s.markout``). It
prints, per symbol, one row per seed and the mean, std (sample), min and max of each column, with the git
commit the runs were made on, and writes ``DIR/results.json`` (with the files under ``bot/`` that differed
from that commit). A run that exits non-zero or logs no summary is listed as failed, never averaged in.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# summary fields (at any depth) that are not money: identity, counts, sizes, prices, rates, times, venue checks
NOT_MONEY = frozenset({
    "tick", "lot", "count", "notional", "bps",
    "symbol", "base", "quote", "fills", "volume_base", "volume_quote", "q", "q_exact", "max_abs_q", "mid",
    "orders_placed", "orders_canceled", "orders_rejected", "open_orders_left", "open_orders_unconfirmed",
    "venue_base_delta", "duration", "stop_reason", "event", "level", "timestamp", "component",
})
# the columns shown first, in this order, when present; the other components follow alphabetically
FIRST = ("fills", "max_abs_q", "total_pnl")


@dataclass(frozen=True, slots=True)
class SeedRun:
    """One seed's outcome: per symbol its columns (name -> value), or why there is none."""

    seed: int
    symbols: dict[str, dict[str, float]]
    failed: str | None = None


def seed_list(text: str) -> list[int]:
    """``"1-10"`` or ``"1,3,7"`` (or both: ``"1-3,9"``) -> the seeds, in order, without repeats."""
    seeds: list[int] = []
    for part in text.split(","):
        lo, sep, hi = part.strip().partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise ValueError(f"not a seed or a range: {part.strip()!r}")
        first, last = int(lo), int(hi) if sep else int(lo)
        if last < first:
            raise ValueError(f"empty range: {part.strip()!r}")
        seeds += [s for s in range(first, last + 1) if s not in seeds]
    return seeds


def _flatten(name: str, value: Any) -> Iterable[tuple[str, float]]:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int | float):
        if math.isfinite(value):
            yield name, float(value)
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            if key not in NOT_MONEY:
                yield from _flatten(f"{name}.{key}", inner)


def summary_columns(event: Mapping[str, Any]) -> dict[str, float]:
    """One ``summary`` event -> its columns: fills, max |q| and every numeric P&L component."""
    out = {name: float(event[name]) for name in ("fills", "max_abs_q") if isinstance(event.get(name), int | float)}
    for key, value in event.items():
        if key not in NOT_MONEY:
            out.update(_flatten(key, value))
    return out


def read_summaries(lines: Iterable[str]) -> dict[str, dict[str, float]]:
    """The ``summary`` events of a JSON log, by symbol (lines that are not JSON objects are skipped)."""
    found: dict[str, dict[str, float]] = {}
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == "summary" and isinstance(event.get("symbol"), str):
            found[event["symbol"]] = summary_columns(event)
    return found


def stats(values: list[float]) -> dict[str, float]:
    """Mean, sample std (0 for one value), min and max of a non-empty list."""
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
    return {"mean": mean, "std": math.sqrt(var), "min": min(values), "max": max(values)}


def _natural(name: str) -> list[tuple[int, str]]:
    """Sort key reading digit runs as numbers: markouts.1s < markouts.10s < markouts.60s."""
    return [(int(part), "") if part.isdigit() else (0, part) for part in re.split(r"(\d+)", name)]


def columns_of(runs: list[SeedRun], symbol: str) -> list[str]:
    names = {name for run in runs for name in run.symbols.get(symbol, {})}
    return [n for n in FIRST if n in names] + sorted(names - set(FIRST), key=_natural)


def _cell(value: float | None, name: str) -> str:
    if value is None:
        return "-"
    if name == "fills":
        return f"{value:.1f}" if value != int(value) else f"{value:.0f}"
    return f"{value:.4f}" if name != "max_abs_q" else f"{value:g}"


def table(runs: list[SeedRun], version: str) -> str:
    """Markdown: per symbol, a row per seed and mean/std/min/max of each column; failed runs listed below."""
    ok = [r for r in runs if r.failed is None]
    symbols = sorted({s for r in ok for s in r.symbols})
    lines = [f"Version: `{version}`; {len(ok)} of {len(runs)} runs summarised."]
    for symbol in symbols:
        cols = columns_of(ok, symbol)
        lines += ["", f"**{symbol}**", "", "| seed | " + " | ".join(cols) + " |",
                  "|---:|" + "---:|" * len(cols)]
        for run in ok:
            row = run.symbols.get(symbol, {})
            lines.append(f"| {run.seed} | " + " | ".join(_cell(row.get(c), c) for c in cols) + " |")
        per_col = {c: stats([r.symbols[symbol][c] for r in ok if c in r.symbols.get(symbol, {})]) for c in cols}
        for stat in ("mean", "std", "min", "max"):
            lines.append(f"| {stat} | " + " | ".join(_cell(per_col[c][stat], c if stat != "std" else "")
                                                     for c in cols) + " |")
    for run in runs:
        if run.failed is not None:
            lines.append(f"\nseed {run.seed}: FAILED ({run.failed})")
    return "\n".join(lines)


def version() -> str:
    """``git describe --always --dirty`` of the project (``unknown`` without git)."""
    try:
        done = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10, check=False)
    except OSError:
        return "unknown"
    return done.stdout.strip() or "unknown"


def modified_sources() -> list[str]:
    """Files under ``bot/`` that differ from the commit (what a ``-dirty`` version ran besides it)."""
    try:
        done = subprocess.run(["git", "status", "--porcelain", "--", "bot"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10, check=False)
    except OSError:
        return []
    return [line[3:] for line in done.stdout.splitlines() if line[3:]]


def run_seed(seed: int, config: Path, duration: float, out: Path) -> SeedRun:
    """One ``mmbot run`` on ``seed``; its JSON log goes to ``out/seed-<n>.jsonl``."""
    log, err = out / f"seed-{seed}.jsonl", out / f"seed-{seed}.stderr"
    env = os.environ | {
        "MMBOT_SIM__SEED": str(seed), "MMBOT_LOGGING__FORMAT": "json",
        "MMBOT_RISK__STATE_DIR": str(out / f"seed-{seed}"), "MMBOT_OPS__PORT": "0",
    }
    argv = [sys.executable, "-m", "bot", "run", "--config", str(config), "--duration", f"{duration:g}"]
    with log.open("w", encoding="utf-8") as stdout, err.open("w", encoding="utf-8") as stderr:
        code = subprocess.run(argv, cwd=ROOT, env=env, stdout=stdout, stderr=stderr, check=False).returncode
    return collect(seed, out, code)


def collect(seed: int, out: Path, code: int | None = None) -> SeedRun:
    """A seed's outcome from its log in ``out`` (``code``: its exit code when known)."""
    log = out / f"seed-{seed}.jsonl"
    if not log.is_file():
        return SeedRun(seed, {}, f"no log {log.name}")
    symbols = read_summaries(log.read_text(encoding="utf-8").splitlines())
    if code:
        return SeedRun(seed, symbols, f"exit code {code}")
    return SeedRun(seed, symbols, None if symbols else "no summary event")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.seeds", description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, default=ROOT / "config" / "sim.toml")
    p.add_argument("--seeds", default="1-10", help="e.g. 1-10 or 1,4,7 (default 1-10)")
    p.add_argument("--duration", type=float, default=300.0, help="seconds per run (default 300)")
    p.add_argument("--jobs", type=int, default=5, help="runs at a time (default 5)")
    p.add_argument("--out", type=Path, default=ROOT / "var" / "seeds", help="logs and results.json")
    p.add_argument("--table", type=Path, metavar="DIR", help="only print the table of an earlier batch in DIR")
    p.add_argument("--label", help="the version noted in the table (default: git describe of this tree), e.g. "
                   "the commit of an exported tree that has no .git")
    args = p.parse_args(argv)
    try:
        seeds = seed_list(args.seeds)
    except ValueError as exc:
        print(f"--seeds: {exc}", file=sys.stderr)
        return 2
    if args.table is not None:
        results = json.loads((args.table / "results.json").read_text(encoding="utf-8")) \
            if (args.table / "results.json").is_file() else {}
        runs = [collect(s, args.table) for s in seeds]
        print(table(runs, results.get("version", "unknown")))
        return 0
    if args.jobs < 1 or args.duration <= 0:
        print("--jobs must be >= 1 and --duration > 0", file=sys.stderr)
        return 2
    if not args.config.is_file():
        print(f"--config: no such file: {args.config}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    made_on, modified = args.label or version(), [] if args.label else modified_sources()
    with ThreadPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(lambda s: run_seed(s, args.config.resolve(), args.duration, args.out.resolve()), seeds))
    results = {"version": made_on, "modified": modified, "config": str(args.config), "duration": args.duration,
               "runs": [{"seed": r.seed, "failed": r.failed, "symbols": r.symbols} for r in runs]}
    (args.out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(table(runs, made_on))
    return 0 if all(r.failed is None for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
