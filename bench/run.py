"""Run the benchmarks, print the table, write the JSON.

    python -m bench [NAME ...]        # names: reaction overhead capacity compute sim_ceiling reaction_console hedge
                                      # research (default: all)

Environment: ``BENCH_QUICK=1`` shortens every benchmark (a smoke run, not a measurement);
``BENCH_OUT`` is the JSON path (default ``bench/results.json``); ``BENCH_ONLY=a,b`` selects like NAMEs;
``BENCH_ORDER_ENTRY=rest|websocket``: the overhead benchmark's bot sends its orders that way, not by the
default ``auto``, and reaction_console's, not by the WebSocket API (the reaction benchmark always measures both
entries);
``BENCH_MEMORY_WARMUP_S`` / ``BENCH_MEMORY_S``: the memory figure's warm-up after the bot's first quote
and its window, seconds (defaults 240 / 180; see ``bench/overhead.py``).
Each benchmark's figures come from one run of it; a benchmark that fails is recorded with its error
and the others still run.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bot
from bench import capacity, compute, hedge, overhead, reaction, reaction_console, research_bench, sim_ceiling
from bench.common import QUICK, REPO
from bench.tune_bench import run as tune_run
from bot.logs import configure_logging

BENCHMARKS: dict[str, Callable[[], Any]] = {
    "compute": compute.run,
    "sim_ceiling": lambda: asyncio.run(sim_ceiling.run()),
    "reaction": lambda: asyncio.run(reaction.run()),
    "overhead": lambda: asyncio.run(overhead.run()),
    "capacity": lambda: asyncio.run(capacity.run()),
    "reaction_console": lambda: asyncio.run(reaction_console.run()),
    "hedge": lambda: asyncio.run(hedge.run()),
    "research": research_bench.run,
    "tune": tune_run,
}

#: growth of the bot's resident size that still counts as flat, KiB per minute (about 6 MiB an hour)
FLAT_KIB_PER_MIN = 100.0


#: which benchmark produces the rows whose figure starts with these words
OWNER = {"wire-to-wire": "reaction", "bot-internal": "reaction", "overhead": "overhead", "capacity": "capacity",
         "make_quote": "compute", "simulate": "compute", "backtest": "compute", "memory": "overhead",
         "sim ceiling": "sim_ceiling", "console": "reaction_console", "hedge": "hedge",
         "research": "research", "tune": "tune"}


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def filling(start: Any, end: Any) -> str:
    """The capped containers (``[length, cap]`` in ``container_sizes``) that grew between two readings."""
    if not isinstance(start, dict) or not isinstance(end, dict):
        return "n/a"
    grew: list[str] = []

    def walk(a: Any, b: Any, name: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in b:
                walk(a.get(key), b[key], f"{name}{key}" if not name else f"{name}/{key}")
        elif (isinstance(a, list) and isinstance(b, list) and len(a) == len(b) == 2 and None not in (a[0], b[0])
              and b[0] > a[0]):
            grew.append(f"{name} {a[0]}->{b[0]}/{b[1]}")

    walk(start, end, "")
    return ", ".join(grew) or "none"


def rows(res: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure, value, target, verdict) for the table."""
    out: list[tuple[str, str, str, str]] = []

    def add(name: str, value: Any, fmt: str, target: str = "", ok: bool | None = None) -> None:
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            bench = next((b for k, b in OWNER.items() if name.lstrip().startswith(k)), None)
            verdict = "not run" if bench is not None and bench not in res else "not available"
            out.append((name, "n/a", target, verdict if target else ""))
            return
        verdict = "" if ok is None else ("met" if ok else "MISSED")
        out.append((name, fmt.format(value), target, verdict))

    reaction = res.get("reaction") or {}
    for entry, how in (("rest", "orders over REST"), ("websocket", "orders over the WebSocket API")):
        r = reaction.get(entry) or {}
        w50, w99 = _get(r, "wire_to_wire_ms", "p50"), _get(r, "wire_to_wire_ms", "p99")
        add(f"wire-to-wire p50 (ms), {how}", w50, "{:.2f}", "<= 2", w50 is not None and w50 <= 2.0)
        add(f"wire-to-wire p99 (ms), {how}", w99, "{:.2f}", "<= 10", w99 is not None and w99 <= 10.0)
        add(f"wire-to-wire max (ms), {how}", _get(r, "wire_to_wire_ms", "max"), "{:.2f}")
        add("  reactions measured (missed)",
            r.get("rounds") and f"{_get(r, 'wire_to_wire_ms', 'n')} ({r.get('missed')})", "{}",
            ">= 1000" if not QUICK else "")
        add("  publish -> sim engine p50 (ms)", _get(r, "to_engine_ms", "p50"), "{:.2f}")
        legs = (f"{_get(r, 'sim_to_bot_ms', 'p50'):.2f} / {_get(r, 'bot_to_sim_ms', 'p50'):.2f}"
                if _get(r, "sim_to_bot_ms", "p50") is not None else None)
        add("  legs p50: sim->bot book / bot->sim order (ms)", legs, "{}")
        split = r.get("split_us") or {}
        add("  split p50 (us): send/wire/ccxt in/bot/ccxt out/wire/parse",
            " / ".join(f"{d['p50']:.0f}" for d in split.values()) if split else None, "{}")
        b50, b99 = _get(r, "bot_internal_us", "p50"), _get(r, "bot_internal_us", "p99")
        add(f"bot-internal p50 (us), {how}", b50, "{:.0f}")
        add("  book -> quoter cycle start p50 (us)", _get(r, "book_to_cycle_us", "p50"), "{:.0f}")
        add(f"bot-internal p99 (us), {how}", b99, "{:.0f}", "<= 300", b99 is not None and b99 <= 300.0)
        add("  p99/p50: bot-internal / host floor (bench.jitter)",
            b50 and _get(reaction, "host_jitter_us", "p99_over_p50") is not None and
            f"{b99 / b50:.1f} / {reaction['host_jitter_us']['p99_over_p50']:.1f}", "{}")
    o = res.get("overhead") or {}
    ratio = o.get("ratio")
    entry = o.get("order_entry", "?")
    add(f"overhead: bot / bare ccxt CPU per update ({entry} orders)", ratio, "{:.2f}x", "<= 1.3x",
        ratio is not None and ratio <= 1.3)
    add("  bot CPU per depth msg (us)", o.get("bot_cpu_us_per_msg"), "{:.0f}")
    rounds = o.get("rounds") or []
    add("  ratio per round: bot started first / bare started first",
        rounds and " / ".join(f"{r['ratio']:.2f}" for r in rounds), "{}")
    sl = o.get("slice_ratios") or []
    add(f"  ratio per slice ({len(sl)}, CPUs swapped after each), min-max", sl and f"{min(sl):.2f}-{max(sl):.2f}",
        "{}")
    add("  bare ccxt CPU per depth msg (us)", o.get("bare_cpu_us_per_msg"), "{:.0f}")
    c = res.get("capacity") or {}
    cap = c.get("capacity_symbols")
    bound = ">= " if c.get("bound") == "lower" else ""
    add("capacity: symbols @10 upd/s on one core", cap if cap is None else f"{bound}{cap}", "{}", ">= 100",
        cap is not None and cap >= 100)
    for step in c.get("ladder", []):
        add(f"  N={step['symbols']}: book age p50/p99 (ms), bot CPU",
            f"{step['age_ms']['p50']:.0f}/{step['age_ms']['p99']:.0f}, {100 * step['bot_cpu_fraction']:.0f}%", "{}",
            "", step["keeps_up"])
    q = _get(res, "compute", "quote", "us_per_call") or {}
    for model, d in q.items():
        add(f"make_quote {model} (us/call)", d.get("p50"), "{:.1f}")
    s = _get(res, "compute", "simulate") or {}
    sec = _get(s, "seconds", "p50")
    add("simulate 1000 x 200-step paths (s)", sec, "{:.3f}", "< 0.5", sec is not None and sec < 0.5)
    add("  simulate paths/s", s.get("paths_per_s"), "{:,.0f}")
    bt = _get(res, "compute", "backtest") or {}
    eps = bt.get("events_per_s")
    add("backtest events/s", eps, "{:,.0f}", ">= 200,000", eps is not None and eps >= 200000)
    add("  backtest events per CPU second (same runs)", bt.get("events_per_cpu_s"), "{:,.0f}")
    add("  replay of the events read from a file (events/s)", _get(bt, "from_file", "events_per_s"), "{:,.0f}")
    add("  mmbot backtest's path: file streamed, read + replay (events/s)", _get(bt, "command", "events_per_s"),
        "{:,.0f}")
    k = o.get("rss_slope_kib_per_min")
    add("memory: bot RSS slope after warm-up (KiB/min)", k, "{:+.0f}", f"flat (<= {FLAT_KIB_PER_MIN:.0f})",
        k is not None and k <= FLAT_KIB_PER_MIN)
    add("  RSS slope, second half of that window (KiB/min)", o.get("rss_slope_second_half_kib_per_min"), "{:+.0f}")
    add("  bot RSS start -> end of that window (MiB)", o.get("rss_kib_start") and
        f"{o['rss_kib_start'] / 1024:.1f} -> {o['rss_kib_end'] / 1024:.1f} over {o['memory_window_s']:.0f} s "
        f"from {o['memory_warmup_s']:.0f} s after the first quote", "{}")
    add("  bounded containers still filling in that window", o.get("rss_kib_start") and
        filling(o.get("bot_container_sizes_window_start"), o.get("bot_container_sizes_window_end")), "{}")
    add("  RSS slope over the first minute, warm-up (KiB/min)", o.get("rss_slope_cpu_window_kib_per_min"),
        "{:+.0f}")
    sc = res.get("sim_ceiling") or {}
    add("sim ceiling: depth msgs/s to one client", sc.get("msgs_per_s"), "{:,.0f}")
    add("  while matching (trades/s), sim CPU", sc.get("trades_per_s") and
        f"{sc['trades_per_s']:.0f}, {100 * sc['sim_cpu_fraction']:.0f}%", "{}")
    rc = res.get("reaction_console") or {}
    for key, what in [(f"{name}_{pct}", f"{label} {pct} ({unit})") for name, label, unit in
                      (("wire_to_wire_ms", "w2w", "ms"), ("bot_internal_us", "bot-internal", "us"))
                      for pct in ("p50", "p90", "p99")]:
        d = rc.get(key) or {}
        ratio = d.get("ratio")
        add(f"console: {what}, {rc.get('pages', 5)} pages / none ({rc.get('entry', '?')} orders)",
            ratio and f"{d['pages']:.3g} / {d['none']:.3g} = {ratio:.3f}", "{}", "<= 1.05",
            ratio is not None and ratio <= 1.05)
    by = _get(rc, "run", "by_pages") or {}
    spread = [(label, [p99 for _, p99 in by[label]["block_w2w_ms"]]) for label in ("none", "pages") if label in by]
    add("  w2w p99 per block (ms), min-max: none / pages",
        " / ".join(f"{min(v):.2f}-{max(v):.2f}" for _, v in spread if v) or None, "{}")
    h = res.get("hedge") or {}
    h50, h99 = _get(h, "spot_fill_to_hedge_ms", "p50"), _get(h, "spot_fill_to_hedge_ms", "p99")
    add("hedge: spot fill -> hedge order on the wire p50 (ms)", h50, "{:.2f}", "<= 2", h50 is not None and h50 <= 2.0)
    add("hedge: spot fill -> hedge order on the wire p99 (ms)", h99, "{:.2f}")
    add("  hedges measured (missed; of which after a bot fill)", h.get("rounds") and
        f"{_get(h, 'spot_fill_to_hedge_ms', 'n')} ({h.get('missed')}; {h.get('missed_after_a_bot_fill')})", "{}")
    research_bench.rows(res, add)
    t = res.get("tune") or {}
    per_s = t.get("trials_per_s") or {}
    add("tune: trials/s, 1 / 2 workers (speed-up)", per_s and f"{per_s['1']:.2f} / {per_s['2']:.2f} "
        f"({t['speedup']:.2f}x)", "{}", ">= 1.8x", t.get("speedup") is not None and t["speedup"] >= 1.8)
    over = t.get("overhead")
    add("  tune per-trial overhead over a bare backtest", over if over is None else f"{over:+.1%}", "{}", "<= 5%",
        over is not None and over <= 0.05)
    for name, value in res.items():
        if isinstance(value, dict) and "error" in value:
            out.append((f"{name}: FAILED", value["error"].splitlines()[-1][:60], "", "error"))
    return out


def format_table(table: list[tuple[str, str, str, str]]) -> str:
    head = ("figure", "value", "target", "verdict")
    widths = [max(len(r[i]) for r in [head, *table]) for i in range(4)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in table]
    return "\n".join([line, sep, *body])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    configure_logging("warning", "console")  # the in-process sim's info events are not the output
    only = [n for n in os.environ.get("BENCH_ONLY", "").split(",") if n] or argv or list(BENCHMARKS)
    unknown = [n for n in only if n not in BENCHMARKS]
    if unknown:
        print(f"bench: unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    results: dict[str, Any] = {
        "meta": {
            "quick": QUICK,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "build": bot.compiled(),  # "mypyc" or "pure" hot modules (setup.py)
        }
    }
    for name in only:
        t0 = time.monotonic()
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        try:
            results[name] = BENCHMARKS[name]()
        except Exception as exc:  # one broken benchmark must not hide the others
            results[name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        results[name]["elapsed_s"] = round(time.monotonic() - t0, 2)
        print(f"bench: {name} done in {results[name]['elapsed_s']} s", file=sys.stderr, flush=True)
    table = rows(results)
    results["table"] = [dict(zip(("figure", "value", "target", "verdict"), r, strict=True)) for r in table]
    out = Path(os.environ.get("BENCH_OUT") or REPO / "bench" / "results.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=float) + "\n")
    print(format_table(table))
    print(f"\nbench: JSON written to {out}")
    return 1 if any("error" in v for v in results.values() if isinstance(v, dict)) else 0
