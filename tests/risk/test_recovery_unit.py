"""Restart recovery's baseline (bot/live/recovery.py): q is the venue's base balance minus the baseline the
journal's first run fixed; a start whose balance disagrees beyond the tolerance trips the kill."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from bot.config import load_settings
from bot.core.inventory import Fill, Inventory
from bot.live.journal import MEMORY, Journal
from bot.live.recovery import base_total, set_baseline
from tests.fakes import RecordingLog


def _run(q: str, tolerance: float | None) -> Any:
    inventory = Inventory("BTC", "USDT")
    if Decimal(q):
        inventory.apply(Fill("t1", "buy" if Decimal(q) > 0 else "sell", 100.0, str(abs(Decimal(q)))))
    cfg = load_settings(None, {"risk": {"balance_drift_tolerance": tolerance}}).for_symbol("BTC/USDT")
    return SimpleNamespace(symbol="BTC/USDT", market={"base": "BTC"}, inventory=inventory, cfg=cfg,
                           log=RecordingLog(), start_base=None)


def test_the_first_run_fixes_the_baseline_and_a_restart_keeps_it() -> None:
    journal = Journal(MEMORY)
    kills: list[str] = []
    first = _run("0.5", 0.01)
    set_baseline(journal, first, {"total": {"BTC": "3.5"}}, kills.append)  # type: ignore[arg-type]
    assert first.start_base == Decimal("3") == journal.baseline("BTC/USDT") and not first.log.events
    again = _run("0.5", 0.01)
    set_baseline(journal, again, {"total": {"BTC": "3.5"}}, kills.append)  # type: ignore[arg-type]
    assert again.start_base == Decimal("3") and not again.log.names() and not kills
    journal.close()


def test_a_drift_at_start_is_said_and_beyond_the_tolerance_trips_the_kill() -> None:
    journal = Journal(MEMORY)
    journal.set_baseline("BTC/USDT", "BTC", Decimal("3"))
    kills: list[str] = []
    within = _run("0.5", 0.01)
    set_baseline(journal, within, {"total": {"BTC": "3.505"}}, kills.append)  # type: ignore[arg-type]
    assert within.log.names() == ["inventory_drift"] and not kills
    beyond = _run("0.5", 0.01)
    set_baseline(journal, beyond, {"total": {"BTC": "3.6"}}, kills.append)  # type: ignore[arg-type]
    assert len(kills) == 1 and kills[0].startswith("BTC/USDT: balance drift 0.1 at start-up")
    unchecked = _run("0.5", None)  # no tolerance: said, never a kill
    set_baseline(journal, unchecked, {"total": {"BTC": "30"}}, kills.append)  # type: ignore[arg-type]
    assert unchecked.log.names() == ["inventory_drift"] and len(kills) == 1
    journal.close()


def test_base_total_reads_the_exact_balance_and_zero_when_absent() -> None:
    assert base_total({"total": {"BTC": 0.1}}, "BTC") == Decimal("0.1")
    assert base_total({"total": {}}, "ETH") == Decimal(0) == base_total({}, "ETH")
