"""The ``/status`` document: what a running bot reports and ``mmbot status`` prints.

Shape (numbers in quote currency / base units / seconds; None where unknown)::

    {"killed": bool, "kill_reason": str | None, <extra fields, e.g. "venue", "uptime">,
     "symbols": {SYMBOL: {"q", "limit", "mid", "bid", "ask", "fills", "feed_age", "balances", "tick", "lot",
                          <Inventory.report(mid) keys: "avg_entry", "realized_pnl", "unrealized_pnl",
                           "fees", "total_pnl", "spread_captured", "skew_cost", "inventory_pnl",
                           "markout_<h>", "markout_<h>_count", "markout_<h>_bps" for h in 1s, 10s, 60s>}}}

``total_pnl = spread_captured + inventory_pnl - fees`` (see :mod:`bot.core.inventory`). ``balances``:
``{ASSET: {"change": ..., ...}}`` by the bot's accounting since start-up (the live service's
:func:`bot.live.telemetry.balances`), not a venue read.
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
    balances: Mapping[str, Mapping[str, Any]] | None = None,
    tick: float | None = None,
    lot: float | None = None,
) -> dict[str, Any]:
    """One symbol's entry: the accounting ``snapshot`` (``Inventory.report(mid, ...)`` or ``snapshot(mid)``)
    plus market, limit and, when given, the balances and the symbol's ``tick`` and ``lot`` (the digits
    ``mmbot status`` prints prices and sizes with)."""
    entry: dict[str, Any] = {**snapshot, "limit": limit, "mid": mid, "bid": bid, "ask": ask, "fills": fills,
                             "feed_age": feed_age}
    if tick is not None:
        entry["tick"] = tick
    if lot is not None:
        entry["lot"] = lot
    if balances is not None:
        entry["balances"] = {asset: dict(b) for asset, b in balances.items()}
    return entry


def status_document(symbols: Mapping[str, Mapping[str, Any]], kill_reason: str | None, **extra: Any) -> dict[str, Any]:
    """The whole document; ``extra`` fields (``venue``, ``uptime``...) are shown as ``key: value`` lines."""
    return {"killed": kill_reason is not None, "kill_reason": kill_reason, **extra, "symbols": dict(symbols)}
