"""A price-time priority limit order book for one symbol.

Prices are integer ticks, quantities integer lots (multiples of the step size). Each level is an
insertion-ordered dict (order id -> order), so FIFO within a level and O(1) cancel. The book only
moves quantities; balances are the engine's job. Changed levels are remembered until
``take_changes()`` so the caller can publish depth diffs with absolute level quantities.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass

BUY = "BUY"
SELL = "SELL"


@dataclass(slots=True, eq=False)
class Order:
    """An order in the exchange. ``price`` is 0 for market orders; ``locked`` is atoms still reserved."""

    id: int
    symbol: str
    account: str
    side: str
    type: str
    tif: str
    price: int
    orig: int
    client_id: str
    time: int
    executed: int = 0
    cum_quote: int = 0
    status: str = "NEW"
    update_time: int = 0
    locked: int = 0
    quote_limit: int = 0  # MARKET buy by quoteOrderQty: atoms still to spend

    @property
    def remaining(self) -> int:
        return self.orig - self.executed

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")


class Book:
    """Bids and asks at integer tick prices with FIFO queues per level."""

    def __init__(self) -> None:
        self._levels: dict[str, dict[int, dict[int, Order]]] = {BUY: {}, SELL: {}}
        self._prices: dict[str, list[int]] = {BUY: [], SELL: []}  # ascending
        self.qty: dict[str, dict[int, int]] = {BUY: {}, SELL: {}}
        self.changed: dict[str, set[int]] = {BUY: set(), SELL: set()}
        self.dirty = False

    # -- queries ---------------------------------------------------------------------------
    def best(self, side: str) -> int | None:
        prices = self._prices[side]
        if not prices:
            return None
        return prices[-1] if side == BUY else prices[0]

    def prices(self, side: str) -> list[int]:
        """Prices best first."""
        prices = self._prices[side]
        return prices[::-1] if side == BUY else list(prices)

    def depth(self, side: str, limit: int) -> list[tuple[int, int]]:
        """(price, total lots) for the best ``limit`` levels."""
        prices = self._prices[side]
        chosen = prices[: -limit - 1 : -1] if side == BUY else prices[:limit]
        qty = self.qty[side]
        return [(p, qty[p]) for p in chosen]

    def orders_at(self, side: str, price: int) -> list[Order]:
        return list(self._levels[side].get(price, {}).values())

    def crosses(self, side: str, price: int) -> bool:
        """Would a limit order of ``side`` at ``price`` match immediately?"""
        opp = self.best(SELL if side == BUY else BUY)
        if opp is None:
            return False
        return price >= opp if side == BUY else price <= opp

    def sweep(self, side: str, limit: int | None, lots: int) -> list[tuple[int, int]]:
        """The (price, lots) a taker of ``side`` would get, without changing the book."""
        out: list[tuple[int, int]] = []
        opp = SELL if side == BUY else BUY
        for price in self._iter_prices(opp):
            if lots <= 0 or (limit is not None and not _acceptable(side, price, limit)):
                break
            take = min(lots, self.qty[opp][price])
            out.append((price, take))
            lots -= take
        return out

    # -- changes ---------------------------------------------------------------------------
    def add(self, order: Order) -> None:
        side, price = order.side, order.price
        level = self._levels[side].get(price)
        if level is None:
            level = self._levels[side][price] = {}
            insort(self._prices[side], price)
            self.qty[side][price] = 0
        level[order.id] = order
        self.qty[side][price] += order.remaining
        self._touch(side, price)

    def remove(self, order: Order) -> bool:
        """Take a resting order out; False if it was not in the book."""
        side, price = order.side, order.price
        level = self._levels[side].get(price)
        if level is None or level.pop(order.id, None) is None:
            return False
        self.qty[side][price] -= order.remaining
        if not level:
            self._drop_level(side, price)
        self._touch(side, price)
        return True

    def match(self, side: str, limit: int | None, lots: int) -> list[tuple[Order, int, int]]:
        """Fill a taker of ``side`` for up to ``lots`` against the opposite side, best price first,
        oldest order first. Returns (maker, price, lots) and updates the makers' ``executed``;
        fully filled makers leave the book (their status is the caller's job)."""
        fills: list[tuple[Order, int, int]] = []
        opp = SELL if side == BUY else BUY
        while lots > 0:
            price = self.best(opp)
            if price is None or (limit is not None and not _acceptable(side, price, limit)):
                break
            level = self._levels[opp][price]
            for maker in list(level.values()):
                take = min(lots, maker.remaining)
                maker.executed += take
                self.qty[opp][price] -= take
                fills.append((maker, price, take))
                lots -= take
                if maker.remaining == 0:
                    del level[maker.id]
                if lots == 0:
                    break
            if not level:
                self._drop_level(opp, price)
            self._touch(opp, price)
        return fills

    def take_changes(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Changed levels since the last call as (price, lots) with 0 for removed levels."""
        bids = [(p, self.qty[BUY].get(p, 0)) for p in sorted(self.changed[BUY], reverse=True)]
        asks = [(p, self.qty[SELL].get(p, 0)) for p in sorted(self.changed[SELL])]
        self.changed[BUY].clear()
        self.changed[SELL].clear()
        return bids, asks

    # -- internals -------------------------------------------------------------------------
    def _iter_prices(self, side: str) -> list[int]:
        prices = self._prices[side]
        return prices[::-1] if side == BUY else prices

    def _drop_level(self, side: str, price: int) -> None:
        del self._levels[side][price]
        del self.qty[side][price]
        prices = self._prices[side]
        del prices[bisect_left(prices, price)]

    def _touch(self, side: str, price: int) -> None:
        self.changed[side].add(price)
        self.dirty = True


def _acceptable(side: str, price: int, limit: int) -> bool:
    return price <= limit if side == BUY else price >= limit
