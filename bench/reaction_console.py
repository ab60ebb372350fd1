"""8. Reaction latency with open console pages: does monitoring slow the quoter?

The reaction benchmark (:mod:`bench.reaction`) over one order entry, run alternately without and with
``PAGES`` console pages open: ``GET /console/stream`` read by a child process of its own
(:mod:`bench.sseclient`, pinned to the sim's core, as browsers would run beside the bot and not inside it),
each page parsing every frame. Runs in the order none, pages, pages, none (``BENCH_QUICK``: none, pages), so a
drift of the host over the runs weighs on both sides alike. Each figure (wire-to-wire and bot-internal, p50
and p99) is the mean over a side's runs; ``ratio`` is pages / none (target: within 5%, i.e. <= 1.05).
"""

from __future__ import annotations

from typing import Any

from bench.common import QUICK
from bench.reaction import measure

PAGES = 5
#: the figures compared: (key in a run's result, percentile)
FIGURES = (("wire_to_wire_ms", "p50"), ("wire_to_wire_ms", "p99"), ("bot_internal_us", "p50"),
           ("bot_internal_us", "p99"))


async def run(rounds: int | None = None, entry: str = "websocket", pages: int = PAGES) -> dict[str, Any]:
    """Runs without and with ``pages`` open pages over ``entry`` (the sim's default ``auto`` order entry)."""
    order = (0, pages) if QUICK else (0, pages, pages, 0)
    runs = [await measure(entry, rounds or (100 if QUICK else 1000), console_pages=n) for n in order]
    result: dict[str, Any] = {"entry": entry, "pages": pages, "order": list(order), "runs": runs}
    for name, pct in FIGURES:
        side = {n: [r[name][pct] for r, m in zip(runs, order, strict=True) if m == n] for n in (0, pages)}
        none, some = sum(side[0]) / len(side[0]), sum(side[pages]) / len(side[pages])
        result[f"{name}_{pct}"] = {"none": none, "pages": some, "ratio": some / none if none > 0 else None}
    return result
