"""The paper fill model: when a virtual resting order would have traded, judged from public data.

Pure and deterministic (no clock, no I/O, no randomness). Prices in quote currency, sizes in base.
The paper orders are not in the real book, so every rule below is about what the public tape and
book imply for an order that *would* have been resting at its price:

1. **Trade through.** A public trade strictly beyond the order's price (a taker sell below our
   bid, a taker buy above our ask) must have passed our price first: the order fills at its own
   price, ``min(remaining, trade size)``.
2. **Queue.** On joining, the order sits behind ``level_size_now``, the displayed size at its price.
   That queue ahead shrinks by trades at the order's price and by cancellations at the level
   (below). Trade size at the order's price beyond what is left of the queue fills the order at
   its price. An order joining an empty level (e.g. inside the spread) has no queue ahead.
3. **Cross.** A book whose opposite best price reaches the order (best ask <= our bid, best bid
   >= our ask) fills it at its own price, by the size shown at prices that reach it when the caller
   passes the levels, else the whole remainder.

Partial fills follow trade sizes: the size of one print is a budget shared by all our orders it
reaches, best price first, then oldest first; no print fills more than its own size, so orders
never fill all at once by magic. Each fill pays ``maker_fee`` (a rate; negative for a rebate) on
its notional. With ``lot`` > 0 every fill is a whole number of lots (rounded down; a print too
small for one lot fills nothing but still eats the queue ahead), so paper fills are amounts a venue
could report.

Cancellations (``cancel_model``): when :meth:`PaperBook.on_book` shows the order's level smaller
than the previous observation minus the trades seen at that price since, the difference was
cancelled.

* ``"proportional"`` (default): cancellations are spread evenly over the level, so the queue
  ahead shrinks by ``cancelled * queue_ahead / level_size_before``.
* ``"conservative"``: cancellations come from behind us; the queue ahead only shrinks by trades.

In both models the queue ahead never exceeds the level's current size (what is gone cannot be
ahead of us), and size added to the level joins behind us.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from mypy_extensions import mypyc_attr

from bot.core.quote import Side

CancelModel = Literal["proportional", "conservative"]
_EPS = 1e-12


@dataclass(frozen=True, init=False)
class PaperMatch:
    """What the paper fill model says one resting paper order traded: ``size`` at ``price`` (not yet a booked
    :class:`bot.core.inventory.Fill`; the paper venue turns it into a trade report)."""

    order_id: str
    side: Side
    price: float
    size: float
    fee: float  # quote currency; positive = paid, negative = rebate
    reason: Literal["trade_through", "queue", "cross"]
    remaining: float  # order size left after this fill

    def __init__(
        self, order_id: str, side: Side, price: float, size: float, fee: float,
        reason: Literal["trade_through", "queue", "cross"], remaining: float,
    ) -> None:
        # the frozen dataclass's __init__, written out: compiled by mypyc (setup.py) these are direct field
        # stores, where the generated __init__ would stay interpreted (equality, hash, repr, immutability unchanged)
        object.__setattr__(self, "order_id", order_id)
        object.__setattr__(self, "side", side)
        object.__setattr__(self, "price", price)
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "fee", fee)
        object.__setattr__(self, "reason", reason)
        object.__setattr__(self, "remaining", remaining)


@dataclass(slots=True)
class PaperOrder:
    order_id: str
    side: Side
    price: float
    size: float
    queue_ahead: float
    level_size: float  # displayed size at the order's price at the last observation
    seq: int
    filled: float = 0.0

    @property
    def remaining(self) -> float:
        return self.size - self.filled


@mypyc_attr(allow_interpreted_subclasses=True)  # the tests subclass it (a reference implementation)
class PaperBook:
    """Resting paper orders of one symbol and the fill rules of the module docstring."""

    def __init__(
        self, maker_fee: float = 0.0, cancel_model: CancelModel = "proportional", lot: float = 0.0
    ) -> None:
        if not math.isfinite(maker_fee) or abs(maker_fee) >= 1:
            raise ValueError(f"maker_fee is a rate (e.g. 0.001 for 10 bp), got {maker_fee!r}")
        if cancel_model not in ("proportional", "conservative"):
            raise ValueError(f"cancel_model must be proportional or conservative, got {cancel_model!r}")
        if not (math.isfinite(lot) and lot >= 0):
            raise ValueError(f"lot must be >= 0, got {lot!r}")
        self.maker_fee = maker_fee
        self.lot = lot
        self.cancel_model = cancel_model
        self._orders: dict[str, PaperOrder] = {}
        self._seq = 0
        self.best_bid: float | None = None
        self.best_ask: float | None = None

    # -- orders -----------------------------------------------------------------------------
    @property
    def orders(self) -> list[PaperOrder]:
        """Open orders, oldest first."""
        return list(self._orders.values())

    def get(self, order_id: str) -> PaperOrder | None:
        return self._orders.get(order_id)

    def would_cross(self, side: Side, price: float) -> bool:
        """True if an order at ``price`` would take liquidity against the last book seen."""
        if side == "buy":
            return self.best_ask is not None and price >= self.best_ask
        return self.best_bid is not None and price <= self.best_bid

    def add_order(self, order_id: str, side: Side, price: float, size: float, level_size_now: float) -> None:
        """Rest an order behind ``level_size_now`` (the displayed size at ``price`` right now).

        The caller decides what to do with an order that :meth:`would_cross` (reject it as
        post-only, or fill it as a taker); one added anyway fills by rule 3 on the next book.
        """
        if order_id in self._orders:
            raise ValueError(f"duplicate order id {order_id!r}")
        if side not in ("buy", "sell"):
            raise ValueError(f"side must be buy or sell, got {side!r}")
        # finite and positive (NaN and inf fail the chained comparisons)
        if not 0.0 < price < math.inf:
            raise ValueError(f"price must be positive, got {price!r}")
        if not 0.0 < size < math.inf:
            raise ValueError(f"size must be positive, got {size!r}")
        if not 0.0 <= level_size_now < math.inf:
            raise ValueError(f"level_size_now must be >= 0, got {level_size_now!r}")
        self._seq += 1
        self._orders[order_id] = PaperOrder(order_id, side, price, size, level_size_now, level_size_now, self._seq)

    def cancel(self, order_id: str) -> PaperOrder | None:
        """Remove an order; returns it (with what was filled), or None if it is not open."""
        return self._orders.pop(order_id, None)

    # -- market data ------------------------------------------------------------------------
    def on_trade(self, price: float, size: float, taker_side: Side | None = None) -> list[PaperMatch]:
        """A public trade. ``taker_side`` None means unknown: it may reach orders on either side."""
        if not (math.isfinite(price) and price > 0 and math.isfinite(size) and size > 0):
            raise ValueError(f"trade price and size must be positive, got {price!r}, {size!r}")
        fills: list[PaperMatch] = []
        # A taker sell reaches our bids at >= price, a taker buy our asks at <= price.
        for maker_side in ("buy", "sell"):
            if taker_side is not None and taker_side == maker_side:
                continue
            if maker_side == "buy":
                reached = [o for o in self._orders.values() if o.side == "buy" and price <= o.price]
                if len(reached) > 1:
                    reached.sort(key=lambda o: (-o.price, o.seq))
            else:
                reached = [o for o in self._orders.values() if o.side == "sell" and price >= o.price]
                if len(reached) > 1:
                    reached.sort(key=lambda o: (o.price, o.seq))
            budget = size
            for order in reached:
                if order.price == price:
                    # Rule 2: the print first eats the real queue ahead of us.
                    available = size - order.queue_ahead
                    order.queue_ahead = max(0.0, order.queue_ahead - size)
                    order.level_size = max(0.0, order.level_size - size)
                    if available <= _EPS or budget <= _EPS:
                        continue
                    fill = self._fill(order, min(available, budget), "queue")
                else:
                    if budget <= _EPS:
                        continue
                    fill = self._fill(order, budget, "trade_through")
                if fill is None:
                    continue
                budget -= fill.size
                fills.append(fill)
        return fills

    def on_book(
        self,
        best_bid: float | None,
        best_ask: float | None,
        bid_sizes: Mapping[float, float] | None = None,
        ask_sizes: Mapping[float, float] | None = None,
    ) -> list[PaperMatch]:
        """A book update: the touch, and optionally the displayed size per price of each side.

        Levels at prices within the range the mapping covers but absent from it are empty; prices
        beyond its deepest level are unknown and leave those orders' queues unchanged.
        """
        self.best_bid, self.best_ask = best_bid, best_ask
        fills: list[PaperMatch] = []
        if not self._orders:
            return fills
        proportional = self.cancel_model == "proportional"
        for order in list(self._orders.values()):
            price = order.price
            if order.side == "buy":
                crossed = best_ask is not None and best_ask <= price
                opposite, own = ask_sizes, bid_sizes
            else:
                crossed = best_bid is not None and best_bid >= price
                opposite, own = bid_sizes, ask_sizes
            if crossed:
                size = order.size - order.filled
                if opposite:
                    size = min(size, self._depth_reaching(order, opposite))
                fill = self._fill(order, size, "cross") if size > _EPS else None
                if fill is not None:
                    fills.append(fill)
                if order.order_id not in self._orders:
                    continue
            if own:
                # the order's level now (rule 2's queue): shown, empty (inside the covered range), or unknown
                level = own.get(price)
                if level is None:
                    if price > min(own) if order.side == "buy" else price < max(own):
                        level = 0.0
                    else:
                        continue
                elif not level > 0.0:
                    level = 0.0
                # cancellations since the last observation (see the module docstring)
                before = order.level_size
                queue = order.queue_ahead
                if proportional and before > level and before > 0:
                    queue -= (before - level) * queue / before
                order.queue_ahead = max(0.0, min(queue, level))
                order.level_size = level
        return fills

    # -- internals --------------------------------------------------------------------------
    @staticmethod
    def _depth_reaching(order: PaperOrder, levels: Mapping[float, float]) -> float:
        """Total size shown at opposite-side prices that reach ``order`` (summed in the mapping's order)."""
        price = order.price
        if order.side == "buy":
            return sum(q for p, q in levels.items() if p <= price)
        return sum(q for p, q in levels.items() if p >= price)

    def _fill(
        self, order: PaperOrder, size: float, reason: Literal["trade_through", "queue", "cross"]
    ) -> PaperMatch | None:
        size = min(size, order.remaining)
        if self.lot > 0:
            size = round(math.floor(size / self.lot + 1e-9) * self.lot, 12)
            if size <= _EPS:
                return None
        order.filled += size
        remaining = order.remaining
        if remaining <= _EPS:
            remaining = 0.0
            order.filled = order.size
            del self._orders[order.order_id]
        fee = size * order.price * self.maker_fee
        return PaperMatch(order.order_id, order.side, order.price, size, fee, reason, remaining)
