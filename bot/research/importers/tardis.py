"""Tardis.dev downloadable CSV datasets -> recording events (pure parsers over numbered rows).

Source: https://docs.tardis.dev/downloadable-csv-files (section "Data types") and its FAQ on order books
(https://docs.tardis.dev/faq/data). Every file has a header line; comma-separated, times in microseconds
since the Unix epoch (UTC). ``timestamp`` is the exchange's time, ``local_timestamp`` the time Tardis received
the message; when the exchange gives none, ``timestamp`` is empty and ``local_timestamp`` is used (Tardis's
own rule). Events are stamped with that time in seconds; with ``local`` (``mmbot import --clock capture``)
with ``local_timestamp`` always, the order the file is written in (for an exchange whose clock goes back).
The ``symbol`` column is the exchange's spelling (``BTCUSDT``); rows of other symbols are skipped (a grouped
file), compared without separators (``BTC/USDT`` matches ``BTCUSDT``); a file with no row of the symbol is an
error.

``incremental_book_L2`` (format ``tardis-incremental-l2``)::

    exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount

One row per price level update: ``side`` ``bid``/``ask``, ``amount`` the level's new size (0 removes it).
A run of consecutive rows with ``is_snapshot`` true (the file's start, or a reconnection) is the full book:
one snapshot event (zero-size rows dropped), stamped with the run's latest time. Later rows from one exchange
message share ``timestamp`` and ``local_timestamp`` (the FAQ's grouping): consecutive rows sharing both are
one diff event.

``book_snapshot_25`` (format ``tardis-book-snapshot-25``; ``book_snapshot_5`` has the same layout)::

    exchange,symbol,timestamp,local_timestamp,asks[0].price,asks[0].amount,bids[0].price,bids[0].amount,
    asks[1].price,asks[1].amount,bids[1].price,bids[1].amount, ... ,bids[24].price,bids[24].amount

One row per top-25 snapshot, best level first; a side with fewer levels leaves its cells empty (skipped).

``trades`` (format ``tardis-trades``)::

    exchange,symbol,timestamp,local_timestamp,id,side,price,amount

``side`` the taker's: ``buy``, ``sell`` or ``unknown`` (-> None); ``id`` kept as text (empty -> None).

Rows must be in time order (each file is sorted; a time going back is an error naming its line).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

from bot.research.events import BookEvent, Event, Level, TradeEvent
from bot.research.importers.rows import Row, Source, symbol_key

_HEAD = ("exchange", "symbol", "timestamp", "local_timestamp")
L2_COLUMNS = (*_HEAD, "is_snapshot", "side", "price", "amount")
TRADE_COLUMNS = (*_HEAD, "id", "side", "price", "amount")
SNAPSHOT_LEVELS = 25


def _snapshot_header(levels: int) -> tuple[str, ...]:
    return (*_HEAD, *(f"{side}[{i}].{what}" for i in range(levels)
                      for side in ("asks", "bids") for what in ("price", "amount")))


SNAPSHOT_COLUMNS = _snapshot_header(SNAPSHOT_LEVELS)
_TRADE_SIDES = {"buy": "buy", "sell": "sell", "unknown": None}


class _Symbol:
    """The rows of one symbol: the others skipped, and remembered for the error when none matched."""

    def __init__(self, source: Source, symbol: str) -> None:
        self.source = source
        self.symbol = symbol
        self.key = symbol_key(symbol)
        self.matched = False
        self.others: set[str] = set()
        self.seen: dict[str, bool] = {}  # a cell's answer, by its text: a file holds few symbols

    def wanted(self, cell: str) -> bool:
        known = self.seen.get(cell)
        if known is None:
            known = self.seen[cell] = symbol_key(cell) == self.key
            if not known and len(self.others) < 5:
                self.others.add(cell)
        self.matched = self.matched or known
        return known

    def check_found(self) -> None:
        if not self.matched:
            held = f"its symbol column holds {', '.join(sorted(self.others))}" if self.others else "only a header"
            raise ValueError(f"{self.source.name}: no rows of {self.symbol} ({held})")


def _header(rows: Iterator[Row], source: Source, columns: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The header row, checked against ``columns`` (default: the source's)."""
    want = source.columns if columns is None else columns
    try:
        line, cells = next(rows)
    except StopIteration:
        raise source.empty() from None
    got = tuple(cell.strip() for cell in cells)
    if got != want:
        raise source.columns_error(line, cells, want)
    return got


def _hint(local: bool) -> str:
    return "" if local else " (--clock capture stamps rows with local_timestamp, in file order)"


def _time(source: Source, line: int, cells: list[str], local: bool) -> float:
    """The row's time in seconds: ``timestamp``, else (empty, or ``local``) ``local_timestamp``."""
    cell, column = (cells[2], "timestamp") if cells[2].strip() and not local else (cells[3], "local_timestamp")
    return source.integer(line, column, cell) / 1e6


def _row(source: Source, line: int, cells: list[str], width: int) -> None:
    if len(cells) != width:
        raise source.columns_error(line, cells)


def incremental_l2(rows: Iterable[Row], name: str, symbol: str, local: bool = False) -> Iterator[Event]:
    """``incremental_book_L2`` rows -> a snapshot event per snapshot run, a diff event per message."""
    source = Source(name, "tardis-incremental-l2", L2_COLUMNS, _hint(local))
    it = iter(rows)
    _header(it, source)
    wanted = _Symbol(source, symbol)
    bids: dict[float, float] = {}
    asks: dict[float, float] = {}
    group: tuple[str, str] | None = None  # the open diff message's (timestamp, local_timestamp); None: a snapshot
    is_open = False
    ts = 0.0
    start = 0
    for line, cells in it:
        _row(source, line, cells, len(L2_COLUMNS))
        if not wanted.wanted(cells[1]):
            continue
        snapshot = source.flag(line, "is_snapshot", cells[4])
        key = None if snapshot else (cells[2], cells[3])
        if is_open and key != group:
            yield _book(source, start, ts, symbol, bids, asks, group is None)
            bids, asks, is_open = {}, {}, False
        if not is_open:
            group, start, is_open = key, line, True
            ts = _time(source, line, cells, local)
        elif snapshot:  # a snapshot run may span times: its latest; a message's rows share theirs
            ts = max(ts, _time(source, line, cells, local))
        try:
            price, amount = float(cells[6]), float(cells[7])
        except ValueError:
            price = amount = math.nan
        if not (0 < price < math.inf and 0 <= amount < math.inf):  # the checks' errors, with their column
            price, amount = source.price(line, "price", cells[6]), source.size(line, "amount", cells[7])
        side = cells[5].strip()
        if side == "bid":
            bids[price] = amount
        elif side == "ask":
            asks[price] = amount
        else:
            raise source.error(line, "bid or ask in column side", repr(cells[5]))
    if is_open:
        yield _book(source, start, ts, symbol, bids, asks, group is None)
    wanted.check_found()


def _book(source: Source, line: int, ts: float, symbol: str, bids: dict[float, float], asks: dict[float, float],
          snapshot: bool) -> BookEvent:
    """One book event from a group's levels: a snapshot without its empty levels, best first."""
    def levels(side: dict[float, float], best_first: bool) -> tuple[Level, ...]:
        kept = ((p, q) for p, q in side.items() if q > 0 or not snapshot)
        return tuple(sorted(kept, reverse=best_first))
    return BookEvent(source.in_order(line, ts), symbol, levels(bids, True), levels(asks, False), snapshot)


def _snapshot_columns(got: tuple[str, ...]) -> bool:
    """A ``book_snapshot_N`` header for some N >= 1."""
    levels, rest = divmod(len(got) - len(_HEAD), 4)
    return levels >= 1 and rest == 0 and got == _snapshot_header(levels)


def book_snapshot(rows: Iterable[Row], name: str, symbol: str, local: bool = False) -> Iterator[Event]:
    """``book_snapshot_25`` (or ``_5``, any depth in that layout) rows -> one snapshot event per row."""
    source = Source(name, "tardis-book-snapshot-25", SNAPSHOT_COLUMNS, _hint(local))
    it = iter(rows)
    try:
        line, cells = next(it)
    except StopIteration:
        raise source.empty() from None
    header = tuple(cell.strip() for cell in cells)
    if not _snapshot_columns(header):
        raise source.columns_error(line, cells)
    width = len(header)
    wanted = _Symbol(source, symbol)
    for line, cells in it:
        if len(cells) != width:
            raise source.columns_error(line, cells, header)
        if not wanted.wanted(cells[1]):
            continue
        ts = _time(source, line, cells, local)
        bids: list[Level] = []
        asks: list[Level] = []
        for col in range(len(_HEAD), width, 4):  # asks[i].price, asks[i].amount, bids[i].price, bids[i].amount
            for side, at in ((asks, col), (bids, col + 2)):
                if cells[at].strip() and cells[at + 1].strip():
                    amount = source.size(line, header[at + 1], cells[at + 1])
                    if amount > 0:
                        side.append((source.price(line, header[at], cells[at]), amount))
        yield BookEvent(source.in_order(line, ts), symbol, tuple(bids), tuple(asks), True)
    wanted.check_found()


def trades(rows: Iterable[Row], name: str, symbol: str, local: bool = False) -> Iterator[Event]:
    """``trades`` rows -> one trade event per row."""
    source = Source(name, "tardis-trades", TRADE_COLUMNS, _hint(local))
    it = iter(rows)
    _header(it, source)
    wanted = _Symbol(source, symbol)
    for line, cells in it:
        _row(source, line, cells, len(TRADE_COLUMNS))
        if not wanted.wanted(cells[1]):
            continue
        ts = _time(source, line, cells, local)
        side_cell = cells[5].strip()
        if side_cell not in _TRADE_SIDES:
            raise source.error(line, "buy, sell or unknown in column side", repr(cells[5]))
        price = source.price(line, "price", cells[6])
        amount = source.size(line, "amount", cells[7], positive=True)
        trade_id = cells[4].strip() or None
        yield TradeEvent(source.in_order(line, ts), symbol, price, amount, _TRADE_SIDES[side_cell], trade_id)
    wanted.check_found()
