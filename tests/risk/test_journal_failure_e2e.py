"""The journal becomes unwritable mid-run (disk full, read-only) with the bot quoting on a running sim:
the kill trips with the journal's reason, no create goes out without its order row, every order is
cancelled, the summary tells where (or whether) the kill latched, and after a restart with a writable
journal q equals the venue's base balance change: no fill lost, none booked twice."""

from __future__ import annotations

import argparse
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.commands import reset_kill
from bot.config import load_settings
from bot.errors import UserError
from bot.live.journal import LATCH_SUFFIX, Journal, journal_path
from bot.live.service import Service
from bot.live.summary import format_summary
from bot.sim.server import SimServer
from bot.venue.connect import create_exchange
from tests.live.conftest import (
    START_BTC,
    SYMBOL,
    BotRun,
    bot_overrides,
    fast_sim,
    ours,
    run_bot,
    started,
    until,
    venue_view,
)
from tests.risk.journal_faults import DiskFull, disk_full


async def _venue_history(sim: SimServer) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    ex = create_exchange("sim", "binance", sim.url, sim.api_key, sim.api_secret)
    try:
        return await ex.fetch_orders(SYMBOL, limit=1000), await ex.fetch_my_trades(SYMBOL, limit=1000)
    finally:
        await ex.close()


def _journaled(path: Path) -> tuple[set[str], set[str]]:
    """Client ids of the journal's orders and trade ids of its fills (read with a connection of our own)."""
    db = sqlite3.connect(str(path))
    try:
        orders = {r[0] for r in db.execute("SELECT client_id FROM orders")}
        fills = {r[0] for r in db.execute("SELECT trade_id FROM fills")}
    finally:
        db.close()
    return orders, fills


def _exists(path: str) -> bool:
    return Path(path).exists()


def _assert_killed_safely(run: BotRun, open_orders: list[dict[str, Any]], words: str) -> str:
    reason = run.summary.kill_reason
    assert reason is not None and reason.startswith("journal: cannot write ") and reason.endswith(words), reason
    assert run.summary.stop_reason == "kill"
    failed = run.events("journal_failed")
    assert len(failed) == 1 and failed[0]["level"] == "error" and failed[0]["error"] == reason
    kills = run.events("kill_switch")
    assert len(kills) == 1 and kills[0]["reason"] == reason
    assert run.summary.open_orders_left == 0 and not ours(open_orders)  # the venue confirms: none of ours open
    assert not run.events("task_failed")  # handled, not a crash
    s = run.summary.symbols[0]
    assert s.venue_base_delta == s.q_exact  # fills booked in memory: the summary's q is still true
    assert run.summary.journal_error == reason and "JOURNAL INCOMPLETE" in format_summary(run.summary)
    return reason


async def _restart_books_every_fill_once(sim: SimServer, overrides: dict[str, Any], jpath: Path) -> BotRun:
    run = await run_bot(overrides, duration=3.0)
    open_orders, btc = await venue_view(sim)
    orders, trades = await _venue_history(sim)
    assert run.summary.kill_reason is None and not ours(open_orders)
    assert run.summary.symbols[0].q_exact == btc - START_BTC  # no fill lost, none booked twice
    journal_orders, journal_fills = _journaled(jpath)
    order_ids = {str(o["id"]) for o in ours(orders)}
    our_trades = {str(t["id"]) for t in trades if str(t["order"]) in order_ids}
    assert our_trades == journal_fills  # every trade of ours journaled once the journal could take it
    # no create ever went out without its order row: every order of ours at the venue is in the journal
    assert {o["clientOrderId"] for o in ours(orders)} <= journal_orders
    return run


async def test_disk_full_on_a_fill_kills_books_it_in_memory_and_the_restart_journals_it(tmp_path: Path) -> None:
    """The disk fills up as a fill is journaled; the latch file cannot be written either (a directory stands
    where it goes): the kill happens, says NOT LATCHED, and the next start catches the fill up."""
    sim = await started(fast_sim(seed=61))
    overrides = bot_overrides(sim, risk={"state_dir": str(tmp_path / "var")}, execution={"requote_ticks": 0})
    jpath = journal_path(load_settings(None, overrides))
    seen: dict[str, Any] = {}

    async def fill_up(service: Service) -> None:
        await until(lambda: service.journal is not None and service.started_at > 0
                     and bool(service.runs) and len(service.runs[0].orders.tracker.open) >= 1)
        assert service.journal is not None
        os.mkdir(str(jpath) + LATCH_SUFFIX)  # a directory where the latch file goes: it cannot be written
        seen["proxy"] = disk_full(service.journal, after="INSERT OR IGNORE INTO fills")
        await until(lambda: service.kill.tripped)

    try:
        run = await run_bot(overrides, duration=30.0, during=fill_up)
        open_orders, _btc = await venue_view(sim)
        proxy: DiskFull = seen["proxy"]
        assert proxy.refused[0].startswith("INSERT OR IGNORE INTO fills")
        reason = _assert_killed_safely(run, open_orders, "database or disk is full")
        assert run.events("journal_failed")[0]["op"] == "record_fill"
        assert run.events("fill_not_journaled")  # booked in memory, said so
        kill = run.events("kill_switch")[0]
        assert kill["latch"] == "none" and kill["latch_note"].startswith("NOT LATCHED")
        assert "NOT LATCHED" in format_summary(run.summary) and reason in format_summary(run.summary)
        _orders, journal_fills = _journaled(jpath)
        missed = {e["trade_id"] for e in run.events("fill_not_journaled")}
        assert missed and not missed & journal_fills  # those fills really are not in the journal ...
        os.rmdir(str(jpath) + LATCH_SUFFIX)
        restart = await _restart_books_every_fill_once(sim, overrides, jpath)
        caught = restart.events("journal_caught_up")
        assert caught and caught[0]["new_fills"] >= len(missed)  # ... and the restart's catch-up booked them
    finally:
        await sim.stop()


async def test_read_only_journal_kills_latches_in_a_file_and_the_restart_refuses_until_reset(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The journal turns read-only mid-run (SQLite: "attempt to write a readonly database"): the kill
    latches in the file next to it; the next start refuses, reset-kill clears it, the run after books
    every fill once."""
    sim = await started(fast_sim(seed=62))
    overrides = bot_overrides(sim, risk={"state_dir": str(tmp_path / "var")}, execution={"requote_ticks": 0})
    jpath = journal_path(load_settings(None, overrides))

    async def read_only(service: Service) -> None:
        await until(lambda: service.journal is not None and service.started_at > 0
                     and bool(service.runs) and service.runs[0].inventory.fills >= 1)
        assert service.journal is not None
        service.journal.db.execute("PRAGMA query_only = ON")

    try:
        run = await run_bot(overrides, duration=30.0, during=read_only)
        open_orders, _btc = await venue_view(sim)
        reason = _assert_killed_safely(run, open_orders, "attempt to write a readonly database")
        kill = run.events("kill_switch")[0]
        latch = str(jpath) + LATCH_SUFFIX
        assert kill["latch"] == "file" and latch in kill["latch_note"] and _exists(latch)
        with pytest.raises(UserError, match=r"kill switch latched at .*attempt to write a readonly database"):
            await run_bot(overrides, duration=3.0)  # the journal is writable again, the file still latches
        # keys never go in a config file: reset-kill gets these settings (with the sim's keys) directly
        monkeypatch.setattr(reset_kill, "load_settings", lambda _config: load_settings(None, overrides))
        assert reset_kill.run(argparse.Namespace(config=None)) == 0
        out = capsys.readouterr().out
        assert "cleared: kill switch latched at " in out and reason in out and latch in out
        assert not _exists(latch)
        await _restart_books_every_fill_once(sim, overrides, jpath)
    finally:
        await sim.stop()


async def test_a_journal_that_cannot_be_written_at_start_is_one_line_exit_2(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Opened read-only (as SQLite opens a file it may not write): refused before anything is quoted."""
    sim = await started(fast_sim(seed=63))
    overrides = bot_overrides(sim, risk={"state_dir": str(tmp_path / "var")})
    jpath = journal_path(load_settings(None, overrides))
    Journal(jpath).close()  # a valid journal, then opened read-only
    real = sqlite3.connect

    def read_only(target: str, **kwargs: Any) -> sqlite3.Connection:
        return real(f"file:{target}?mode=ro", uri=True, **kwargs)

    monkeypatch.setattr("bot.live.journal.sqlite3.connect", read_only)
    try:
        with pytest.raises(UserError) as err:
            await run_bot(overrides, duration=3.0)
        open_orders, btc = await venue_view(sim)
    finally:
        await sim.stop()
    text = str(err.value)
    assert "\n" not in text and str(jpath) in text and "readonly" in text
    assert text.startswith(f"journal: cannot write {jpath}: attempt to write a readonly database; refusing")
    assert not ours(open_orders) and btc == START_BTC  # nothing was quoted
