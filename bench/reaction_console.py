"""8. Reaction latency with open console pages: does monitoring slow the quoter?

The reaction benchmark (:mod:`bench.reaction`) over one order entry, its rounds in blocks (:func:`bench.reaction.plan`:
none, pages, pages, none, ...): in half of them ``PAGES`` console pages are open, ``GET /console/stream`` read by a
child process of its own (:class:`bench.sseclient.Pages`, pinned to the sim's core, as browsers run beside the bot
and not inside it), each page parsing every frame; in the other half none is. One bot process serves both kinds
of block, so what differs between them is the pages alone (two bot processes differ by more than 5% between
themselves on this host). Figures: wire-to-wire and bot-internal p50, p90 and p99 of each kind; ``ratio`` is pages /
none (target: within 5%, i.e. <= 1.05).
"""

from __future__ import annotations

import os
from typing import Any

from bench.common import QUICK
from bench.reaction import NONE, PAGES, measure

N_PAGES = 5
#: the figures compared: (key in a run's ``by_pages``, percentile)
FIGURES = tuple((name, pct) for name in ("wire_to_wire_ms", "bot_internal_us") for pct in ("p50", "p90", "p99"))


async def run(rounds: int | None = None, entry: str | None = None, pages: int = N_PAGES) -> dict[str, Any]:
    """``rounds`` reactions per kind of block over ``entry`` (default ``BENCH_ORDER_ENTRY``, else ``websocket``:
    what ``auto`` picks on the sim)."""
    entry = entry or os.environ.get("BENCH_ORDER_ENTRY") or "websocket"
    per_side = rounds or (100 if QUICK else 1000)
    blocks = 4 if QUICK else 40  # blocks of 50 rounds: a burst of the host's own load falls on both kinds alike
    result: dict[str, Any] = {"entry": entry, "pages": pages, "blocks": blocks}
    run_ = await measure(entry, 2 * per_side, console_pages=pages, blocks=blocks)
    result["run"] = run_
    for name, pct in FIGURES:
        side = {label: (run_["by_pages"][label].get(name) or {}).get(pct) for label in (NONE, PAGES)}
        none, some = side[NONE], side[PAGES]
        ratio = some / none if isinstance(none, float) and isinstance(some, float) and none > 0 else None
        result[f"{name}_{pct}"] = {"none": none, "pages": some, "ratio": ratio}
    return result
