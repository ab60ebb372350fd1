"""Importers of history traders already have into recording events (``mmbot import``).

:data:`FORMATS` names each importer; each module documents its columns and source: :mod:`.tardis`
(Tardis.dev CSV datasets) and :mod:`.binance` (data.binance.vision). An importer's ``parse`` is pure (numbered
CSV rows in, events out, in time order, times in seconds); :meth:`Importer.read` opens a file
(``.csv``, ``.csv.gz``, ``.zip`` holding one ``.csv``: :mod:`.files`). A file that is not in the format raises
``ValueError`` with one line: ``FILE line N: expected <format> columns ..., got ...``.

:func:`merged` merges several files' events in time order (at equal times trades first, then the files'
order);
:func:`infer_lot` guesses the size step of events without market info.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from itertools import islice
from pathlib import Path

from bot.research.events import BookEvent, Event
from bot.research.importers import binance, tardis
from bot.research.importers.files import open_rows
from bot.research.importers.rows import Row

Parser = Callable[[Iterable[Row], str, str], Iterator[Event]]


@dataclass(frozen=True)
class Importer:
    """One file format: its name, what it reads (for help texts), its parser ``(rows, file name, symbol)`` and,
    for a format that also gives the time its rows were captured, the parser that stamps events with it."""

    name: str
    describes: str
    parse: Parser
    capture_clock: Parser | None = None

    def read(self, path: Path, symbol: str, capture_clock: bool = False) -> Iterator[Event]:
        """The events of ``symbol`` in the file at ``path``, streamed; ValueError for ``capture_clock`` on a
        format without a capture time."""
        parse = self.capture_clock if capture_clock else self.parse
        if parse is None:
            raise ValueError(f"{path}: {self.name} files have no capture time")
        return parse(open_rows(path), str(path), symbol)


FORMATS: dict[str, Importer] = {
    importer.name: importer
    for importer in (
        Importer("tardis-incremental-l2", "Tardis.dev incremental_book_L2 CSV", tardis.incremental_l2,
                 partial(tardis.incremental_l2, local=True)),
        Importer("tardis-book-snapshot-25", "Tardis.dev book_snapshot_25 (or _5) CSV", tardis.book_snapshot,
                 partial(tardis.book_snapshot, local=True)),
        Importer("tardis-trades", "Tardis.dev trades CSV", tardis.trades, partial(tardis.trades, local=True)),
        Importer("binance-trades", "data.binance.vision spot (or USD-M) trades", binance.trades),
        Importer("binance-aggtrades", "data.binance.vision spot (or USD-M) aggTrades", binance.agg_trades),
        Importer("binance-usdm-bookticker", "data.binance.vision USD-M futures bookTicker", binance.book_ticker),
    )
}


def _order(event: Event) -> tuple[float, bool]:
    return event.ts, isinstance(event, BookEvent)


def merged(streams: Iterable[Iterable[Event]]) -> Iterator[Event]:
    """The events of several time-ordered streams in time order. At equal times trades come before book
    updates (the book at a trade's time already shows its effect, as ``mmbot record`` writes them), then the
    streams' order."""
    return heapq.merge(*streams, key=_order)


def _digits(x: float) -> int:
    """Digits after the point of ``x``'s shortest decimal form at 12 significant digits (5.0 -> 0, 0.0015 -> 4,
    1e-05 -> 5; 0.011130000000000001, a product's float noise, -> 5)."""
    text = repr(float(f"{x:.12g}"))
    if "e" in text or "E" in text:
        exponent = Decimal(text).normalize().as_tuple().exponent
        return max(0, -exponent) if isinstance(exponent, int) else 0
    point = text.find(".")
    return 0 if point < 0 else len(text.rstrip("0")) - point - 1


class LotProbe:
    """Watches events go by (:meth:`through`) and infers their size step (:attr:`lot`, see :func:`infer_lot`)."""

    def __init__(self) -> None:
        self.digits = 0

    def through(self, events: Iterable[Event]) -> Iterator[Event]:
        for event in events:
            if isinstance(event, BookEvent):
                for _, size in event.bids + event.asks:
                    self.digits = max(self.digits, _digits(size))
            else:
                self.digits = max(self.digits, _digits(event.amount))
            yield event

    @property
    def lot(self) -> float:
        return float(Decimal(1).scaleb(-self.digits))


def infer_lot(events: Iterable[Event], limit: int = 200_000) -> float:
    """The size step of the first ``limit`` events: the coarsest power of ten that every size (trades and
    book levels) is a multiple of, read from their shortest decimal form at 12 significant digits (``0.0015``
    -> 0.0001; float noise such as ``0.011130000000000001`` reads as 0.01113); 1 when
    every size is whole. An estimate from the sizes seen: a venue's lot is finer when no size in the sample
    needs its last digit, and not a power of ten on a few venues (then pass it)."""
    probe = LotProbe()
    deque(probe.through(islice(events, limit)), maxlen=0)
    return probe.lot
