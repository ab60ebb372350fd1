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
CHUNK_ROWS = 8192  # ~300 kB: a chunk's events are replayed while still in the CPU cache (measured: 32k rows 10% slower)
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


class _Chunk:
    """One chunk's rows, checked: ``problem`` says why they are not well-formed events (None when they are);
    ``starts`` (the first row of each event) and ``head`` (those rows) are what :func:`_decode` reads.

    Every rule :func:`bot.research.colrows.decode` relies on is checked, and the numbers the JSON lines' reader
    would refuse. A book event's later rows repeat its time and symbol (fixed-size rows, as hftbacktest's): the
    decoder reads them from the event's first row only, so only that copy is checked."""

    def __init__(self, rows: np.ndarray, n_symbols: int, n_ids: int) -> None:
        self.rows = rows
        self.starts = np.flatnonzero(rows["flags"] & START)
        self.head = rows[self.starts]
        self.problem = self._check(n_symbols, n_ids) if len(rows) else "an empty chunk"

    def _check(self, n_symbols: int, n_ids: int) -> str | None:
        rows, starts, head = self.rows, self.starts, self.head
        flags = rows["flags"]
        if int(flags.max()) > KNOWN:  # KNOWN is every flag bit: anything above is an unknown one
            return "unknown row flags"
        if not len(starts) or starts[0] != 0:
            return "the first row does not start an event"
        # the rows of an event: a trade or an empty book is one row; a book's bids come before its asks
        lengths = np.diff(starts, append=len(rows))
        hflags = head["flags"]
        if ((lengths > 1) & ((hflags & (TRADE | EMPTY)) != 0)).any() or ((flags & (TRADE | EMPTY)) != 0).sum() != (
                (hflags & (TRADE | EMPTY)) != 0).sum():
            return "a trade or an empty book spread over several rows"
        ask = (flags & ASK) != 0
        if (ask[:-1] & ~ask[1:] & ((flags[1:] & START) == 0)).any():
            return "a book event's bid after one of its asks"
        if int(head["symbol"].max()) >= n_symbols:
            return "a symbol index beyond the chunk's table"
        if not np.isfinite(head["ts"]).all():
            return "a timestamp that is not a finite number"
        trade = (hflags & TRADE) != 0
        if (~trade & ((hflags & (BUY | SELL | ID_INT | ID_STR)) != 0)).any():
            return "trade flags on a book row"
        if (trade & ((hflags & ASK) != 0)).any():
            return "a book side on a trade row"
        if (((hflags & (BUY | SELL)) == (BUY | SELL)) | ((hflags & (ID_INT | ID_STR)) == (ID_INT | ID_STR))).any():
            return "a trade with two sides or two kinds of id"
        ident = head["ident"]
        if ((((hflags & ID_INT) != 0) | ((hflags & ID_STR) != 0)) & (ident < 0)).any() or (
                ((hflags & ID_STR) != 0) & (ident >= n_ids)).any():
            return "a trade id out of range"
        # levels: finite prices > 0, finite sizes >= 0 (an empty book's row holds no level); trades: amount > 0
        level = (flags & EMPTY) == 0
        price, size = rows["price"], rows["size"]
        lo, hi = price.min(where=level, initial=np.inf), price.max(where=level, initial=1.0)
        if not (lo > 0 and hi < np.inf):  # NaN fails both
            return "a price that is not a finite number > 0"
        lo, hi = size.min(where=level, initial=np.inf), size.max(where=level, initial=0.0)
        if not (lo >= 0 and hi < np.inf):
            return "a size that is not a finite number >= 0"
        if (head["size"][trade] <= 0).any():
            return "a trade amount <= 0"
        return None


def check_rows(rows: np.ndarray, n_symbols: int, n_ids: int) -> str | None:
    """Why ``rows`` (one chunk, with tables of ``n_symbols`` symbols and ``n_ids`` ids) are not well-formed
    events, or None when they are (see :class:`_Chunk`)."""
    return _Chunk(rows, n_symbols, n_ids).problem


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
            checked = _Chunk(rows, len(symbols), len(ids))
            if checked.problem is not None:
                raise self.bad(checked.problem, at)
            chunk = _decode(checked, symbols, ids)
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


def _decode(chunk: _Chunk, symbols: list[str], ids: list[str]) -> list[Event]:
    """A checked chunk's events: numpy finds where each event's asks start, the loop builds the events.

    The cyclic garbage collector is paused while the loop runs (restored after, as it was): the loop makes
    a few hundred thousand tuples and events that hold no cycle, and would otherwise trigger a collection
    every few hundred of them (a third of the decoding time)."""
    rows, starts, head = chunk.rows, chunk.starts, chunk.head
    bid_rows = ((rows["flags"] & (TRADE | ASK | EMPTY)) == 0).astype(np.int64)
    asks = starts + np.add.reduceat(bid_rows, starts)
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
