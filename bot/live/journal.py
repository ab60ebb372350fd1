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
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.core.inventory import Fill

SCHEMA_VERSION = 1
FILE_NAME = "journal.sqlite"
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
    """The journal cannot be opened or has a schema this version does not understand."""


@dataclass(frozen=True)
class KillRecord:
    id: int
    ts: float
    reason: str
    state: dict[str, Any]


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

    def __init__(self, path: Path) -> None:
        self.path = path
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
            self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) != SCHEMA_VERSION:
            raise JournalError(f"journal {path} has schema version {row[0]}, this mmbot understands {SCHEMA_VERSION}")

    @classmethod
    def open(cls, state_dir: Path) -> Journal:
        return cls(Path(state_dir) / FILE_NAME)

    def close(self) -> None:
        self.db.close()

    # -- kills ------------------------------------------------------------------------------------
    def record_kill(self, reason: str, state: dict[str, Any]) -> int:
        cur = self.db.execute("INSERT INTO kills (ts, reason, state) VALUES (?, ?, ?)",
                              (time.time(), reason, json.dumps(state, default=str)))
        return int(cur.lastrowid or 0)

    def active_kill(self) -> KillRecord | None:
        """The first kill not cleared yet (the latch), if any."""
        row = self.db.execute(
            "SELECT id, ts, reason, state FROM kills WHERE cleared_at IS NULL ORDER BY id LIMIT 1").fetchone()
        return None if row is None else KillRecord(row[0], row[1], row[2], json.loads(row[3]))

    def clear_kills(self, by: str) -> int:
        cur = self.db.execute("UPDATE kills SET cleared_at = ?, cleared_by = ? WHERE cleared_at IS NULL",
                              (time.time(), by))
        return cur.rowcount

    # -- baselines --------------------------------------------------------------------------------
    def baseline(self, symbol: str) -> Decimal | None:
        row = self.db.execute("SELECT balance FROM baselines WHERE symbol = ?", (symbol,)).fetchone()
        return None if row is None else Decimal(row[0])

    def set_baseline(self, symbol: str, asset: str, balance: Decimal) -> None:
        self.db.execute("INSERT OR REPLACE INTO baselines VALUES (?, ?, ?, ?)",
                        (symbol, asset, str(balance), time.time()))

    # -- orders -----------------------------------------------------------------------------------
    def order_sent(self, client_id: str, symbol: str, side: str, price: float, amount: float) -> None:
        now = time.time()
        self.db.execute("INSERT OR REPLACE INTO orders VALUES (?, ?, ?, ?, ?, NULL, 'sent', ?, ?)",
                        (client_id, symbol, side, price, amount, now, now))

    def order_acked(self, client_id: str, order_id: str) -> None:
        self.db.execute("UPDATE orders SET order_id = ?, status = CASE WHEN status = 'sent' THEN 'open' "
                        "ELSE status END, updated_at = ? WHERE client_id = ?", (order_id, time.time(), client_id))

    def order_closed(self, client_id: str) -> None:
        self.db.execute("UPDATE orders SET status = 'closed', updated_at = ? WHERE client_id = ?",
                        (time.time(), client_id))

    def orders(self, symbol: str, active_since: float | None = None) -> list[OrderRecord]:
        """This symbol's orders, oldest first; with ``active_since`` (s, wall clock) only those a trade at
        or after it can belong to: not closed, or closed (last updated) at or after it."""
        sql = "SELECT client_id, symbol, side, price, amount, order_id, status, created_at FROM orders WHERE symbol = ?"
        args: tuple[Any, ...] = (symbol,)
        if active_since is not None:
            sql += " AND (status != 'closed' OR updated_at >= ?)"
            args += (active_since,)
        return [OrderRecord(*r) for r in self.db.execute(sql + " ORDER BY created_at", args).fetchall()]

    def order_count(self, symbol: str) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM orders WHERE symbol = ?", (symbol,)).fetchone()[0])

    def catch_up_since(self, symbol: str, latest: int = 20) -> float | None:
        """Where a restart's trade catch-up must start reading (s, wall clock, before any margin): the
        earliest of the unsettled orders' creation, the ``latest`` newest orders' creation (a fill may be
        journaled out of order) and the last journaled fill; None when the journal has no order."""
        unsettled = self.db.execute("SELECT MIN(created_at) FROM orders WHERE symbol = ? AND status != 'closed'",
                                    (symbol,)).fetchone()[0]
        newest = self.db.execute("SELECT MIN(created_at) FROM (SELECT created_at FROM orders WHERE symbol = ? "
                                 "ORDER BY created_at DESC LIMIT ?)", (symbol, latest)).fetchone()[0]
        if newest is None:
            return None
        times = [t for t in (unsettled, newest, self.last_fill_time(symbol)) if t is not None]
        return float(min(times))

    # -- fills ------------------------------------------------------------------------------------
    def record_fill(self, symbol: str, fill: Fill) -> bool:
        """Store a fill; False when this trade id was already journaled."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO fills VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (symbol, fill.trade_id, fill.side, fill.price, str(fill.amount), fill.fee, fill.fee_currency,
             fill.timestamp, fill.order_id, fill.client_id, time.time()))
        return cur.rowcount == 1

    def fills(self, symbol: str) -> Iterator[Fill]:
        rows = self.db.execute("SELECT trade_id, side, price, amount, fee, fee_currency, ts, order_id, client_id "
                               "FROM fills WHERE symbol = ? ORDER BY recorded_at, rowid", (symbol,))
        for r in rows:
            yield Fill(trade_id=r[0], side=r[1], price=r[2], amount=r[3], fee=r[4], fee_currency=r[5],
                       timestamp=r[6], order_id=r[7], client_id=r[8])

    def last_fill_time(self, symbol: str) -> float | None:
        row = self.db.execute("SELECT MAX(ts) FROM fills WHERE symbol = ?", (symbol,)).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    # -- snapshots --------------------------------------------------------------------------------
    def snapshot(self, symbol: str, q: Decimal, equity: float | None, mid: float | None) -> None:
        self.db.execute("INSERT INTO snapshots (symbol, ts, q, equity, mid) VALUES (?, ?, ?, ?, ?)",
                        (symbol, time.time(), str(q), equity, mid))
