"""Journal faults for tests: SQLite's own answers for a full disk and a read-only database."""

from __future__ import annotations

import sqlite3
from typing import Any

from bot.live.journal import Journal

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class DiskFull:
    """A journal connection on a full disk: every write is refused with SQLite's SQLITE_FULL message, reads
    work (a real full disk refuses a write once the WAL must grow, which every commit does). With
    ``after`` (e.g. ``"INSERT OR IGNORE INTO fills"``) writes work until the first one starting so."""

    def __init__(self, db: sqlite3.Connection, after: str | None = None) -> None:
        self.db, self.after, self.full = db, after, after is None
        self.refused: list[str] = []

    def execute(self, sql: str, args: Any = ()) -> Any:
        if self.after is not None and sql.startswith(self.after):
            self.full = True
        if self.full and sql.lstrip().upper().startswith(WRITES):
            self.refused.append(sql.split("(")[0].strip())
            raise sqlite3.OperationalError("database or disk is full")
        return self.db.execute(sql, args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


def disk_full(j: Journal, after: str | None = None) -> DiskFull:
    proxy = DiskFull(j.db, after)
    j.db = proxy  # type: ignore[assignment]
    return proxy


def read_only(j: Journal) -> None:
    """SQLite's answer for a database it could only open read-only ("attempt to write a readonly
    database", what a chmod'ed journal gives at its next open; tests run as root, which ignores file
    modes): the same connection, ``query_only``."""
    j.db.execute("PRAGMA query_only = ON")
