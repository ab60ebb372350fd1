"""The binary recording (``.mmb``): the same events as the JSON lines of :mod:`bot.research.recording`, as
fixed-size numpy rows that read back several times faster (the fast data path of backtests and tuning).

Layout (little-endian)::

    MAGIC (8 bytes)  version u32  meta_len u32  meta (UTF-8 JSON object: the free-form keys of the meta line)
    chunk*           b"ROWS"  n_rows u32  table_len u32  table (UTF-8 JSON {"symbols": [...], "ids": [...]})
                     n_rows rows of ROW (36 bytes each)
    end              b"END\\0"  events u64

A row is one book level or one trade (:mod:`bot.research.colrows`: the columns and flags); an event's rows are
contiguous and never cross a chunk, so a chunk decodes on its own. Symbols and the trade ids that are not plain
integers are strings in the chunk's table, a row holds their index. The writer buffers ``chunk_rows`` rows, the
reader holds one chunk: memory is flat in the number of events. The round trip is lossless: the events read
back are equal (``==``) to those written, floats bit for bit, ids as strings (an integer id comes back as its
decimal string, as the JSON lines' reader gives it).

The magic is checked, not the suffix, so a renamed file is still recognised (:func:`is_binary`). A file that
is cut short or damaged raises ``ValueError`` with one line naming the byte offset; a file whose writer did not
finish (killed before :meth:`BinaryWriter.close`) has no end record and is refused as cut short.
"""

from __future__ import annotations

import gc
import json
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np

from bot.research.colrows import (
    ASK,
    BUY,
    EMPTY,
    ID_INT,
    ID_STR,
    KNOWN,
    SELL,
    SNAPSHOT,
    START,
    TRADE,
    Rows,
    decode,
)
from bot.research.events import Event

MAGIC = b"\x89MMB\r\n\x1a\n"  # PNG-style: a high byte and both line ends catch text-mode mangling
VERSION = 1
SUFFIX = ".mmb"
ROW = np.dtype([("ts", "<f8"), ("price", "<f8"), ("size", "<f8"), ("ident", "<i8"), ("symbol", "<u2"),
                ("flags", "<u2")])
CHUNK_ROWS = 32768
_HEAD = struct.Struct("<II")  # version, meta length
_CHUNK = struct.Struct("<4sII")  # b"ROWS", rows, table length
_END = struct.Struct("<4sQ")  # b"END\0", events
_ROWS_TAG, _END_TAG = b"ROWS", b"END\x00"
_MAX_TABLE = 1 << 30


def is_binary(path: str | Path) -> bool:
    """Whether ``path`` starts with the binary recording's magic. OSError if it cannot be read."""
    with open(path, "rb") as fh:
        return fh.read(len(MAGIC)) == MAGIC


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def check_rows(rows: np.ndarray, n_symbols: int, n_ids: int) -> str | None:
    """Why ``rows`` (one chunk) are not well-formed events, or None when they are: every rule that
    :func:`bot.research.colrows.decode` relies on, and the numbers the JSON lines' reader would refuse."""
    if len(rows) == 0:
        return "an empty chunk"
    flags = rows["flags"].astype(np.int64)
    ts, price, size = rows["ts"], rows["price"], rows["size"]
    start = (flags & START) != 0
    trade = (flags & TRADE) != 0
    empty = (flags & EMPTY) != 0
    if (flags & ~KNOWN).any():
        return "unknown row flags"
    if not start[0]:
        return "the first row does not start an event"
    if (rows["symbol"] >= n_symbols).any():
        return "a symbol index beyond the chunk's table"
    if not np.isfinite(ts).all():
        return "a timestamp that is not a finite number"
    # rows that continue an event: a book's further levels, same time and symbol, bids before asks
    cont = ~start[1:]
    if cont.any():
        prev, this = flags[:-1][cont], flags[1:][cont]
        if ((prev | this) & (TRADE | EMPTY)).any():
            return "a trade or an empty book spread over several rows"
        if ((prev & SNAPSHOT) != (this & SNAPSHOT)).any() or ((prev & ASK) > (this & ASK)).any():
            return "a book event's rows disagree (snapshot flag, or a bid after an ask)"
        if (ts[:-1][cont] != ts[1:][cont]).any() or (rows["symbol"][:-1][cont] != rows["symbol"][1:][cont]).any():
            return "a book event's rows disagree on time or symbol"
    if (empty & (~start | trade)).any():
        return "an empty-book flag on a row that is not a book event's only row"
    book = ~trade
    if (book & ((flags & (BUY | SELL | ID_INT | ID_STR)) != 0)).any():
        return "trade flags on a book row"
    if (trade & ((flags & ASK) != 0)).any():
        return "a book side on a trade row"
    if (trade & ((flags & (BUY | SELL)) == (BUY | SELL))).any() or (
            trade & ((flags & (ID_INT | ID_STR)) == (ID_INT | ID_STR))).any():
        return "a trade with two sides or two kinds of id"
    ident = rows["ident"]
    if (((flags & ID_INT) != 0) & (ident < 0)).any():
        return "a negative integer trade id"
    if (((flags & ID_STR) != 0) & ((ident < 0) | (ident >= n_ids))).any():
        return "a trade id index beyond the chunk's table"
    level = ~empty
    with np.errstate(invalid="ignore"):
        if not (np.isfinite(price[level]).all() and np.isfinite(size[level]).all()):
            return "a price or size that is not a finite number"
        if (price[level] <= 0).any() or (size[level] < 0).any() or (size[trade] <= 0).any():
            return "a price <= 0, a level size < 0 or a trade amount <= 0"
    return None


class BinaryWriter:
    """Streams events into a new ``.mmb`` file: ``with BinaryWriter(path, meta) as w: w.write(events)``.

    Rows are buffered and written a chunk (``chunk_rows`` rows, rounded up to whole events) at a time;
    :meth:`close` (also on leaving the ``with`` block, even by an exception) writes what is buffered and the
    end record: what was written is a complete file. OSError if the file cannot be created or written;
    ValueError for an event the format cannot hold (a number that is not finite, a price <= 0...), TypeError
    for an object that is not an event.
    """

    def __init__(self, path: str | Path, meta: dict[str, Any] | None = None, chunk_rows: int = CHUNK_ROWS) -> None:
        meta_bytes = _dumps(dict(meta or {}))
        self.path = Path(path)
        self.chunk_rows = max(1, chunk_rows)
        self.events = 0
        self._rows = Rows()
        self._fh: IO[bytes] | None = open(self.path, "wb")  # noqa: SIM115 (closed by close())
        self._fh.write(MAGIC + _HEAD.pack(VERSION, len(meta_bytes)) + meta_bytes)

    def __enter__(self) -> BinaryWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def write(self, events: Iterable[Event]) -> int:
        """Append events (in time order); returns how many."""
        if self._fh is None:
            raise ValueError(f"{self.path}: the recording is closed")
        rows, limit, count = self._rows, self.chunk_rows, 0
        for event in events:
            rows.add(event)
            count += 1
            if len(rows) >= limit:
                self._write_chunk()
        return count

    def flush(self) -> None:
        """Write the buffered events as a chunk now (a recorder's safety point) and flush the file."""
        if self._fh is not None:
            self._write_chunk()
            self._fh.flush()

    def _write_chunk(self) -> None:
        rows, fh = self._rows, self._fh
        if not len(rows) or fh is None:
            return
        arr = np.empty(len(rows), ROW)
        arr["ts"], arr["price"], arr["size"] = rows.ts, rows.price, rows.size
        arr["ident"], arr["symbol"], arr["flags"] = rows.ident, rows.symbol, rows.flags
        problem = check_rows(arr, len(rows.symbols), len(rows.ids))
        if problem is not None:
            rows.clear()
            raise ValueError(f"cannot write to {self.path}: {problem}")
        table = _dumps({"symbols": rows.symbols, "ids": rows.ids})
        fh.write(_CHUNK.pack(_ROWS_TAG, len(arr), len(table)) + table)
        fh.write(arr.tobytes())
        self.events += rows.events
        rows.clear()

    def close(self) -> None:
        """Write the buffered rows and the end record and close the file (idempotent)."""
        fh = self._fh
        if fh is None:
            return
        try:
            self._write_chunk()
            fh.write(_END.pack(_END_TAG, self.events))
        finally:
            self._fh = None
            fh.close()


def write_binary(path: str | Path, events: Iterable[Event], meta: dict[str, Any] | None = None) -> int:
    """Write a whole binary recording; returns the number of events. Errors as :class:`BinaryWriter`."""
    with BinaryWriter(path, meta) as writer:
        return writer.write(events)


class _Reader:
    """Sequential reads of one ``.mmb`` file, every failure a one-line ValueError naming the byte offset."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.offset = 0

    def take(self, n: int, what: str) -> bytes:
        data = self.fh.read(n)
        if len(data) < n:
            raise ValueError(f"cut short at byte {self.offset + len(data)}: {what} incomplete "
                             "(the writer did not finish, or the file was truncated)")
        self.offset += n
        return data

    def bad(self, what: str, at: int | None = None) -> ValueError:
        return ValueError(f"corrupt binary recording at byte {self.offset if at is None else at}: {what}")

    def json(self, n: int, what: str) -> Any:
        at = self.offset
        try:
            return json.loads(self.take(n, what).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise self.bad(f"{what} is not UTF-8 JSON", at) from None

    def meta(self) -> dict[str, Any]:
        if self.take(len(MAGIC), "the header") != MAGIC:
            raise ValueError("not a binary recording (no .mmb header)")
        version, length = _HEAD.unpack(self.take(_HEAD.size, "the header"))
        if version != VERSION:
            raise ValueError(f"unsupported binary recording version {version} (this mmbot reads {VERSION})")
        if length > _MAX_TABLE:
            raise self.bad("an impossible meta length")
        meta = self.json(length, "the meta")
        if not isinstance(meta, dict):
            raise self.bad("the meta is not a JSON object")
        return meta

    def chunks(self) -> Iterator[list[Event]]:
        """Each chunk's events, after the meta; checks the end record's count."""
        events = 0
        while True:
            at = self.offset
            tag = self.take(4, "a chunk header")
            if tag == _END_TAG:
                (count,) = struct.unpack("<Q", self.take(_END.size - 4, "the end record"))
                if count != events:
                    raise self.bad(f"the end record counts {count} events, the chunks hold {events}", at)
                if self.fh.read(1):
                    raise self.bad("bytes after the end record")
                return
            if tag != _ROWS_TAG:
                raise self.bad("not a chunk header", at)
            n_rows, table_len = struct.unpack("<II", self.take(_CHUNK.size - 4, "a chunk header"))
            if table_len > _MAX_TABLE:
                raise self.bad("an impossible table length", at)
            table = self.json(table_len, "a chunk's table")
            symbols, ids = _table(table)
            if symbols is None or ids is None:
                raise self.bad("a chunk's table is not {symbols: [str...], ids: [str...]}", at)
            rows = np.frombuffer(self.take(n_rows * ROW.itemsize, "a chunk's rows"), ROW)
            problem = check_rows(rows, len(symbols), len(ids))
            if problem is not None:
                raise self.bad(problem, at)
            chunk = _decode(rows, symbols, ids)
            events += len(chunk)
            yield chunk


def _table(table: Any) -> tuple[list[str] | None, list[str] | None]:
    if not isinstance(table, dict):
        return None, None
    symbols, ids = table.get("symbols"), table.get("ids")
    if not (isinstance(symbols, list) and all(isinstance(s, str) and s for s in symbols)):
        symbols = None
    if not (isinstance(ids, list) and all(isinstance(s, str) for s in ids)):
        ids = None
    return symbols, ids


def _decode(rows: np.ndarray, symbols: list[str], ids: list[str]) -> list[Event]:
    """A checked chunk's events: numpy finds where each event and its asks start, the loop builds them.

    The cyclic garbage collector is paused while the loop runs (restored after, as it was): the loop makes
    a few hundred thousand tuples and events that hold no cycle, and would otherwise trigger a collection
    every few hundred of them (a third of the decoding time)."""
    flags = rows["flags"]
    starts = np.flatnonzero(flags & START)
    bid_rows = ((flags & (TRADE | ASK | EMPTY)) == 0).astype(np.int64)
    asks = starts + np.add.reduceat(bid_rows, starts)
    head = rows[starts]
    columns = (head["ts"].tolist(), head["flags"].tolist(), head["symbol"].tolist(), head["ident"].tolist(),
               starts.tolist(), asks.tolist(), rows["price"].tolist(), rows["size"].tolist())
    enabled = gc.isenabled()
    gc.disable()
    try:
        return decode(*columns, symbols, ids)
    finally:
        if enabled:
            gc.enable()


def read_binary_meta(path: str | Path) -> dict[str, Any]:
    """The free-form keys of a binary recording's meta. OSError if unreadable, ValueError if malformed."""
    with open(path, "rb") as fh:
        return _Reader(fh).meta()


def iter_binary(path: str | Path) -> Iterator[Event]:
    """The events of a binary recording, streamed a chunk at a time (memory flat in its length).

    OSError if unreadable; ValueError (one line) if it is not a binary recording, damaged or cut short:
    the events before the damage have been yielded by then."""
    with open(path, "rb") as fh:
        reader = _Reader(fh)
        reader.meta()
        for chunk in reader.chunks():
            yield from chunk
