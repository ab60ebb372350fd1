"""The journal: a small SQLite database (stdlib ``sqlite3``, WAL) under ``risk.state_dir``.

Everything is written *before* it is acted on, each write its own committed transaction:

- ``orders``: a row when a create is about to be sent (client id, side, price, amount), then the
  venue's order id once acknowledged, then ``closed`` when it stops resting;
- ``fills``: each of our trades (keyed by symbol and trade id) before it is booked into the inventory;
- ``baselines``: per symbol, the venue's base balance at which the bot's inventory ``q`` was 0 (the
  first run with this journal); ``q`` persists across restarts and equals ``balance - baseline``;
- ``snapshots``: periodic inventory snapshots (q, equity, mid) for the operator;
- ``kills``: kill-switch events with reason and state; one without ``cleared_at`` is a latched kill
  that refuses every start until ``mmbot reset-kill`` clears it.

A restart replays ``fills`` (exact inventory, seen trade ids) and ``orders`` (which venue orders are
ours), then reconciles with the venue. WAL with ``synchronous=NORMAL`` survives a killed process
(``kill -9``); only an operating-system crash may lose the last transactions.

A write the database refuses (disk full, a read-only file or file system, an I/O error) raises
:class:`JournalWriteError` with one line (``journal: cannot write <path>: <SQLite's words>``); the first
one also calls ``on_write_failed`` (the running service trips the kill switch: without its journal it
cannot promise exactly-once). A read that fails raises :class:`JournalError`. The kill latch
(:meth:`Journal.latch`) falls back to a small file next to the journal (``<journal>.kill``) when the
journal cannot take it; :meth:`Journal.active_kill` and :meth:`Journal.clear_kills` see both.

Which journal (:func:`journal_path`, :func:`journal_for`): one file per account under ``risk.state_dir``
(``journal-<kind>-<exchange>-<account tag>.sqlite``, the tag a hash of URL and API key, never the key
itself), or an in-memory one for venues that forget everything when the process ends (the in-process sim,
paper). :func:`refuse_if_latched` stops a start while a kill is latched (:func:`describe_kill` says it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.core.inventory import Fill
from bot.errors import UserError

if TYPE_CHECKING:
    from bot.config import Settings

SCHEMA_VERSION = 1
FILE_NAME = "journal.sqlite"
MEMORY = Path(":memory:")
#: appended to the journal's file name: the kill latch written when the journal itself cannot be
LATCH_SUFFIX = ".kill"
#: SQLite's page cache for the connection, KiB. SQLite keeps pages it read or wrote up to this size (its
#: default is ~2 MiB), so the process grows with the file until the file passes it. Every write appends
#: or updates recent rows: a few pages of each B-tree (64 pages of 4 KiB hold them); older pages are read
#: back from the OS cache when needed (a restart's replay).
CACHE_KIB = 256

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS baselines (
    symbol TEXT PRIMARY KEY, asset TEXT NOT NULL, balance TEXT NOT NULL, set_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    client_id TEXT PRIMARY KEY, symbol TEXT NOT NULL, side TEXT NOT NULL, price REAL NOT NULL,
    amount REAL NOT NULL, order_id TEXT, status TEXT NOT NULL, created_at REAL NOT NULL,
    updated_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS orders_symbol ON orders (symbol, status);
CREATE TABLE IF NOT EXISTS fills (
    symbol TEXT NOT NULL, trade_id TEXT NOT NULL, side TEXT NOT NULL, price REAL NOT NULL,
    amount TEXT NOT NULL, fee REAL NOT NULL, fee_currency TEXT, ts REAL NOT NULL, order_id TEXT,
    client_id TEXT, recorded_at REAL NOT NULL, PRIMARY KEY (symbol, trade_id));
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT, symbol TEXT NOT NULL, ts REAL NOT NULL, q TEXT NOT NULL,
    equity REAL, mid REAL);
CREATE TABLE IF NOT EXISTS kills (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, reason TEXT NOT NULL, state TEXT NOT NULL,
    cleared_at REAL, cleared_by TEXT);
"""


class JournalError(Exception):
    """The journal cannot be opened or read, or has a schema this version does not understand."""


class JournalWriteError(JournalError):
    """A write the database refused (disk full, read-only file or file system, I/O error); one line."""


@dataclass(frozen=True)
class KillRecord:
    id: int
    ts: float
    reason: str
    state: dict[str, Any]
    source: str = "journal"  # or the latch file's path (the journal could not be written)


@dataclass(frozen=True)
class Latch:
    """Where a kill was latched: ``journal``, ``file`` (next to it), ``memory`` (nothing outlives the
    process) or ``none``; ``note`` says it to the operator (None when latched in the journal)."""

    where: str
    note: str | None = None


def _line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


@dataclass(frozen=True)
class OrderRecord:
    client_id: str
    symbol: str
    side: str
    price: float
    amount: float
    order_id: str | None
    status: str
    created_at: float


class Journal:
    """One journal file; every method commits before it returns."""

    def __init__(self, path: Path, on_write_failed: Callable[[str, str], None] | None = None) -> None:
        self.path = path
        self.failed: str | None = None  # the first failed write's line
        self.write_failures = 0
        #: told ``(operation, line)`` on the first failed write (the service trips the kill switch)
        self.on_write_failed = on_write_failed
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(path), isolation_level=None, timeout=10.0)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            self.db.executescript(_SCHEMA)
            row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"cannot open the journal {path}: {exc}") from None
        if row is None:
            try:
                self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            except sqlite3.Error as exc:
                raise JournalError(f"cannot open the journal {path}: {_line(exc)}") from None
        elif int(row[0]) != SCHEMA_VERSION:
            raise JournalError(f"journal {path} has schema version {row[0]}, this mmbot understands {SCHEMA_VERSION}")

    @classmethod
    def open(cls, state_dir: Path) -> Journal:
        return cls(Path(state_dir) / FILE_NAME)

    def close(self) -> None:
        """Close; never raises (a failed final checkpoint leaves the WAL file, which the next open replays)."""
        with contextlib.suppress(sqlite3.Error):
            self.db.close()

    @property
    def persistent(self) -> bool:
        return self.path != MEMORY

    @property
    def latch_path(self) -> Path | None:
        """The kill latch file next to the journal (None for an in-memory journal)."""
        return self.path.with_name(self.path.name + LATCH_SUFFIX) if self.persistent else None

    def _write(self, op: str, sql: str, args: tuple[Any, ...]) -> sqlite3.Cursor:
        """Run one write (its own committed transaction); a refusal raises :class:`JournalWriteError`
        and, the first time, tells ``on_write_failed``."""
        try:
            return self.db.execute(sql, args)
        except sqlite3.Error as exc:
            line = f"journal: cannot write {self.path}: {_line(exc)}"
            self.write_failures += 1
            first = self.failed is None
            if first:
                self.failed = line
            if first and self.on_write_failed is not None:
                self.on_write_failed(op, line)
            raise JournalWriteError(line) from None

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(f"journal: cannot read {self.path}: {_line(exc)}") from None

    def touch(self) -> None:
        """A real write at start-up (``meta.last_start``): a journal that cannot be written is found before
        anything is quoted; raises :class:`JournalWriteError`."""
        self._write("start", "INSERT OR REPLACE INTO meta VALUES ('last_start', ?)", (repr(time.time()),))

    # -- kills ------------------------------------------------------------------------------------
    def record_kill(self, reason: str, state: dict[str, Any]) -> int:
        cur = self._write("record_kill", "INSERT INTO kills (ts, reason, state) VALUES (?, ?, ?)",
                          (time.time(), reason, json.dumps(state, default=str)))
        return int(cur.lastrowid or 0)

    def latch(self, reason: str, state: dict[str, Any]) -> Latch:
        """Latch a kill: in the journal, else in the latch file next to it; never raises. The result
        says truthfully where it was latched, or that it was not."""
        try:
            self.record_kill(reason, state)
        except JournalError as exc:
            failure = str(exc)
        else:
            if not self.persistent:
                return Latch("memory", "not latched: the journal is in memory (nothing outlives this process)")
            return Latch("journal")
        path = self.latch_path
        if path is None:
            return Latch("none", f"NOT LATCHED ({failure}): a restart will quote")
        try:
            write_latch_file(path, time.time(), reason, state)
        except OSError as exc:
            return Latch("none", f"NOT LATCHED ({failure}; latch file {path}: {_line(exc)}): a restart will "
                                 "quote, check the account first")
        return Latch("file", f"latched in {path} ({failure})")

    def active_kill(self) -> KillRecord | None:
        """The first kill not cleared yet (the latch), if any: the journal's, else the latch file's."""
        rows = self._read("SELECT id, ts, reason, state FROM kills WHERE cleared_at IS NULL ORDER BY id LIMIT 1")
        if rows:
            return KillRecord(rows[0][0], rows[0][1], rows[0][2], json.loads(rows[0][3]))
        path = self.latch_path
        return None if path is None else read_latch_file(path)

    def clear_kills(self, by: str) -> int:
        """Clear every latched kill; a latch file's kill is first copied into the journal (as cleared), then
        the file removed. Returns how many were cleared; raises :class:`JournalError` when it cannot."""
        path = self.latch_path
        kill = None if path is None else read_latch_file(path)
        if kill is not None:
            self.record_kill(kill.reason, kill.state)
        cur = self._write("clear_kills", "UPDATE kills SET cleared_at = ?, cleared_by = ? WHERE cleared_at IS NULL",
                          (time.time(), by))
        if kill is not None and path is not None:
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise JournalError(f"cannot remove the kill latch file {path}: {_line(exc)}") from None
        return cur.rowcount

    # -- baselines --------------------------------------------------------------------------------
    def baseline(self, symbol: str) -> Decimal | None:
        rows = self._read("SELECT balance FROM baselines WHERE symbol = ?", (symbol,))
        return None if not rows else Decimal(rows[0][0])

    def set_baseline(self, symbol: str, asset: str, balance: Decimal) -> None:
        self._write("set_baseline", "INSERT OR REPLACE INTO baselines VALUES (?, ?, ?, ?)",
                    (symbol, asset, str(balance), time.time()))

    # -- orders -----------------------------------------------------------------------------------
    def order_sent(self, client_id: str, symbol: str, side: str, price: float, amount: float) -> None:
        now = time.time()
        self._write("order_sent", "INSERT OR REPLACE INTO orders VALUES (?, ?, ?, ?, ?, NULL, 'sent', ?, ?)",
                    (client_id, symbol, side, price, amount, now, now))

    def order_acked(self, client_id: str, order_id: str) -> None:
        self._write("order_acked", "UPDATE orders SET order_id = ?, status = CASE WHEN status = 'sent' THEN 'open' "
                    "ELSE status END, updated_at = ? WHERE client_id = ?", (order_id, time.time(), client_id))

    def order_closed(self, client_id: str) -> None:
        self._write("order_closed", "UPDATE orders SET status = 'closed', updated_at = ? WHERE client_id = ?",
                    (time.time(), client_id))

    def orders(self, symbol: str, active_since: float | None = None) -> list[OrderRecord]:
        """This symbol's orders, oldest first; with ``active_since`` (s, wall clock) only those a trade at
        or after it can belong to: not closed, or closed (last updated) at or after it."""
        sql = "SELECT client_id, symbol, side, price, amount, order_id, status, created_at FROM orders WHERE symbol = ?"
        args: tuple[Any, ...] = (symbol,)
        if active_since is not None:
            sql += " AND (status != 'closed' OR updated_at >= ?)"
            args += (active_since,)
        return [OrderRecord(*r) for r in self._read(sql + " ORDER BY created_at", args)]

    def order_count(self, symbol: str) -> int:
        return int(self._read("SELECT COUNT(*) FROM orders WHERE symbol = ?", (symbol,))[0][0])

    def catch_up_since(self, symbol: str, latest: int = 20) -> float | None:
        """Where a restart's trade catch-up must start reading (s, wall clock, before any margin): the
        earliest of the unsettled orders' creation, the ``latest`` newest orders' creation (a fill may be
        journaled out of order) and the last journaled fill; None when the journal has no order."""
        unsettled = self._read("SELECT MIN(created_at) FROM orders WHERE symbol = ? AND status != 'closed'",
                               (symbol,))[0][0]
        newest = self._read("SELECT MIN(created_at) FROM (SELECT created_at FROM orders WHERE symbol = ? "
                            "ORDER BY created_at DESC LIMIT ?)", (symbol, latest))[0][0]
        if newest is None:
            return None
        times = [t for t in (unsettled, newest, self.last_fill_time(symbol)) if t is not None]
        return float(min(times))

    # -- fills ------------------------------------------------------------------------------------
    def record_fill(self, symbol: str, fill: Fill) -> bool:
        """Store a fill; False when this trade id was already journaled."""
        cur = self._write(
            "record_fill", "INSERT OR IGNORE INTO fills VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (symbol, fill.trade_id, fill.side, fill.price, str(fill.amount), fill.fee, fill.fee_currency,
             fill.timestamp, fill.order_id, fill.client_id, time.time()))
        return cur.rowcount == 1

    def fills(self, symbol: str) -> Iterator[Fill]:
        """This symbol's fills in booking order, read row by row (a failed read: :class:`JournalError`)."""
        try:
            rows = self.db.execute("SELECT trade_id, side, price, amount, fee, fee_currency, ts, order_id, "
                                   "client_id FROM fills WHERE symbol = ? ORDER BY recorded_at, rowid", (symbol,))
            for r in rows:
                yield Fill(trade_id=r[0], side=r[1], price=r[2], amount=r[3], fee=r[4], fee_currency=r[5],
                           timestamp=r[6], order_id=r[7], client_id=r[8])
        except sqlite3.Error as exc:
            raise JournalError(f"journal: cannot read {self.path}: {_line(exc)}") from None

    def last_fill_time(self, symbol: str) -> float | None:
        rows = self._read("SELECT MAX(ts) FROM fills WHERE symbol = ?", (symbol,))
        return None if not rows or rows[0][0] is None else float(rows[0][0])

    # -- snapshots --------------------------------------------------------------------------------
    def snapshot(self, symbol: str, q: Decimal, equity: float | None, mid: float | None) -> None:
        self._write("snapshot", "INSERT INTO snapshots (symbol, ts, q, equity, mid) VALUES (?, ?, ?, ?, ?)",
                    (symbol, time.time(), str(q), equity, mid))


def write_latch_file(path: Path, ts: float, reason: str, state: dict[str, Any]) -> None:
    """Write the kill latch file (JSON: ts, reason, state), synced to disk; raises OSError."""
    data = json.dumps({"ts": ts, "reason": reason, "state": state}, default=str).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_latch_file(path: Path) -> KillRecord | None:
    """The kill in the latch file, None when there is none; a file that cannot be read or parsed still
    latches (its reason says so)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        return KillRecord(0, 0.0, f"unreadable kill latch file: {_line(exc)}", {}, str(path))
    try:
        data = json.loads(text)
        return KillRecord(0, float(data["ts"]), str(data["reason"]), dict(data.get("state") or {}), str(path))
    except (ValueError, KeyError, TypeError):
        return KillRecord(0, 0.0, "kill latch file not valid (a kill was being latched)", {}, str(path))


def journal_path(settings: Settings) -> Path:
    """Where this account's journal lives (``:memory:`` for venues that do not outlive the process)."""
    venue = settings.venue
    if venue.kind == "paper" or (venue.kind == "sim" and not venue.url):
        return MEMORY
    key = venue.api_key.get_secret_value() if venue.api_key is not None else ""
    tag = hashlib.sha256(f"{venue.kind}|{venue.exchange}|{venue.url or ''}|{key}".encode()).hexdigest()[:12]
    return Path(settings.risk.state_dir) / f"journal-{venue.kind}-{venue.exchange}-{tag}.sqlite"


def journal_for(settings: Settings, on_write_failed: Callable[[str, str], None] | None = None) -> Journal:
    """Open this account's journal (:func:`journal_path`); one that cannot be opened is a UserError."""
    try:
        return Journal(journal_path(settings), on_write_failed)
    except JournalError as exc:
        raise UserError(str(exc)) from None


def describe_kill(journal: Journal) -> str | None:
    """One line about the latched kill, or None when nothing is latched (a journal that cannot be read:
    :class:`JournalError`)."""
    kill = journal.active_kill()
    if kill is None:
        return None
    when = datetime.fromtimestamp(kill.ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if kill.ts else "an unknown time"
    where = "" if kill.source == "journal" else f" (in the latch file {kill.source}: the journal could not be written)"
    return f"kill switch latched at {when}: {kill.reason}{where}"


def refuse_if_latched(journal: Journal) -> None:
    """A UserError while a kill is latched (the start refuses to quote until ``mmbot reset-kill``)."""
    line = describe_kill(journal)
    if line is not None:
        raise UserError(f"{line}; refusing to quote. Check the account, then run `mmbot reset-kill` "
                        "(with the same --config)")
