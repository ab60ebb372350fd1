"""Worst-case exposure of resting and in-flight orders, checked before every create (pure).

For one symbol with inventory ``q``, open buy size ``B`` and open sell size ``S`` (resting at the venue
or sent and not yet acknowledged), the worst cases are every buy filling (``q + B``) or every sell
filling (``q - S``). A new buy of size ``a`` is allowed only if

    q + B + a <= L                                  (position limit)
    |q + B + a| * price <= N                        (per-symbol notional, when N is set)
    sum over symbols of worst_notional <= T         (total notional, when T is set; an order that
                                                     does not raise the sum is never blocked by it)

and a sell symmetrically (``q - S - a >= -L`` ...). ``worst_notional`` of a symbol is
``max(|q + B|, |q - S|) * mark``. Fills preserve ``q + B`` (a buy fill moves size from ``B`` into ``q``)
and only lower it otherwise, so if every create passes this check the worst case holds at every instant.

That needs ``B`` and ``S`` to cover every size that may still be booked into ``q``, not only the orders
believed resting: an order that left the book (cancelled, reported done, not found) can still have
fills on their way. :func:`unbooked` is that size for one order of ``amount`` with ``booked`` already
in ``q``: ``amount - booked`` while the venue's final executed size ``F`` is unknown, ``F - booked``
once it is known (both at least 0). It only shrinks when a fill is booked (and ``q`` grows by as much)
or when the venue's final word arrives, so the sum stays an upper bound on the fills still to come.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.core.quote import Side

POSITION = "position limit"
NOTIONAL = "max notional"
TOTAL_NOTIONAL = "max total notional"


@dataclass(frozen=True, slots=True)
class Exposure:
    """One symbol's position ``q`` and open order sizes (base units); ``mark`` prices it (quote)."""

    q: float
    open_buy: float = 0.0
    open_sell: float = 0.0
    mark: float | None = None

    @property
    def worst_long(self) -> float:
        return self.q + self.open_buy

    @property
    def worst_short(self) -> float:
        return self.q - self.open_sell

    def worst_abs(self) -> float:
        return max(abs(self.worst_long), abs(self.worst_short))

    def with_order(self, side: Side, amount: float) -> Exposure:
        if side == "buy":
            return Exposure(self.q, self.open_buy + amount, self.open_sell, self.mark)
        return Exposure(self.q, self.open_buy, self.open_sell + amount, self.mark)


def unbooked(amount: float, booked: float, final_filled: float | None = None) -> float:
    """The most of one order that may still be booked: ``min(amount, F) - booked`` (``F`` = final
    executed size, ``amount`` while unknown), at least 0."""
    cap = amount if final_filled is None else min(amount, final_filled)
    return max(0.0, cap - booked)


@dataclass(frozen=True, slots=True)
class ExposureLimits:
    """``max_position`` L (base), ``max_notional`` N per symbol and ``max_total_notional`` T (quote)."""

    max_position: float
    max_notional: float | None = None
    max_total_notional: float | None = None


def check_order(
    symbol: str,
    side: Side,
    amount: float,
    price: float,
    book: Mapping[str, Exposure],
    limits: ExposureLimits,
    eps: float = 1e-12,
) -> str | None:
    """None when a new order may be sent, else the limit it would break (see the module docstring).

    ``book`` holds every symbol of the process (``symbol`` must be in it); the other symbols are
    valued at their ``mark`` (a symbol without a mark counts 0 towards the total).
    """
    if amount <= 0:
        return None
    after = book[symbol].with_order(side, amount)
    worst = after.worst_long if side == "buy" else -after.worst_short
    if worst > limits.max_position + eps:
        return POSITION
    mark = price if price > 0 else (after.mark or 0.0)
    if limits.max_notional is not None and worst * mark > limits.max_notional + eps:
        return NOTIONAL
    if limits.max_total_notional is not None:
        others = sum(e.worst_abs() * e.mark for s, e in book.items() if s != symbol and e.mark is not None)
        before = book[symbol].worst_abs() * mark + others
        total = after.worst_abs() * mark + others
        if total > limits.max_total_notional + eps and total > before + eps:
            return TOTAL_NOTIONAL
    return None
