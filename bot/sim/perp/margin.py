"""Positions and cross-margin arithmetic of the simulated perpetual, in integer atoms (pure).

A position is a signed quantity in lots and a signed entry cost in quote atoms (the sum of
``price * lots * k`` over the lots still open, ``k`` = quote atoms per tick per lot). Closing ``c`` of
``|q|`` lots releases ``|cost| * c // |q|`` of the cost and realizes the difference to the exit
quote, so ``wallet - cost`` moves by exactly the trade's cash flow (``-p*q*k`` for a buy): summed over
every account (the house holds the other side of everyone), ``wallets + unrealized at a common mark``
plus the fee and funding pots is conserved exactly, whatever the rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(slots=True)
class Position:
    """One position: ``qty`` signed lots, ``cost`` signed quote atoms, ``realized`` cumulative atoms."""

    qty: int = 0
    cost: int = 0
    realized: int = 0
    update_time: int = 0


def apply_fill(pos: Position, lots: int, price: int, k: int) -> int:
    """Trade ``lots`` (signed: > 0 buys) at ``price`` ticks into ``pos``; returns the realized P&L (atoms).

    Closes first (at the average entry), then opens the rest on the other side."""
    if lots == 0:
        return 0
    if pos.qty == 0 or (pos.qty > 0) == (lots > 0):
        pos.qty += lots
        pos.cost += lots * price * k
        return 0
    sign = 1 if pos.qty > 0 else -1
    held = abs(pos.qty)
    closed = min(abs(lots), held)
    released = abs(pos.cost) * closed // held
    realized = sign * (closed * price * k - released)
    pos.qty -= sign * closed
    pos.cost -= sign * released
    rest = abs(lots) - closed
    if rest:
        pos.qty = -sign * rest
        pos.cost = -sign * rest * price * k
    pos.realized += realized
    return realized


def unrealized(pos: Position, mark: int, k: int) -> int:
    """P&L of the open lots at ``mark`` ticks (atoms)."""
    return pos.qty * mark * k - pos.cost


def notional(lots: int, price: int, k: int) -> int:
    """|lots| at ``price`` ticks, atoms."""
    return abs(lots) * price * k


def initial_margin(notional_atoms: int, leverage: int) -> int:
    """Initial margin of a notional at ``leverage``, rounded up to the atom."""
    return -(-notional_atoms // leverage)


def maint_margin(notional_atoms: int, rate: Fraction) -> int:
    """Maintenance margin of a notional at ``rate``, rounded up to the atom."""
    return -(-notional_atoms * rate.numerator // rate.denominator)


def opening_lots(qty: int, side_sign: int, lots: int) -> int:
    """One-way mode: how many of ``lots`` (side ``side_sign`` = +1 buy / -1 sell) open or grow the
    position rather than close it."""
    if qty == 0 or (qty > 0) == (side_sign > 0):
        return lots
    return max(0, lots - abs(qty))


def cost_per_lot(pos: Position) -> Fraction:
    """The average entry in quote atoms per lot (the entry price in ticks times ``k``); 0 when flat."""
    return Fraction(abs(pos.cost), abs(pos.qty)) if pos.qty else Fraction(0)


def liquidation_mark(wallet_rest: int, pos: Position, rate: Fraction, k: int) -> Fraction | None:
    """The mark (ticks) at which ``wallet_rest + unrealized(pos) == maintenance(pos)``: an estimate for
    cross margin, the other positions' P&L held fixed in ``wallet_rest`` and their maintenance not
    counted; None when flat or never (<= 0)."""
    q = pos.qty
    if q == 0:
        return None
    # wallet_rest + q*m*k - cost = |q|*m*k*rate  ->  m = (cost - wallet_rest) / (k * (q - |q|*rate))
    denom = k * (q - abs(q) * rate)
    if denom == 0:
        return None
    mark = Fraction(pos.cost - wallet_rest) / denom
    return mark if mark > 0 else None
