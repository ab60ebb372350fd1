"""The market events of a recording, as research code holds them (pure: no I/O; the file format is
:mod:`bot.research.recording`).

* :class:`BookEvent`: at ``ts`` (seconds since the epoch), ``symbol``'s book levels ``(price, size)``;
  with ``snapshot`` they replace the whole book, else each sets that price's size (0 removes the level).
* :class:`TradeEvent`: a public trade, ``side`` the taker's (``"buy"`` lifted the ask) or None.

Both are frozen. Their ``__init__`` is written out (one ``object.__setattr__`` per field): in the mypyc
build (setup.py) that compiles to direct field stores and makes them native classes, which the compiled
replay reads without a dictionary lookup. There they also check their arguments' types at run time
(``bids`` must be a tuple; an int ``ts`` or price is stored as a float). ``__reduce__`` rebuilds an event
from its fields, so events pickle and copy on both builds (a compiled class cannot use the default).
"""

from __future__ import annotations

from dataclasses import dataclass

Level = tuple[float, float]


@dataclass(frozen=True, init=False)
class BookEvent:
    ts: float
    symbol: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    snapshot: bool

    def __init__(self, ts: float, symbol: str, bids: tuple[Level, ...], asks: tuple[Level, ...],
                 snapshot: bool = True) -> None:
        object.__setattr__(self, "ts", ts)
        object.__setattr__(self, "symbol", symbol)
        object.__setattr__(self, "bids", bids)
        object.__setattr__(self, "asks", asks)
        object.__setattr__(self, "snapshot", snapshot)

    def __reduce__(self) -> tuple[type[BookEvent], tuple[float, str, tuple[Level, ...], tuple[Level, ...], bool]]:
        return BookEvent, (self.ts, self.symbol, self.bids, self.asks, self.snapshot)


@dataclass(frozen=True, init=False)
class TradeEvent:
    ts: float
    symbol: str
    price: float
    amount: float
    side: str | None
    id: str | None

    def __init__(self, ts: float, symbol: str, price: float, amount: float, side: str | None = None,
                 id: str | None = None) -> None:
        object.__setattr__(self, "ts", ts)
        object.__setattr__(self, "symbol", symbol)
        object.__setattr__(self, "price", price)
        object.__setattr__(self, "amount", amount)
        object.__setattr__(self, "side", side)
        object.__setattr__(self, "id", id)

    def __reduce__(self) -> tuple[type[TradeEvent], tuple[float, str, float, float, str | None, str | None]]:
        return TradeEvent, (self.ts, self.symbol, self.price, self.amount, self.side, self.id)


Event = BookEvent | TradeEvent
