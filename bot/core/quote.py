"""Value types of the quoting core: market rules, the inputs of one decision, and its result.

Units: prices in quote currency, sizes and inventory in base currency, times in seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Side = Literal["buy", "sell"]  # the side of an order, a quote or a fill: the one definition


@dataclass(frozen=True, slots=True)
class MarketRules:
    """The venue's trading rules for one symbol.

    ``tick``: price increment (> 0). ``lot``: size step (0 means sizes are not stepped).
    ``min_qty`` / ``min_notional``: smallest accepted size / size*price. ``max_qty``: largest size.
    """

    tick: float
    lot: float
    min_qty: float = 0.0
    min_notional: float = 0.0
    max_qty: float | None = None

    @classmethod
    def from_ccxt_market(cls, market: dict[str, Any], *, decimal_places: bool = False) -> MarketRules:
        """Build from a ccxt market dict (``exchange.markets[symbol]``).

        ccxt in TICK_SIZE precision mode (Binance and most venues) stores the tick in
        ``precision.price`` and the size step in ``precision.amount``; pass ``decimal_places=True``
        for venues in DECIMAL_PLACES mode (the values are then digit counts). Missing limits are
        treated as "no rule". Raises ValueError when the market has no usable price precision.
        """
        precision = market.get("precision") or {}
        limits = market.get("limits") or {}
        amount = limits.get("amount") or {}
        cost = limits.get("cost") or {}

        def step(value: Any) -> float | None:
            if value is None:
                return None
            value = float(value)
            return 10.0**-value if decimal_places else value

        tick = step(precision.get("price"))
        if tick is None or not math.isfinite(tick) or tick <= 0:
            raise ValueError(f"market {market.get('symbol', '?')} has no valid price precision")
        lot = step(precision.get("amount")) or 0.0
        max_qty = amount.get("max")
        return cls(
            tick=tick,
            lot=lot,
            min_qty=float(amount.get("min") or 0.0),
            min_notional=float(cost.get("min") or 0.0),
            max_qty=float(max_qty) if max_qty else None,
        )


class QuoteState(Protocol):
    """What quoting reads of :class:`QuoteInputs`: it, or the backtest's reusable ``_Inputs``. (Compiled by
    mypyc, a parameter typed ``QuoteInputs`` rejects any other class at run time; a protocol does not.)"""

    @property
    def mid(self) -> float: ...
    @property
    def q(self) -> float: ...
    @property
    def best_bid(self) -> float | None: ...
    @property
    def best_ask(self) -> float | None: ...
    @property
    def t(self) -> float: ...
    @property
    def sigma(self) -> float | None: ...
    @property
    def A(self) -> float | None: ...  # noqa: N802
    @property
    def kappa(self) -> float | None: ...
    @property
    def open_buy(self) -> float: ...
    @property
    def open_sell(self) -> float: ...


@dataclass(frozen=True, slots=True)
class QuoteInputs:
    """What the market and the book-keeping say right now.

    ``mid``: mid price (> 0); ``q``: inventory in base units; ``best_bid``/``best_ask``: the touch,
    used for the post-only clamp when given; ``t``: time in seconds (only the ``as`` session horizon
    uses it); ``sigma``/``A``/``kappa``: live estimates that replace the parameters' fallbacks when
    not None; ``open_buy``/``open_sell``: size already resting or in flight on each side that this
    quote does not replace (it counts against the position limit).
    """

    mid: float
    q: float
    best_bid: float | None = None
    best_ask: float | None = None
    t: float = 0.0
    sigma: float | None = None
    A: float | None = None
    kappa: float | None = None
    open_buy: float = 0.0
    open_sell: float = 0.0


@dataclass(frozen=True, slots=True)
class Quote:
    """One quoting decision.

    A side that is not quoted has price None, size 0.0 and a reason (e.g. "position limit",
    "below min notional"). ``reservation`` is the model's centre and ``half_spread`` its half-spread
    (after the minimum spread, before tick rounding).
    """

    bid: float | None
    bid_size: float
    ask: float | None
    ask_size: float
    reservation: float
    half_spread: float
    bid_reason: str | None = None
    ask_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict; a side that is not quoted has ``null`` price and size."""
        return {
            "bid": self.bid,
            "bid_size": self.bid_size if self.bid is not None else None,
            "ask": self.ask,
            "ask_size": self.ask_size if self.ask is not None else None,
            "reservation": self.reservation,
            "half_spread": self.half_spread,
            "bid_reason": self.bid_reason,
            "ask_reason": self.ask_reason,
        }
