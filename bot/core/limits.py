"""Hard limits and venue rules on order sizes (pure).

Worst-case guarantee: with a position limit L, inventory q and ``open_buy``/``open_sell`` already
resting or in flight, the bid size is at most ``L - q - open_buy`` and the ask size at most
``L + q - open_sell``; so even if every resting order fills completely, -L <= q <= L stays true.
With ``max_notional`` N the growing side is also bounded at |q + size| * price <= N, i.e. an
effective limit of min(L, N / price) on that side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.core.ticks import floor_to

if TYPE_CHECKING:
    from bot.config import ExecutionSettings, RiskSettings
    from bot.core.quote import MarketRules

POSITION_LIMIT = "position limit"
MAX_NOTIONAL = "max notional"
BELOW_MIN_QTY = "below min qty"
BELOW_MIN_NOTIONAL = "below min notional"


@dataclass(frozen=True, slots=True)
class LimitParams:
    """``max_position``: hard limit L on |q| (base units); ``order_size``: size of each quote;
    ``max_order_size``: cap on one order; ``max_notional``: cap on |q| * price (quote currency)."""

    max_position: float
    order_size: float
    max_order_size: float | None = None
    max_notional: float | None = None

    @classmethod
    def from_settings(cls, risk: RiskSettings, execution: ExecutionSettings) -> LimitParams:
        """From the validated ``[risk]`` and ``[execution]`` config sections."""
        return cls(
            max_position=risk.max_position,
            order_size=execution.order_size,
            max_order_size=execution.max_order_size,
            max_notional=risk.max_notional,
        )


def side_sizes(
    q: float,
    params: LimitParams,
    open_buy: float = 0.0,
    open_sell: float = 0.0,
    bid_price: float | None = None,
    ask_price: float | None = None,
) -> tuple[float, str | None, float, str | None]:
    """(bid size, reason, ask size, reason): the order size capped by the room left on each side.

    A side with no room gets size 0.0 and reason "position limit" (or "max notional" when the
    notional cap is the binding one; it needs that side's price).
    """
    size = params.order_size
    max_order = params.max_order_size
    if max_order is not None and max_order < size:
        size = max_order
    limit = params.max_position
    bid_limit = ask_limit = limit
    bid_why = ask_why = POSITION_LIMIT
    notional = params.max_notional
    if notional is not None:
        if bid_price is not None and bid_price > 0 and notional / bid_price < limit:
            bid_limit, bid_why = notional / bid_price, MAX_NOTIONAL
        if ask_price is not None and ask_price > 0 and notional / ask_price < limit:
            ask_limit, ask_why = notional / ask_price, MAX_NOTIONAL
    bid_room = bid_limit - q - open_buy
    ask_room = ask_limit + q - open_sell
    # min(size, room) when there is room, written out (this runs on every quote)
    if bid_room > 0:
        bid_size, bid_reason = (bid_room if bid_room < size else size), None
    else:
        bid_size, bid_reason = 0.0, bid_why
    if ask_room > 0:
        ask_size, ask_reason = (ask_room if ask_room < size else size), None
    else:
        ask_size, ask_reason = 0.0, ask_why
    return bid_size, bid_reason, ask_size, ask_reason


def apply_market_rules(price: float, size: float, rules: MarketRules) -> tuple[float, str | None]:
    """Truncate ``size`` down to the lot and max qty, then check min qty and min notional.

    Returns (size, None) when the order is valid, else (0.0, reason).
    """
    lot, max_qty = rules.lot, rules.max_qty
    if max_qty is not None and size > max_qty:
        size = max_qty
    if lot > 0:
        size = floor_to(size, lot)
    if size <= 0 or size < rules.min_qty:
        return 0.0, BELOW_MIN_QTY
    if size * price < rules.min_notional:
        return 0.0, BELOW_MIN_NOTIONAL
    return size, None
