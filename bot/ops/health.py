"""Readiness of a running bot, as a pure function of its feed ages and kill switch.

Ready means: at least one symbol runs, every symbol has an order book no older than its
``risk.stale_after``, and the kill switch has not tripped. The reason string names the first problem
(kill first, then a symbol without a book, then the stalest book), or says how fresh the feed is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping


def readiness(
    feed_ages: Mapping[str, float],
    stale_after: Mapping[str, float] | float,
    kill_reason: str | None = None,
) -> tuple[bool, str]:
    """``(ready, reason)`` from each symbol's book age in seconds (``inf`` = no streamed update yet).

    ``stale_after`` is one threshold for every symbol or one per symbol (per-symbol risk overrides).
    """
    if kill_reason is not None:
        return False, f"killed: {kill_reason}"
    if not feed_ages:
        return False, "no symbol running yet"

    def limit(symbol: str) -> float:
        return stale_after[symbol] if isinstance(stale_after, Mapping) else stale_after

    missing = sorted(s for s, age in feed_ages.items() if math.isinf(age) or math.isnan(age))
    if missing:
        return False, "no streamed book update yet: " + ", ".join(missing)
    stale = {s: age for s, age in feed_ages.items() if age > limit(s)}
    if stale:
        symbol = max(stale, key=lambda s: stale[s] - limit(s))
        others = f" (+{len(stale) - 1} more)" if len(stale) > 1 else ""
        return False, f"feed stale: {symbol} book {stale[symbol]:.1f}s old > {limit(symbol):g}s{others}"
    oldest = max(feed_ages.values())
    return True, f"feed fresh (oldest book {oldest:.1f}s)"
