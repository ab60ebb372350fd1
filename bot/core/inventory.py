"""Position and P&L accounting for one symbol (pure).

Conventions. ``q`` is the bot's inventory in base units and starts at 0 when the bot starts: it is the
change of the account's base balance since start-up, not the balance itself (a venue account usually
holds base currency the bot never traded). ``cash`` is likewise the change of the quote balance.
Positions are kept exactly as :class:`~decimal.Decimal` (sums of venue decimal amounts), so ``q`` can be
compared exactly with the venue's balance delta; money figures are floats in quote currency.

A fill ``(side, price p, amount a, fee f in currency c)`` changes the account by:
- buy:  base ``+a``, quote ``-a*p``;   sell: base ``-a``, quote ``+a*p``;
- fee in quote: quote ``-f``;  fee in base: base ``-f`` (valued at ``f*p`` quote); other currencies are
  recorded in ``fees`` at the given ``fee_cost_quote`` and do not touch base or quote.

A base-currency fee is booked as a disposal of ``f`` base at the fill price whose proceeds go to fees,
so it moves ``q`` like a trade and ``fees`` by ``f*p``.

P&L by average cost: ``avg_entry`` is the mean price of the open position; reducing it at ``p`` realises
``closed * (p - avg_entry) * sign(q)``; crossing zero opens the remainder at ``p``. Then, for any mark
``m``::

    realized + unrealized(m) - fees == cash + q * m        (total P&L, mark-to-market, net of fees)

with ``unrealized(m) = q * (m - avg_entry)``.

Spread metrics, per fill of amount ``a`` (positive = good for the bot):
- ``spread_captured``: ``(mid_fill - p) * a`` for a buy, ``(p - mid_fill) * a`` for a sell, where
  ``mid_fill`` is the mid of the latest book the bot had when it processed the fill.
- ``skew_cost`` (spread given up to skew): the symmetric quoter centred on the mid at quote time
  ``mid_quote`` with the same half-spread ``h`` would have bid ``mid_quote - h`` and asked
  ``mid_quote + h``; ``skew_cost`` adds ``(p - (mid_quote - h)) * a`` for a buy and
  ``((mid_quote + h) - p) * a`` for a sell. Positive when the skew moved the filled quote towards the
  mid (edge given up to flatten), negative when it moved it away (edge gained).

Attribution. For a mark ``m`` the total P&L splits exactly into three terms::

    total_pnl(m) == spread_captured + inventory_pnl(m) - fees

- ``inventory_pnl(m) = q * m - ref_cost``: every position change marked to market from its reference price
  to ``m``, where ``ref_cost`` adds ``dq * ref`` for each change (tracked fill by fill, not a residual): a
  fill's ``ref`` is its ``mid_fill``; a fill booked without a mid (restored from the journal at start-up,
  booked before the first book) takes its own price as ``mid_fill`` (spread 0, all of it inventory); a
  base-currency fee's disposal takes the fill price (its value is in ``fees``).
- ``fees``: net of rebates (a negative fee is rebate income and lowers ``fees``).
- ``skew_cost`` is *of which given up to skew*: a part of the quoted half-spread, inside
  ``spread_captured``, not another term.
Without a mark the position is marked at ``avg_entry`` (unrealized 0), in both sides of the identity.

Markouts (:mod:`bot.core.markouts`): every fill booked with a mid and a time goes to ``markouts`` at that
time: :meth:`Inventory.book` is given it (``t``), :meth:`Inventory.apply` reads ``clock`` (the clock of the
mids fed to ``markouts.mid``; without one, applied fills are not marked out). Fills without a mid are not.

Fills are deduplicated by trade id: the same id applied twice changes nothing (:class:`TradeIds` keeps
the ids that can still come back).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bot.core.display import Steps, at_step, money
from bot.core.markouts import Markouts
from bot.core.quote import Side


def to_decimal(x: float | str | Decimal) -> Decimal:
    """The decimal a venue meant: floats go through their shortest repr (0.1 -> Decimal('0.1'))."""
    return x if isinstance(x, Decimal) else Decimal(str(x))


@dataclass(frozen=True)
class Fill:
    """One execution of one of our orders. ``fee`` is in ``fee_currency`` (may be None = no fee)."""

    trade_id: str
    side: Side
    price: float
    amount: float | str | Decimal
    timestamp: float = 0.0
    order_id: str | None = None
    client_id: str | None = None
    fee: float = 0.0
    fee_currency: str | None = None
    fee_cost_quote: float | None = None  # for a fee in a third currency: its value in quote
    mid: float | None = None  # mid when the fill was processed
    quote_mid: float | None = None  # mid when the order was quoted
    quote_half_spread: float | None = None  # half-spread of that quote


class TradeIds:
    """The trade ids booked so far, as far as a trade can still be reported again.

    A booked trade comes back only from a read that reaches back to its trade time: the live fill book
    knows the oldest such time and sets it as ``floor`` (seconds, trade time; see
    :meth:`bot.live.fills.FillIntake.reread_floor_ms`). Until a floor is set (e.g. while a restart replays
    the journal) it is ``horizon`` seconds before the newest booked trade. An id is forgotten (oldest
    booked first) only when more than ``keep`` ids are held and its trade is older than the floor, so
    memory stays flat: ``keep`` ids, or more while the ids booked since the oldest one held are all
    still at or after the floor.
    """

    def __init__(self, keep: int = 200, horizon: float = 86_400.0) -> None:
        self.keep, self.horizon = keep, horizon
        self.floor: float | None = None
        self._ids: set[str] = set()
        self._booked: deque[tuple[str, float]] = deque()  # (id, trade time in s), in booking order
        self.newest = 0.0

    def __contains__(self, trade_id: object) -> bool:
        return trade_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, trade_id: str, timestamp: float) -> None:
        self._ids.add(trade_id)
        self._booked.append((trade_id, timestamp))
        self.newest = max(self.newest, timestamp)
        self._trim()

    def set_floor(self, floor: float) -> None:
        """No read can return a trade older than ``floor`` (s) any more: older ids may be forgotten."""
        self.floor = floor
        self._trim()

    def _trim(self) -> None:
        cutoff = self.newest - self.horizon if self.floor is None else self.floor
        while len(self._booked) > self.keep and self._booked[0][1] < cutoff:
            self._ids.discard(self._booked.popleft()[0])


@dataclass
class Inventory:
    """Accounting state of one symbol. Apply fills with :meth:`apply`."""

    base: str
    quote: str
    q_exact: Decimal = Decimal(0)
    cash: float = 0.0  # change of the quote balance, net of quote fees
    avg_entry: float = 0.0
    realized: float = 0.0
    fees: float = 0.0
    volume_base: Decimal = Decimal(0)
    volume_quote: float = 0.0
    fills: int = 0
    spread_captured: float = 0.0
    skew_cost: float = 0.0
    max_abs_q: Decimal = Decimal(0)
    ref_cost: float = 0.0  # sum of position changes times their reference price (see inventory_pnl)
    seen: TradeIds = field(default_factory=TradeIds, repr=False)
    markouts: Markouts = field(default_factory=Markouts, repr=False)
    clock: Callable[[], float] | None = field(default=None, repr=False)  # the markout clock of apply()

    @property
    def q(self) -> float:
        return float(self.q_exact)

    def unrealized(self, mark: float) -> float:
        return self.q * (mark - self.avg_entry) if self.q_exact else 0.0

    def total_pnl(self, mark: float) -> float:
        """Mark-to-market P&L net of fees: ``realized + unrealized(mark) - fees``."""
        return self.realized + self.unrealized(mark) - self.fees

    def inventory_pnl(self, mark: float | None) -> float:
        """Each position change marked from its reference price to ``mark`` (``avg_entry`` when None)."""
        if not self.q_exact:
            return -self.ref_cost
        return self.q * (self.avg_entry if mark is None else mark) - self.ref_cost

    def apply(self, fill: Fill) -> bool:
        """Book ``fill`` once; returns False (and changes nothing) when its trade id was seen before."""
        if fill.trade_id in self.seen:
            return False
        amount = to_decimal(fill.amount)
        if amount <= 0:
            raise ValueError(f"fill amount must be > 0, got {fill.amount}")
        self.seen.add(fill.trade_id, fill.timestamp)
        self._book(fill.side, fill.price, amount, fill.fee, fill.fee_currency, fill.fee_cost_quote,
                   fill.mid, fill.quote_mid, fill.quote_half_spread, None if self.clock is None else self.clock())
        return True

    def book(
        self,
        side: Side,
        price: float,
        amount: float | str | Decimal,
        fee: float = 0.0,
        fee_currency: str | None = None,
        fee_cost_quote: float | None = None,
        mid: float | None = None,
        quote_mid: float | None = None,
        quote_half_spread: float | None = None,
        t: float | None = None,
    ) -> None:
        """Book a fill given by :class:`Fill`'s fields, without the trade-id check of :meth:`apply`: for
        callers whose fills are unique by construction (the backtest), so no Fill object is built. ``t``:
        the fill's time on the markout clock (None: not marked out)."""
        dec = to_decimal(amount)
        if dec <= 0:
            raise ValueError(f"fill amount must be > 0, got {amount}")
        self._book(side, price, dec, fee, fee_currency, fee_cost_quote, mid, quote_mid, quote_half_spread, t)

    def _book(
        self,
        side: Side,
        price: float,
        amount: Decimal,
        fee: float,
        fee_currency: str | None,
        fee_cost_quote: float | None,
        mid: float | None,
        quote_mid: float | None,
        quote_half_spread: float | None,
        t: float | None,
    ) -> None:
        sign = 1 if side == "buy" else -1
        p = float(price)
        a = float(amount)
        self._trade(sign * amount, p)
        self.cash -= sign * a * p
        if fee:
            if fee_currency == self.base:
                fee_base = to_decimal(fee)
                self._trade(-fee_base, p)  # disposal of the fee at the fill price, whose
                self.fees += float(fee_base) * p  # proceeds are the fee (quote balance untouched)
                self.ref_cost -= float(fee_base) * p
            elif fee_currency == self.quote or fee_currency is None:
                self.cash -= float(fee)
                self.fees += float(fee)
            else:
                self.fees += float(fee_cost_quote or 0.0)
        self.fills += 1
        self.volume_base += amount
        self.volume_quote += a * p
        if mid is not None:
            self.spread_captured += sign * (mid - p) * a
            self.ref_cost += sign * a * mid
            if t is not None:
                self.markouts.fill(t, sign, a, mid, p)
        else:
            self.ref_cost += sign * a * p
        if quote_mid is not None and quote_half_spread is not None:
            symmetric = quote_mid - sign * quote_half_spread
            self.skew_cost += sign * (p - symmetric) * a
        self.max_abs_q = max(self.max_abs_q, abs(self.q_exact))

    def _trade(self, dq: Decimal, price: float) -> None:
        """Average-cost update of the position for a signed change ``dq`` at ``price``."""
        q = self.q_exact
        if dq == 0:
            return
        if q == 0 or (q > 0) == (dq > 0):
            new_q = q + dq
            self.avg_entry = (float(q) * self.avg_entry + float(dq) * price) / float(new_q)
            self.q_exact = new_q
            return
        closed = min(abs(dq), abs(q))
        direction = 1.0 if q > 0 else -1.0
        self.realized += float(closed) * (price - self.avg_entry) * direction
        new_q = q + dq
        self.q_exact = new_q
        if new_q == 0:
            self.avg_entry = 0.0
        elif (new_q > 0) != (q > 0):
            self.avg_entry = price

    def snapshot(self, mark: float | None) -> dict[str, float]:
        """Numbers for log events and the summary (P&L marked to ``mark``; 0 unrealized without one)."""
        unreal = self.unrealized(mark) if mark is not None else 0.0
        return {
            "q": self.q,
            "avg_entry": self.avg_entry,
            "realized_pnl": self.realized,
            "unrealized_pnl": unreal,
            "fees": self.fees,
            "total_pnl": self.realized + unreal - self.fees,
            "spread_captured": self.spread_captured,
            "skew_cost": self.skew_cost,
            "inventory_pnl": self.inventory_pnl(mark),
        }

    def report(self, mark: float | None, tick: float, lot: float) -> dict[str, Any]:
        """:meth:`snapshot` as an operator reads it (``q`` at the lot, to the satoshi where a base fee left dust
        below it; ``avg_entry`` at the tick; money to 4 decimals) with the markouts
        (:meth:`bot.core.markouts.Markouts.fields`)."""
        snap = self.snapshot(mark)
        out: dict[str, Any] = {key: money(value) for key, value in snap.items()}
        out["q"] = Steps(tick, lot).position(snap["q"])
        out["avg_entry"] = at_step(snap["avg_entry"], tick, 2)
        out.update(self.markouts.fields())
        return out
