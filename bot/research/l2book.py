"""The one L2 order book of the research tools (backtest, calibration, recording checks); pure."""

from __future__ import annotations

import math
from typing import Any

from bot.research.events import BookEvent


class L2Book:
    """An L2 book kept from snapshot and diff events (size 0 removes a level), with a cached touch (diffs
    rarely move it, so max/min are rarely recomputed): ``best_bid``/``best_ask`` are None while a side is empty."""

    __slots__ = ("asks", "best_ask", "best_bid", "bids")

    def __init__(self) -> None:
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.best_bid: float | None = None
        self.best_ask: float | None = None

    def apply(self, event: BookEvent) -> None:
        # The dicts take the event's own price and size objects (``Any`` here): typed as floats, the
        # compiled build would unbox each one and box it again for the dict, two allocations a level.
        # Comparisons use unboxed copies, and the touch is a plain float (-inf / inf: that side is empty).
        bids: dict[Any, Any] = self.bids
        asks: dict[Any, Any] = self.asks
        bid_levels: tuple[tuple[Any, Any], ...] = event.bids
        ask_levels: tuple[tuple[Any, Any], ...] = event.asks
        price: float
        size: float
        if event.snapshot:
            bids.clear()
            asks.clear()
            for p, q in bid_levels:
                size = q
                if size > 0.0:
                    bids[p] = q
            for p, q in ask_levels:
                size = q
                if size > 0.0:
                    asks[p] = q
            self.best_bid = max(bids) if bids else None
            self.best_ask = min(asks) if asks else None
            return
        best: float = -math.inf if self.best_bid is None else self.best_bid
        for p, q in bid_levels:
            size, price = q, p
            if size > 0.0:
                bids[p] = q
                if price > best:
                    best = price
            elif bids.pop(p, None) is not None and price == best:
                best = max(bids) if bids else -math.inf
        self.best_bid = None if best == -math.inf else best
        best = math.inf if self.best_ask is None else self.best_ask
        for p, q in ask_levels:
            size, price = q, p
            if size > 0.0:
                asks[p] = q
                if price < best:
                    best = price
            elif asks.pop(p, None) is not None and price == best:
                best = min(asks) if asks else math.inf
        self.best_ask = None if best == math.inf else best

    def mid(self) -> float | None:
        """Mid of the touch; None while a side is empty or the book is crossed."""
        bid, ask = self.best_bid, self.best_ask
        if bid is None or ask is None or bid >= ask:
            return None
        return 0.5 * (bid + ask)
