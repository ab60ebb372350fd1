"""Events <-> fixed-size rows of the binary recording (pure, compiled; the file itself is
:mod:`bot.research.columnar`).

One row per book level and one per trade, as hftbacktest stores its events: ``ts``, ``price``, ``size``,
``ident`` (a trade's id), ``symbol`` (an index into the chunk's symbol table) and ``flags``:

* ``START`` on the first row of every event (an event's rows are contiguous);
* a book event: ``SNAPSHOT`` when its levels replace the book; its bid rows first, then its ask rows
  (``ASK``); a book event without a level is one row flagged ``EMPTY`` (its numbers mean nothing);
* a trade: ``TRADE``, the taker's side ``BUY`` or ``SELL`` (neither: None), the id ``ID_INT`` (the decimal
  string of ``ident``: ids that ``str(int(id)) == id`` maps back, 18 digits at most), ``ID_STR`` (``ident``
  indexes the chunk's id table: any other string) or neither (no id).

:class:`Rows` accumulates the columns of events (the writer's side); :func:`decode` builds the events back
from columns given as plain lists (the reader's side, on the replay's hot path: a tight loop over lists).
"""

from __future__ import annotations

from typing import Any

from bot.research.events import BookEvent, Event, Level, TradeEvent

START = 1
TRADE = 2
ASK = 4
SNAPSHOT = 8
EMPTY = 16
BUY = 32
SELL = 64
ID_INT = 128
ID_STR = 256
KNOWN = START | TRADE | ASK | SNAPSHOT | EMPTY | BUY | SELL | ID_INT | ID_STR


def _int_id(text: str) -> bool:
    """Whether ``text`` is the canonical decimal string of an integer that fits in the 64-bit column."""
    n = len(text)
    return 0 < n <= 18 and text.isascii() and text.isdigit() and (n == 1 or text[0] != "0")


class Rows:
    """The columns of a run of events, with the run's symbol and string-id tables (reset by :meth:`clear`)."""

    def __init__(self) -> None:
        self.ts: list[float] = []
        self.price: list[float] = []
        self.size: list[float] = []
        self.ident: list[int] = []
        self.symbol: list[int] = []
        self.flags: list[int] = []
        self.symbols: list[str] = []
        self.ids: list[str] = []
        self._symbol_index: dict[str, int] = {}
        self.events = 0

    def __len__(self) -> int:
        return len(self.flags)

    def clear(self) -> None:
        self.ts, self.price, self.size, self.ident, self.symbol, self.flags = [], [], [], [], [], []
        self.symbols, self.ids, self._symbol_index = [], [], {}
        self.events = 0

    def _symbol(self, name: str) -> int:
        index = self._symbol_index.get(name)
        if index is None:
            if not isinstance(name, str):
                raise TypeError(f"an event's symbol must be a string, got {name!r}")
            index = self._symbol_index[name] = len(self.symbols)
            self.symbols.append(name)
        return index

    def _row(self, ts: float, price: float, size: float, ident: int, symbol: int, flags: int) -> None:
        self.ts.append(ts)
        self.price.append(price)
        self.size.append(size)
        self.ident.append(ident)
        self.symbol.append(symbol)
        self.flags.append(flags)

    def add(self, event: Event) -> None:
        """Append one event's rows. TypeError for anything but a BookEvent or a TradeEvent."""
        if isinstance(event, BookEvent):
            self._book(event)
        elif isinstance(event, TradeEvent):
            self._trade(event)
        else:
            raise TypeError(f"not a recording event: {event!r}")
        self.events += 1

    def _book(self, event: BookEvent) -> None:
        ts, sym = event.ts, self._symbol(event.symbol)
        head = START | SNAPSHOT if event.snapshot else START
        if not event.bids and not event.asks:
            self._row(ts, 0.0, 0.0, 0, sym, head | EMPTY)
            return
        flags = head
        for price, size in event.bids:
            self._row(ts, price, size, 0, sym, flags)
            flags = head & SNAPSHOT
        for price, size in event.asks:
            self._row(ts, price, size, 0, sym, flags | ASK)
            flags = head & SNAPSHOT

    def _trade(self, event: TradeEvent) -> None:
        flags = START | TRADE
        side = event.side
        if side == "buy":
            flags |= BUY
        elif side == "sell":
            flags |= SELL
        elif side is not None:
            raise ValueError(f"trade side must be buy, sell or None, got {side!r}")
        ident = 0
        trade_id = event.id
        if trade_id is not None:
            if _int_id(trade_id):
                flags |= ID_INT
                ident = int(trade_id)
            else:
                flags |= ID_STR
                ident = len(self.ids)
                self.ids.append(str(trade_id))
        self._row(event.ts, event.price, event.amount, ident, self._symbol(event.symbol), flags)


def _levels(price: list[Any], size: list[Any], lo: int, hi: int) -> tuple[Level, ...]:
    # the lists' float objects paired as they are (typed Any: a compiled float would be unboxed and boxed again)
    return tuple([(price[r], size[r]) for r in range(lo, hi)])


def decode(ts: list[float], flags: list[int], symbol: list[int], ident: list[int], starts: list[int],
           asks: list[int], price: list[Any], size: list[Any], symbols: list[str], ids: list[str]) -> list[Event]:
    """The events of a checked chunk (see :mod:`bot.research.columnar`). Per event: ``ts``, ``flags``,
    ``symbol``, ``ident``, ``starts`` (its first row) and ``asks`` (its first ask row, its end when it has
    none); per row: ``price`` and ``size`` (floats)."""
    out: list[Event] = []
    n = len(starts)
    end_all = len(price)
    for k in range(n):
        f = flags[k]
        sym = symbols[symbol[k]]
        i = starts[k]
        if f & TRADE:
            side: str | None = "buy" if f & BUY else "sell" if f & SELL else None
            trade_id: str | None = None
            if f & ID_INT:
                trade_id = str(ident[k])
            elif f & ID_STR:
                trade_id = ids[ident[k]]
            out.append(TradeEvent(ts[k], sym, price[i], size[i], side, trade_id))
        elif f & EMPTY:
            out.append(BookEvent(ts[k], sym, (), (), (f & SNAPSHOT) != 0))
        else:
            end = starts[k + 1] if k + 1 < n else end_all
            mid = asks[k]
            out.append(BookEvent(ts[k], sym, _levels(price, size, i, mid), _levels(price, size, mid, end),
                                 (f & SNAPSHOT) != 0))
    return out
