"""Binance public data (https://data.binance.vision) CSV files -> recording events (pure parsers over rows).

Source: the column tables of https://github.com/binance/binance-public-data (README, "Data Information").
The files hold one symbol, named in the file name (``BTCUSDT-trades-2024-01.zip``); the events carry the
``--symbol`` given, and a file name naming another symbol is an error. Times are Unix times in milliseconds,
except spot files from 2025-01-01 on, in microseconds: told apart by magnitude (:func:`epoch_seconds`).

``trades`` (format ``binance-trades``). Spot, no header line::

    trade Id,price,qty,quoteQty,time,isBuyerMaker,isBestMatch

USDⓈ-M futures files have a header and no ``isBestMatch``: ``id,price,qty,quote_qty,time,is_buyer_maker``.

``aggTrades`` (format ``binance-aggtrades``). Spot, no header line::

    Aggregate tradeId,Price,Quantity,First tradeId,Last tradeId,Timestamp,Was the buyer the maker,
    Was the trade the best price match

USDⓈ-M futures: header ``agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker``.

For both, the buyer being the maker means the taker sold: side ``sell``, else ``buy``; the (aggregate) trade
id is kept as the event's id.

``bookTicker`` (format ``binance-usdm-bookticker``), USDⓈ-M futures, with a header line::

    update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,event_time

Each row is a snapshot of the top of the book (one bid, one ask; an empty or zero-size side left out),
stamped with ``transaction_time`` (the matching engine's; ``event_time`` when it is empty).
Rows must be in time order (a time going back is an error naming its line).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePath

from bot.research.events import BookEvent, Event, Level, TradeEvent
from bot.research.importers.rows import Row, Source, epoch_seconds, symbol_key

TRADE_COLUMNS = ("trade Id", "price", "qty", "quoteQty", "time", "isBuyerMaker", "isBestMatch")
TRADE_USDM_HEADER = ("id", "price", "qty", "quote_qty", "time", "is_buyer_maker")
AGG_COLUMNS = ("Aggregate tradeId", "Price", "Quantity", "First tradeId", "Last tradeId", "Timestamp",
               "Was the buyer the maker", "Was the trade the best price match")
AGG_USDM_HEADER = ("agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id", "transact_time",
                   "is_buyer_maker")
BOOK_TICKER_COLUMNS = ("update_id", "best_bid_price", "best_bid_qty", "best_ask_price", "best_ask_qty",
                       "transaction_time", "event_time")

_FILE_NAME = re.compile(r"([A-Za-z0-9]+)-(?:trades|aggTrades|bookTicker)-")


def _check_file_symbol(source: Source, symbol: str) -> None:
    """A data.binance.vision file name says its symbol: it must be the one imported."""
    named = _FILE_NAME.match(PurePath(source.name).name)
    if named and symbol_key(named[1]) != symbol_key(symbol):
        raise ValueError(f"{source.name}: the file name says {named[1]}, not {symbol}")


def _is_header(cells: list[str]) -> bool:
    return not cells[0].strip().lstrip("-").isdigit() if cells else False


def _start(rows: Iterator[Row], source: Source, headers: tuple[tuple[str, ...], ...],
           widths: tuple[int, ...]) -> tuple[int, Row | None]:
    """The file's row width and its first data row (None when there is none), after an optional header
    (one of ``headers``, compared without case); a headerless first row must have one of ``widths``."""
    try:
        line, cells = next(rows)
    except StopIteration:
        raise source.empty() from None
    if _is_header(cells):
        got = tuple(cell.strip().lower() for cell in cells)
        for header in headers:
            if got == tuple(name.lower() for name in header):
                return len(header), None
        raise source.columns_error(line, cells, headers[-1])
    if len(cells) not in widths:
        raise source.columns_error(line, cells)
    return len(cells), (line, cells)


def _data(rows: Iterator[Row], first: Row | None) -> Iterator[Row]:
    if first is not None:
        yield first
    yield from rows


@dataclass(frozen=True)
class _TradeLayout:
    """Where a trades file keeps what a trade event needs (the same index in its spot and futures forms)."""

    fmt: str
    columns: tuple[str, ...]  # spot, no header
    usdm_header: tuple[str, ...]
    time: int
    maker: int


_TRADES = _TradeLayout("binance-trades", TRADE_COLUMNS, TRADE_USDM_HEADER, time=4, maker=5)
_AGG = _TradeLayout("binance-aggtrades", AGG_COLUMNS, AGG_USDM_HEADER, time=5, maker=6)


def _trade_events(layout: _TradeLayout, rows: Iterable[Row], name: str, symbol: str) -> Iterator[Event]:
    source = Source(name, layout.fmt, layout.columns)
    _check_file_symbol(source, symbol)
    it = iter(rows)
    width, first = _start(it, source, (layout.columns, layout.usdm_header),
                          (len(layout.columns), len(layout.usdm_header)))
    for line, cells in _data(it, first):
        if len(cells) != width:
            raise source.columns_error(line, cells)
        price = source.price(line, layout.columns[1], cells[1])
        amount = source.size(line, layout.columns[2], cells[2], positive=True)
        ts = epoch_seconds(source.integer(line, layout.columns[layout.time], cells[layout.time]))
        taker_sold = source.flag(line, layout.columns[layout.maker], cells[layout.maker])
        yield TradeEvent(source.in_order(line, ts), symbol, price, amount, "sell" if taker_sold else "buy",
                         cells[0].strip() or None)


def trades(rows: Iterable[Row], name: str, symbol: str) -> Iterator[Event]:
    """Spot (or USDⓈ-M) ``trades`` rows -> one trade event per row."""
    return _trade_events(_TRADES, rows, name, symbol)


def agg_trades(rows: Iterable[Row], name: str, symbol: str) -> Iterator[Event]:
    """Spot (or USDⓈ-M) ``aggTrades`` rows -> one trade event per aggregate trade."""
    return _trade_events(_AGG, rows, name, symbol)


def book_ticker(rows: Iterable[Row], name: str, symbol: str) -> Iterator[Event]:
    """USDⓈ-M ``bookTicker`` rows -> one top-of-book snapshot event per row."""
    source = Source(name, "binance-usdm-bookticker", BOOK_TICKER_COLUMNS)
    _check_file_symbol(source, symbol)
    it = iter(rows)
    width, first = _start(it, source, (BOOK_TICKER_COLUMNS,), (len(BOOK_TICKER_COLUMNS),))
    for line, cells in _data(it, first):
        if len(cells) != width:
            raise source.columns_error(line, cells)
        at = 5 if cells[5].strip() else 6
        ts = epoch_seconds(source.integer(line, BOOK_TICKER_COLUMNS[at], cells[at]))
        bid, ask = _top(source, line, cells, 1), _top(source, line, cells, 3)
        yield BookEvent(source.in_order(line, ts), symbol, bid, ask, True)


def _top(source: Source, line: int, cells: list[str], at: int) -> tuple[Level, ...]:
    """The level whose price is in column ``at`` and size in the next: none when empty or of size 0."""
    if not (cells[at].strip() and cells[at + 1].strip()):
        return ()
    size = source.size(line, BOOK_TICKER_COLUMNS[at + 1], cells[at + 1])
    return ((source.price(line, BOOK_TICKER_COLUMNS[at], cells[at]), size),) if size > 0 else ()
