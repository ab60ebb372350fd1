"""What the importers' parsers share (pure): the one-line errors, cells as numbers and times, time order.

Every error is a ``ValueError`` with one line naming the file and the line:
``FILE line N: expected <format> <what>, got <what was there>``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

Row = tuple[int, list[str]]
"""A CSV row: the number of its line in the file (1 for the header) and its cells."""

#: a Unix time below this many units is in milliseconds, below :data:`_NANOS` in microseconds, else nanoseconds
_MICROS = 10**14  # 1e14 ms is the year 5138; 1e14 us is 1973
_NANOS = 10**17
_FLAGS = {"true": True, "false": False, "True": True, "False": False}


def shown(cells: Sequence[str], limit: int = 8) -> str:
    """Cells as the CSV text they came from, the first ``limit`` of a long row then their count."""
    text = ",".join(cells[:limit])
    return f"{text},... ({len(cells)} columns)" if len(cells) > limit else text


def symbol_key(symbol: str) -> str:
    """A symbol compared across spellings: ``BTC/USDT``, ``BTC/USDT:USDT``, ``BTCUSDT``, ``btc-usdt`` -> BTCUSDT."""
    return re.sub(r"[^A-Z0-9]", "", symbol.split(":")[0].upper())


def epoch_seconds(value: int) -> float:
    """A Unix time in milliseconds, microseconds or nanoseconds (told apart by magnitude) in seconds.

    Binance's spot files switched from milliseconds to microseconds on 2025-01-01; its futures files are in
    milliseconds: by magnitude, one reader takes both."""
    if value < _MICROS:
        return value / 1e3
    if value < _NANOS:
        return value / 1e6
    return value / 1e9


@dataclass
class Source:
    """One file being parsed in one format: its name for the errors, and the time-order check."""

    name: str
    fmt: str
    columns: tuple[str, ...]
    order_hint: str = ""  # appended to the time-order error: what else the operator can do
    last_ts: float = field(default=-math.inf, init=False)

    def error(self, line: int, expected: str, got: str) -> ValueError:
        return ValueError(f"{self.name} line {line}: expected {self.fmt} {expected}, got {got}")

    def columns_error(self, line: int, cells: Sequence[str], columns: Sequence[str] | None = None) -> ValueError:
        want = self.columns if columns is None else columns
        return self.error(line, f"columns {shown(want)}", f"{len(cells)} columns: {shown(cells)}")

    def empty(self) -> ValueError:
        return self.error(1, f"columns {shown(self.columns)}", "an empty file")

    def number(self, line: int, column: str, cell: str) -> float:
        try:
            value = float(cell)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise self.error(line, f"a number in column {column}", repr(cell))
        return value

    def price(self, line: int, column: str, cell: str) -> float:
        value = self.number(line, column, cell)
        if value <= 0:
            raise self.error(line, f"a positive price in column {column}", repr(cell))
        return value

    def size(self, line: int, column: str, cell: str, positive: bool = False) -> float:
        value = self.number(line, column, cell)
        if value < 0 or (positive and value == 0):
            raise self.error(line, f"a {'positive' if positive else 'non-negative'} size in column {column}",
                             repr(cell))
        return value

    def integer(self, line: int, column: str, cell: str) -> int:
        try:
            return int(cell)
        except ValueError:
            raise self.error(line, f"an integer time in column {column}", repr(cell)) from None

    def flag(self, line: int, column: str, cell: str) -> bool:
        if cell in _FLAGS:
            return _FLAGS[cell]
        text = cell.strip().lower()
        if text not in ("true", "false"):
            raise self.error(line, f"true or false in column {column}", repr(cell))
        return text == "true"

    def in_order(self, line: int, ts: float) -> float:
        """``ts``, after checking it does not go back before the file's previous event."""
        if ts < self.last_ts:
            raise self.error(line, "rows in time order", f"{ts!r} s after {self.last_ts!r} s{self.order_hint}")
        self.last_ts = ts
        return ts
