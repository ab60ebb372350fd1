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


def _age_orders(j: Journal, client_ids: list[str], created: float, updated: float) -> None:
    """Set the journal times of these orders (as if written back then)."""
    for cid in client_ids:
        j.db.execute("UPDATE orders SET created_at = ?, updated_at = ? WHERE client_id = ?", (created, updated, cid))


def test_catch_up_since_is_the_earliest_unsettled_order_newest_orders_or_last_fill(tmp_path: Path) -> None:
    j = Journal.open(tmp_path)
    assert j.catch_up_since("BTC/USDT") is None  # nothing journaled: no catch-up
    for i in range(30):
        j.order_sent(f"mmbot-c{i}", "BTC/USDT", "buy", 100.0, 0.1)
        j.order_closed(f"mmbot-c{i}")
        _age_orders(j, [f"mmbot-c{i}"], 1000.0 + i, 1000.5 + i)
    assert j.catch_up_since("BTC/USDT") == 1010.0  # the 20 newest orders reach back to the 11th
    j.record_fill("BTC/USDT", Fill("t1", "buy", 100.0, "0.1", timestamp=1005.0))
    assert j.catch_up_since("BTC/USDT") == 1005.0  # the last journaled fill is earlier
    j.order_sent("mmbot-open", "BTC/USDT", "sell", 101.0, 0.1)
    _age_orders(j, ["mmbot-open"], 990.0, 990.0)  # still open (unsettled) since 990
    assert j.catch_up_since("BTC/USDT") == 990.0
    assert j.catch_up_since("ETH/USDT") is None and j.order_count("BTC/USDT") == 31


def test_orders_active_since_keeps_unsettled_and_recently_closed_orders(tmp_path: Path) -> None:
    j = Journal.open(tmp_path)
    for cid, status_closed, updated in (("old-closed", True, 100.0), ("new-closed", True, 200.0),
                                        ("old-open", False, 100.0)):
        j.order_sent(cid, "BTC/USDT", "buy", 100.0, 0.1)
        if status_closed:
            j.order_closed(cid)
        _age_orders(j, [cid], updated - 1.0, updated)
    assert {o.client_id for o in j.orders("BTC/USDT")} == {"old-closed", "new-closed", "old-open"}
    assert {o.client_id for o in j.orders("BTC/USDT", active_since=150.0)} == {"new-closed", "old-open"}


def test_restore_knows_only_the_orders_the_catch_up_can_need(tmp_path: Path) -> None:
    """A long journal history of closed orders is not loaded into the tracker at start (memory would grow
    with every run's orders); the unsettled ones and those closed near the catch-up's start are."""
    from types import SimpleNamespace

    from bot.live.orders import OrderLedger
    from bot.live.recovery import CATCH_UP_MARGIN, CLOCK_SLACK, restore

    j = Journal.open(tmp_path)
    history = [f"mmbot-h{i}" for i in range(500)]
    for cid in history:
        j.order_sent(cid, "BTC/USDT", "buy", 100.0, 0.1)
        j.order_closed(cid)
    _age_orders(j, history, 1_000.0, 1_001.0)  # a day before the last run
    recent = [f"mmbot-r{i}" for i in range(25)]
    for i, cid in enumerate(recent):
        j.order_sent(cid, "BTC/USDT", "sell", 101.0, 0.1)
        j.order_closed(cid)
        _age_orders(j, [cid], 90_000.0 + i, 90_000.5 + i)
    j.order_sent("mmbot-unsettled", "BTC/USDT", "buy", 99.0, 0.1)
    _age_orders(j, ["mmbot-unsettled"], 89_000.0, 89_000.0)  # sent before the last run's orders, never settled
    j.record_fill("BTC/USDT", Fill("t1", "sell", 101.0, "0.1", timestamp=90_010.0, client_id="mmbot-r10"))

    tracker = OrderLedger()
    counted: list[int] = []
    run = SimpleNamespace(symbol="BTC/USDT", inventory=Inventory("BTC", "USDT"),
                          orders=SimpleNamespace(tracker=tracker, count_from=counted.append))
    assert restore(j, run) == 1  # type: ignore[arg-type]
    assert j.catch_up_since("BTC/USDT") == 89_000.0  # the unsettled order reaches back furthest
    assert 1_001.0 < 89_000.0 - CATCH_UP_MARGIN - CLOCK_SLACK < 90_000.5  # history closed before, recent after
    assert set(tracker.by_client_id) == {"mmbot-unsettled", *recent}
    assert counted == [len(history) + len(recent) + 1]  # client ids keep counting past the journal
