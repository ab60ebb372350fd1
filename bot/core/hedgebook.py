"""The hedge leg's fill book (pure): position, cash, fees and funding, each fill and funding payment booked once.

A perp fill ``(side, price p_i, amount a, fee f)`` with the spot mid ``s_i`` when it was booked (None: ``s_i =
p_i``, all of it delta) changes the position by ``dq = +a`` (buy) or ``-a`` (sell), ``cash`` by ``-dq x p_i`` and
``fees`` by ``f`` (quote currency; a negative fee is a rebate; ``fee_cost_quote`` when given is used instead).
A funding payment adds its ``amount`` to ``funding`` (> 0: received).

P&L split, for the perp mark ``m`` and the spot mid ``S`` (tracked sums, not a residual)::

    hedge = sum dq x (S - s_i)                          the hedge's P&L at spot prices (the delta it offsets)
    basis = pos x (m - S) - sum dq x (p_i - s_i)        the perp's price against spot, now and at each fill
    total = hedge + basis + funding - fees == cash + pos x m + funding - fees

Without a mark ``m`` is the last fill's price; without a spot mid ``S = m`` (no basis now).
Trade ids and funding ids are deduplicated (:class:`~bot.core.inventory.TradeIds`); ``fill.mid`` is ignored
(the spot mid is passed beside the fill: the fill's own book is the perp's).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.core.inventory import Fill, TradeIds, to_decimal


@dataclass(frozen=True, slots=True)
class HedgePnl:
    hedge: float
    basis: float
    funding: float
    fees: float
    total: float


class HedgeBook:
    """Exactly-once book of one hedge instrument: :meth:`apply` fills, :meth:`apply_funding` payments."""

    def __init__(self, seen: TradeIds | None = None, funding_seen: TradeIds | None = None) -> None:
        self.seen = TradeIds() if seen is None else seen
        self.funding_seen = TradeIds() if funding_seen is None else funding_seen
        self.position = Decimal(0)
        self.cash = 0.0  # -sum dq x p_i (fees apart)
        self.fees = 0.0
        self.funding = 0.0
        self.fills = 0
        self.volume_quote = 0.0
        self.last_price: float | None = None
        self._spot_cost = 0.0  # sum dq x s_i
        self._basis_in = 0.0  # sum dq x (p_i - s_i)

    def apply(self, fill: Fill, spot_mid: float | None) -> bool:
        """Book ``fill`` once (False, nothing changed, when its trade id was booked); ``spot_mid``: ``s_i``."""
        if fill.trade_id in self.seen:
            return False
        amount = to_decimal(fill.amount)
        if amount <= 0:
            raise ValueError(f"fill amount must be > 0, got {fill.amount}")
        self.seen.add(fill.trade_id, fill.timestamp)
        dq = amount if fill.side == "buy" else -amount
        p = float(fill.price)
        s = p if spot_mid is None else float(spot_mid)
        signed = float(dq)
        self.position += dq
        self.cash -= signed * p
        self.fees += float(fill.fee) if fill.fee_cost_quote is None else float(fill.fee_cost_quote)
        self._spot_cost += signed * s
        self._basis_in += signed * (p - s)
        self.fills += 1
        self.volume_quote += float(amount) * p
        self.last_price = p
        return True

    def apply_funding(self, income_id: str, amount: float, timestamp: float) -> bool:
        """Book one funding payment once (``amount`` > 0: income); False when ``income_id`` was booked."""
        if income_id in self.funding_seen:
            return False
        self.funding_seen.add(income_id, timestamp)
        self.funding += float(amount)
        return True

    def pnl(self, perp_mark: float | None, spot_mid: float | None) -> HedgePnl:
        """The split of the module docstring at mark ``perp_mark`` and spot mid ``spot_mid``."""
        m = perp_mark if perp_mark is not None else (self.last_price or 0.0)
        s = spot_mid if spot_mid is not None else m
        pos = float(self.position)
        hedge = pos * s - self._spot_cost
        basis = pos * (m - s) - self._basis_in
        total = self.cash + pos * m + self.funding - self.fees
        return HedgePnl(hedge, basis, self.funding, self.fees, total)

    def snapshot(self, perp_mark: float | None, spot_mid: float | None) -> dict[str, float]:
        """Numbers for log events: the position and the P&L split (unrounded; display rounds)."""
        pnl = self.pnl(perp_mark, spot_mid)
        return {
            "hedge_position": float(self.position),
            "hedge_pnl": pnl.hedge,
            "basis_pnl": pnl.basis,
            "funding": pnl.funding,
            "hedge_fees": pnl.fees,
            "hedge_total_pnl": pnl.total,
        }
