"""The journal refusing writes (disk full, read-only): one-line errors, the first one reported once, no
create without its order row, the kill latch kept next to the journal (or said to be missing)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.core.inventory import Fill
from bot.errors import UserError
from bot.live.journal import LATCH_SUFFIX, Journal, JournalError, JournalWriteError, describe_kill, refuse_if_latched
from bot.live.orders import OrderHooks, OrderManager, make_throttler
from bot.live.ratelimit import RateGate
from bot.live.summary import RunSummary, format_summary
from bot.logs import get_logger
from tests.risk.journal_faults import disk_full, read_only

FILL = Fill("t1", "buy", 100.0, "0.2", timestamp=1.5, order_id="77", client_id="mmbot-a1")

WRITES: dict[str, Any] = {
    "order_sent": lambda j: j.order_sent("mmbot-b", "BTC/USDT", "buy", 100.0, 0.1),
    "order_acked": lambda j: j.order_acked("mmbot-a1", "78"),
    "order_closed": lambda j: j.order_closed("mmbot-a1"),
    "record_fill": lambda j: j.record_fill("BTC/USDT", FILL),
    "snapshot": lambda j: j.snapshot("BTC/USDT", Decimal("0.1"), 1.0, 100.0),
    "set_baseline": lambda j: j.set_baseline("BTC/USDT", "BTC", Decimal(2)),
    "record_kill": lambda j: j.record_kill("drawdown", {}),
    "start": lambda j: j.touch(),
}


def _full(j: Journal) -> None:
    disk_full(j)


def _journal(tmp_path: Path, on_write_failed: Any = None) -> Journal:
    j = Journal(tmp_path / "journal-sim-binance-x.sqlite", on_write_failed)
    j.order_sent("mmbot-a1", "BTC/USDT", "buy", 100.0, 0.2)
    return j


@pytest.mark.parametrize("op", sorted(WRITES))
@pytest.mark.parametrize(("fault", "words"), [(_full, "database or disk is full"),
                                              (read_only, "attempt to write a readonly database")],
                         ids=["disk_full", "read_only"])
def test_every_write_refused_raises_one_line_and_reports_the_first_once(
        tmp_path: Path, op: str, fault: Any, words: str) -> None:
    told: list[tuple[str, str]] = []
    j = _journal(tmp_path, lambda o, line: told.append((o, line)))
    fault(j)
    line = f"journal: cannot write {j.path}: {words}"
    with pytest.raises(JournalWriteError) as err:
        WRITES[op](j)
    assert str(err.value) == line and "\n" not in line
    with pytest.raises(JournalWriteError):
        WRITES["order_sent"](j)
    assert told == [(op, line)]  # once, the first
    assert j.failed == line and j.write_failures == 2
    assert [o.client_id for o in j.orders("BTC/USDT")] == ["mmbot-a1"]  # reads still work
    j.close()


def test_a_failed_read_is_a_journal_error_not_a_traceback(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    j.db.close()
    for read in (lambda: j.orders("BTC/USDT"), lambda: list(j.fills("BTC/USDT")), j.active_kill,
                 lambda: j.baseline("BTC/USDT"), lambda: j.catch_up_since("BTC/USDT")):
        with pytest.raises(JournalError, match=r"^journal: cannot read .*journal-sim-binance-x.sqlite: "):
            read()
    j.close()  # closing twice never raises


def test_the_latch_goes_to_a_file_next_to_the_journal_and_reset_clears_both(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    read_only(j)
    latch = j.latch("journal: cannot write x: disk full", {"q": 0.1})
    assert latch.where == "file" and latch.note is not None
    path = tmp_path / f"journal-sim-binance-x.sqlite{LATCH_SUFFIX}"
    assert str(path) in latch.note and "attempt to write a readonly database" in latch.note
    kill = j.active_kill()
    assert kill is not None and kill.reason == "journal: cannot write x: disk full" and kill.state == {"q": 0.1}
    line = describe_kill(j)
    assert line is not None and str(path) in line and "the journal could not be written" in line
    with pytest.raises(UserError, match=r"kill switch latched at .*disk full.*mmbot reset-kill"):
        refuse_if_latched(j)
    with pytest.raises(JournalWriteError):  # still read-only: the reset cannot be recorded, the file stays
        j.clear_kills("test")
    assert path.exists()
    j.db.execute("PRAGMA query_only = OFF")
    assert j.clear_kills("test") == 1
    assert not path.exists() and j.active_kill() is None
    history = j.db.execute("SELECT reason, cleared_by FROM kills").fetchall()
    assert history == [("journal: cannot write x: disk full", "test")]  # the file's kill, kept as cleared
    j.close()


def test_a_kill_neither_journal_nor_file_can_hold_says_not_latched(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    (tmp_path / f"journal-sim-binance-x.sqlite{LATCH_SUFFIX}").mkdir()  # a file cannot be written there (even by root)
    _full(j)
    latch = j.latch("manual", {})
    assert latch.where == "none" and latch.note is not None
    assert latch.note.startswith("NOT LATCHED (journal: cannot write ") and "database or disk is full" in latch.note
    assert "a restart will quote" in latch.note
    j.close()


def test_a_latch_in_the_journal_says_nothing_more(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    assert j.latch("manual", {}).note is None and j.active_kill() is not None
    assert not (tmp_path / f"journal-sim-binance-x.sqlite{LATCH_SUFFIX}").exists()
    mem = Journal(Path(":memory:"))
    assert mem.latch("manual", {}).where == "memory"  # truthfully: nothing outlives the process
    j.close()
    mem.close()


class _Venue:
    """Records creates; a create is never expected here."""

    def __init__(self) -> None:
        self.creates: list[Any] = []

    async def create_order(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.creates.append(args)
        return {"id": "1", "status": "open"}


async def test_no_create_is_sent_when_its_order_row_cannot_be_written(tmp_path: Path) -> None:
    venue = _Venue()
    j = _journal(tmp_path)
    orders = OrderManager(venue, "BTC/USDT", "BTCUSDT", "mmbot", make_throttler(100), RateGate(), get_logger(),
                          hooks=OrderHooks(journal=j))
    assert await orders.create("buy", 100.0, 0.1) is not None and len(venue.creates) == 1  # writable: sent
    _full(j)
    assert await orders.create("buy", 100.0, 0.1) is None
    assert len(venue.creates) == 1 and len(orders.tracker.open) == 1  # nothing sent, nothing tracked
    j.close()


def test_the_summary_says_where_the_kill_latched_and_that_the_journal_is_incomplete() -> None:
    run = RunSummary("sim binance", 3.0, stop_reason="kill", kill_reason="journal: cannot write j: disk full",
                     kill_latch="NOT LATCHED (...): a restart will quote, check the account first",
                     journal_error="journal: cannot write j: disk full", journal_failed_writes=3)
    text = format_summary(run)
    assert "kill switch: journal: cannot write j: disk full [NOT LATCHED" in text
    assert "JOURNAL INCOMPLETE: 3 writes refused (journal: cannot write j: disk full)" in text
    assert "JOURNAL" not in format_summary(RunSummary("sim binance", 1.0))


def test_the_services_journal_hook_trips_the_kill_only_once_quoting_began(tmp_path: Path) -> None:
    """The service gives the journal its write-failure hook when it opens it; a write refused before quoting
    began ends the start with one line (the JournalError) and trips nothing, one refused later kills."""
    from bot.config import load_settings
    from bot.live.service import Service

    svc = Service(load_settings(None, {}))
    early = Journal(tmp_path / "early.sqlite", svc._on_journal_failed)
    disk_full(early)
    with pytest.raises(JournalWriteError):
        early.touch()
    assert not svc.kill.tripped and not svc.stop_event.is_set()
    svc.quoting = True
    late = Journal(tmp_path / "late.sqlite", svc._on_journal_failed)
    disk_full(late)
    with pytest.raises(JournalWriteError):
        late.order_sent("mmbot-c", "BTC/USDT", "buy", 100.0, 0.1)
    assert svc.kill.tripped and svc.kill.reason is not None and svc.kill.reason.startswith("journal: cannot write")
    early.close()
    late.close()
