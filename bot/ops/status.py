"""The ``/status`` document: what a running bot reports and ``mmbot status`` prints.

Shape (numbers in quote currency / base units / seconds; None where unknown)::

    {"killed": bool, "kill_reason": str | None, <extra fields, e.g. "venue", "uptime">,
     "symbols": {SYMBOL: {"q", "limit", "mid", "bid", "ask", "fills", "feed_age",
                          <Inventory.snapshot(mid) keys: "avg_entry", "realized_pnl", "unrealized_pnl",
                           "fees", "total_pnl", "spread_captured", "skew_cost">}}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def symbol_status(
    snapshot: Mapping[str, float],
    *,
    limit: float,
    mid: float | None,
    bid: float | None,
    ask: float | None,
    fills: int,
    feed_age: float | None,
) -> dict[str, Any]:
    """One symbol's entry: the accounting ``snapshot`` (``Inventory.snapshot(mid)``) plus market and limit."""
    return {**snapshot, "limit": limit, "mid": mid, "bid": bid, "ask": ask, "fills": fills, "feed_age": feed_age}


def status_document(symbols: Mapping[str, Mapping[str, Any]], kill_reason: str | None, **extra: Any) -> dict[str, Any]:
    """The whole document; ``extra`` fields (``venue``, ``uptime``...) are shown as ``key: value`` lines."""
    return {"killed": kill_reason is not None, "kill_reason": kill_reason, **extra, "symbols": dict(symbols)}
