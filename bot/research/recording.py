"""The recording format: JSON lines of market events (``mmbot record`` writes it, research reads it).

One JSON object per line (UTF-8; the file may be gzip-compressed, recognised by a ``.gz`` suffix).
Times ``ts`` are seconds since the Unix epoch (float); prices in quote currency, sizes in base units.

* ``{"type": "meta", "version": 1, ...}`` optional, first line; any further keys are free-form
  (venue, symbols, start time). Readers skip it.
* ``{"type": "book", "ts": 1700000000.25, "symbol": "BTC/USDT", "snapshot": true,
  "bids": [[price, size], ...], "asks": [[price, size], ...]}``: with ``snapshot`` true (the
  default when absent) the levels replace the whole book; with ``snapshot`` false they are a diff:
  each level sets that price's size, and a size of 0 removes the level.
* ``{"type": "trade", "ts": ..., "symbol": ..., "price": p, "amount": a, "side": "buy"|"sell"|null,
  "id": "..."}``: a public trade; ``side`` is the taker's side (buy = lifted the ask) or null if the
  venue does not say; ``id`` is optional.

Events are written and read in time order. Readers reject a malformed line with ``ValueError``
naming the line number. The event classes live in :mod:`bot.research.events` and are importable from here.

The readers (:func:`iter_recording`, :func:`read_recording`, :func:`read_meta`) also take the binary
recording of :mod:`bot.research.columnar` (recognised by its magic, whatever the file's name);
:func:`create_recording` writes either format, chosen by the suffix.
"""

from __future__ import annotations

import gzip
import io
import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Protocol

from bot.research.columnar import SUFFIX as BINARY_SUFFIX
from bot.research.columnar import BinaryWriter, is_binary, iter_binary, read_binary_meta

# the event classes, re-exported: code that reads recordings imports them from here
from bot.research.events import BookEvent as BookEvent
from bot.research.events import Event as Event
from bot.research.events import Level as Level
from bot.research.events import TradeEvent as TradeEvent

_loads: Callable[[str], Any]
try:  # orjson ships with ccxt and parses several times faster; its errors are ValueErrors too
    import orjson

    _loads = orjson.loads
except ImportError:  # pragma: no cover
    _loads = json.loads

FORMAT_VERSION = 1


@dataclass
class Meta:
    """Optional header; ``extra`` holds any free-form keys."""

    version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)


def _open_text(path: Path, mode: str) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.GzipFile(path, mode + "b"), encoding="utf-8")
    return open(path, mode, encoding="utf-8")


def event_to_dict(event: Event) -> dict[str, Any]:
    """The JSON object of one event (see the module docstring)."""
    if isinstance(event, BookEvent):
        return {
            "type": "book",
            "ts": event.ts,
            "symbol": event.symbol,
            "snapshot": event.snapshot,
            "bids": [[p, q] for p, q in event.bids],
            "asks": [[p, q] for p, q in event.asks],
        }
    out: dict[str, Any] = {
        "type": "trade",
        "ts": event.ts,
        "symbol": event.symbol,
        "price": event.price,
        "amount": event.amount,
        "side": event.side,
    }
    if event.id is not None:
        out["id"] = event.id
    return out


def _finite(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    try:
        number = float(value)  # an int beyond float's range overflows
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return number


def _number(obj: dict[str, Any], key: str) -> float:
    return _finite(obj.get(key), repr(key))


_NUMBERS = frozenset((float, int))


def _valid_levels(raw: list[Any]) -> tuple[Level, ...] | None:
    """``raw`` as levels when every entry is a [price, size] pair of finite numbers with price > 0 and
    size >= 0 (the usual line), checked a column at a time; None when any check fails or cannot be
    made this way (the caller then checks entry by entry, for the error message or the odd valid line)."""
    try:
        prices, sizes = zip(*raw, strict=False)  # entries longer than a pair keep their first two
    except (TypeError, ValueError):  # not iterable, or not exactly two columns
        return None
    types = set(map(type, prices))
    types.update(map(type, sizes))
    if not types <= _NUMBERS:  # bool, str, None, ... (a bool is not an int here)
        return None
    try:
        # a sum is finite only when every term is (NaN or inf stays; a finite overflow only sends
        # the line to the entry-by-entry check, which accepts it)
        if not (math.isfinite(sum(prices)) and math.isfinite(sum(sizes)) and min(prices) > 0 and min(sizes) >= 0):
            return None
    except OverflowError:  # an int too large for a float
        return None
    if int not in types:
        return tuple(zip(prices, sizes, strict=True))
    return tuple(zip(map(float, prices), map(float, sizes), strict=True))


def _levels(obj: dict[str, Any], key: str) -> tuple[Level, ...]:
    raw = obj.get(key, [])
    if not isinstance(raw, list):
        raise ValueError(f"{key!r} must be a list of [price, size] pairs")
    if not raw:
        return ()
    levels = _valid_levels(raw)
    return _levels_by_entry(raw, key) if levels is None else levels


def _levels_by_entry(raw: list[Any], key: str) -> tuple[Level, ...]:
    """:func:`_valid_levels`' answer checked one entry at a time: ValueError naming the first bad one."""
    levels = []
    for item in raw:
        if not (isinstance(item, list | tuple) and len(item) >= 2):
            raise ValueError(f"{key!r} entries must be [price, size] pairs, got {item!r}")
        price, size = _finite(item[0], f"{key!r} price"), _finite(item[1], f"{key!r} size")
        if price <= 0 or size < 0:
            raise ValueError(f"{key!r} level {item!r}: price must be > 0 and size >= 0")
        levels.append((price, size))
    return tuple(levels)


def event_from_dict(obj: Any) -> Event | Meta:
    """Parse one JSON object; raises ValueError with the reason when it is malformed."""
    if not isinstance(obj, dict):
        raise ValueError("each line must be a JSON object")
    kind = obj.get("type")
    if kind == "meta":
        version = obj.get("version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise ValueError(f"unsupported recording version {version!r} (this mmbot reads {FORMAT_VERSION})")
        return Meta(version=version, extra={k: v for k, v in obj.items() if k not in ("type", "version")})
    if kind not in ("book", "trade"):
        raise ValueError(f"unknown event type {kind!r} (expected book, trade or meta)")
    symbol = obj.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise ValueError("'symbol' must be a non-empty string")
    ts = _number(obj, "ts")
    if kind == "book":
        snapshot = obj.get("snapshot", True)
        if not isinstance(snapshot, bool):
            raise ValueError("'snapshot' must be true or false")
        return BookEvent(ts, symbol, _levels(obj, "bids"), _levels(obj, "asks"), snapshot)
    price, amount = _number(obj, "price"), _number(obj, "amount")
    if price <= 0 or amount <= 0:
        raise ValueError("trade 'price' and 'amount' must be positive")
    side = obj.get("side")
    if side not in ("buy", "sell", None):
        raise ValueError(f"trade 'side' must be buy, sell or null, got {side!r}")
    trade_id = obj.get("id")
    return TradeEvent(ts, symbol, price, amount, side, None if trade_id is None else str(trade_id))


def iter_events(lines: Iterable[str]) -> Iterator[Event]:
    """Parse recording lines (blank lines allowed); raises ValueError("line N: ...") on bad input."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            parsed = event_from_dict(_loads(line))
        except ValueError as exc:  # json/orjson JSONDecodeError is a ValueError
            raise ValueError(f"line {number}: {exc}") from None
        if not isinstance(parsed, Meta):
            yield parsed


def read_recording(path: str | Path) -> list[Event]:
    """All events of a recording file. OSError if it can't be read, ValueError if malformed."""
    if is_binary(path):
        return list(iter_binary(path))
    try:
        with _open_text(Path(path), "r") as fh:
            return list(iter_events(fh))
    except (UnicodeDecodeError, EOFError, gzip.BadGzipFile) as exc:
        raise ValueError(f"not a recording: {exc}") from None


def iter_recording(path: str | Path) -> Iterator[Event]:
    """The events of a recording file, streamed (constant memory); errors as :func:`read_recording`."""
    if is_binary(path):
        yield from iter_binary(path)
        return
    try:
        with _open_text(Path(path), "r") as fh:
            yield from iter_events(fh)
    except (UnicodeDecodeError, EOFError, gzip.BadGzipFile) as exc:
        raise ValueError(f"not a recording: {exc}") from None


def read_meta(path: str | Path) -> dict[str, Any]:
    """The free-form keys of the recording's meta line ({} when it has none).

    OSError if it can't be read, ValueError if the first line is malformed.
    """
    if is_binary(path):
        return read_binary_meta(path)
    try:
        with _open_text(Path(path), "r") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    parsed = event_from_dict(json.loads(line))
                except ValueError as exc:
                    raise ValueError(f"line 1: {exc}") from None
                return parsed.extra if isinstance(parsed, Meta) else {}
    except (UnicodeDecodeError, EOFError, gzip.BadGzipFile) as exc:
        raise ValueError(f"not a recording: {exc}") from None
    return {}


def write_events(fh: IO[str], events: Iterable[Event]) -> int:
    """Append events as JSON lines to an open text file; returns how many were written."""
    count = 0
    for event in events:
        fh.write(json.dumps(event_to_dict(event), separators=(",", ":")) + "\n")
        count += 1
    return count


def open_recording(path: str | Path, meta: dict[str, Any] | None = None) -> IO[str]:
    """Create a recording for streaming (meta line written; append with :func:`write_events`).

    Gzip if ``path`` ends in ``.gz``. The caller closes the file. OSError if it cannot be created.
    """
    fh = _open_text(Path(path), "w")
    header = {"type": "meta", "version": FORMAT_VERSION, **(meta or {})}
    fh.write(json.dumps(header, separators=(",", ":")) + "\n")
    return fh


def write_recording(path: str | Path, events: Iterable[Event], meta: dict[str, Any] | None = None) -> int:
    """Write a whole recording (meta line first); gzip if ``path`` ends in ``.gz``."""
    with _open_text(Path(path), "w") as fh:
        header = {"type": "meta", "version": FORMAT_VERSION, **(meta or {})}
        fh.write(json.dumps(header, separators=(",", ":")) + "\n")
        return write_events(fh, events)


class RecordingWriter(Protocol):
    """A recording being written (:func:`create_recording`): ``write`` appends events in time order and
    returns how many, ``close`` completes the file (also on leaving a ``with`` block)."""

    def write(self, events: Iterable[Event]) -> int: ...

    def close(self) -> None: ...

    def __enter__(self) -> RecordingWriter: ...

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...


class JsonLinesWriter:
    """JSON lines into an open text file (:func:`open_recording` gives one with its meta line); owns ``fh``."""

    def __init__(self, fh: IO[str]) -> None:
        self.fh = fh

    def write(self, events: Iterable[Event]) -> int:
        return write_events(self.fh, events)

    def close(self) -> None:
        self.fh.close()

    def __enter__(self) -> JsonLinesWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def create_recording(path: str | Path, meta: dict[str, Any] | None = None) -> RecordingWriter:
    """A new recording at ``path``, its format chosen by the suffix: ``.mmb`` binary
    (:class:`bot.research.columnar.BinaryWriter`), else JSON lines (gzip when it ends in ``.gz``).

    OSError if it cannot be created; ValueError for ``.mmb.gz`` (the binary format is not gzipped)."""
    path = Path(path)
    if path.suffix == BINARY_SUFFIX:
        return BinaryWriter(path, meta)
    if path.suffixes[-2:] == [BINARY_SUFFIX, ".gz"]:
        raise ValueError(f"{path}: a binary recording is not gzipped (name it {path.with_suffix('')})")
    return JsonLinesWriter(open_recording(path, meta))
