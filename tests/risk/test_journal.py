"""The SQLite journal: WAL, schema version, orders, fills exactly once, baselines, the kill latch."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from bot.core.inventory import Fill, Inventory
from bot.live.journal import CACHE_KIB, SCHEMA_VERSION, Journal, JournalError


def test_round_trip_survives_reopening(tmp_path: Path) -> None:
    j = Journal.open(tmp_path / "state")
    assert j.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    j.order_sent("mmbot-a1", "BTC/USDT", "buy", 100.0, 0.5)
    j.order_sent("mmbot-a2", "BTC/USDT", "sell", 101.0, 0.5)
    j.order_acked("mmbot-a1", "77")
    j.order_closed("mmbot-a2")
    fill = Fill("t1", "buy", 100.0, "0.2", timestamp=1.5, order_id="77", client_id="mmbot-a1", fee=0.02,
                fee_currency="USDT")
    assert j.record_fill("BTC/USDT", fill) and not j.record_fill("BTC/USDT", fill)  # once per trade id
    j.record_fill("BTC/USDT", Fill("t2", "sell", 101.0, "0.05", timestamp=2.5, fee=0.0001, fee_currency="BTC"))
    j.set_baseline("BTC/USDT", "BTC", Decimal("2.00000001"))
    j.close()

    j = Journal.open(tmp_path / "state")
    orders = {o.client_id: o for o in j.orders("BTC/USDT")}
    assert orders["mmbot-a1"].order_id == "77" and orders["mmbot-a1"].status == "open"
    assert orders["mmbot-a2"].status == "closed" and orders["mmbot-a2"].order_id is None
    inv = Inventory("BTC", "USDT")
    for f in j.fills("BTC/USDT"):
        inv.apply(f)
    assert inv.q_exact == Decimal("0.2") - Decimal("0.05") - Decimal("0.0001")  # exact, base fee included
    assert j.last_fill_time("BTC/USDT") == 2.5 and j.last_fill_time("ETH/USDT") is None
    assert j.baseline("BTC/USDT") == Decimal("2.00000001") and j.baseline("ETH/USDT") is None
    j.close()


def test_kill_latches_until_cleared(tmp_path: Path) -> None:
    j = Journal.open(tmp_path)
    assert j.active_kill() is None
    j.record_kill("drawdown 5", {"q": 0.1})
    j.record_kill("second", {})
    j.close()
    j = Journal.open(tmp_path)
    kill = j.active_kill()
    assert kill is not None and kill.reason == "drawdown 5" and kill.state == {"q": 0.1}
    assert j.clear_kills("test") == 2
    assert j.active_kill() is None
    j.close()


def test_an_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    Journal.open(tmp_path).close()
    db = sqlite3.connect(tmp_path / "journal.sqlite")
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    db.commit()
    db.close()
    with pytest.raises(JournalError, match="schema version"):
        Journal.open(tmp_path)


def _sqlite_heap() -> int:
    """Bytes SQLite's allocator holds in this process (``sqlite3_memory_used`` of the linked library)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("sqlite3")
    if name is None:
        pytest.skip("no shared libsqlite3 to ask")
    lib = ctypes.CDLL(name)
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    return int(lib.sqlite3_memory_used())


def test_the_page_cache_stays_within_its_cap_as_the_file_grows(tmp_path: Path) -> None:
    j = Journal.open(tmp_path / "state")
    base = _sqlite_heap()
    for n in range(20_000):  # a few hours of orders: the file grows to several MiB
        cid = f"mmbot-btcusdt-s{n:x}"
        j.order_sent(cid, "BTC/USDT", "buy", 100.0 + n % 7, 0.5)
        j.order_acked(cid, str(n))
        j.order_closed(cid)
    pages, size = j.db.execute("PRAGMA page_count").fetchone()[0], j.db.execute("PRAGMA page_size").fetchone()[0]
    assert pages * size > 4 * CACHE_KIB * 1024  # the file is well past the cap
    grown = _sqlite_heap() - base
    assert grown < (CACHE_KIB + 256) * 1024  # the cache (plus page headers, statements) and no more
    j.close()
