"""Small pieces of the guard: pause reports, the crossed-book flag, the journal choice, POST /kill."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.config import load_settings
from bot.errors import UserError
from bot.live.gate import KillSwitch, RiskGate
from bot.live.guard import MEMORY, journal_for, journal_path, kill_routes, refuse_if_latched
from bot.live.market import MarketState


def test_gate_reports_only_new_pauses() -> None:
    seen: list[tuple[str, str]] = []
    gate = RiskGate(KillSwitch(), on_pause=lambda k, d: seen.append((k, d)))
    gate.pause("stale", "3s")
    gate.pause("stale", "4s")  # still the same pause
    gate.resume("stale")
    gate.pause("stale", "5s")
    assert seen == [("stale", "3s"), ("stale", "5s")]


def test_crossed_book_is_flagged_and_cleared() -> None:
    state = MarketState("X")
    assert state.on_book(1.0, [[100.0, 1.0]], [[100.5, 1.0]]) and not state.crossed
    assert not state.on_book(2.0, [[101.0, 1.0]], [[100.5, 1.0]]) and state.crossed
    assert state.mid == 100.25  # the crossed book was not taken
    assert state.on_book(3.0, [[100.0, 1.0]], [[100.5, 1.0]]) and not state.crossed


def test_journal_per_account_and_in_memory_for_ephemeral_venues(tmp_path: Path) -> None:
    base = {"risk": {"state_dir": str(tmp_path)}}
    assert journal_path(load_settings(None, base)) == MEMORY  # the in-process sim forgets everything
    assert journal_path(load_settings(None, {**base, "venue": {"kind": "paper"}})) == MEMORY
    a = journal_path(load_settings(None, {**base, "venue": {"url": "http://127.0.0.1:1", "api_key": "k1"}}))
    b = journal_path(load_settings(None, {**base, "venue": {"url": "http://127.0.0.1:1", "api_key": "k2"}}))
    assert a != b and a.parent == tmp_path and "k1" not in a.name


def test_a_latched_kill_refuses_with_one_line(tmp_path: Path) -> None:
    settings = load_settings(None, {"risk": {"state_dir": str(tmp_path)},
                                    "venue": {"url": "http://127.0.0.1:1", "api_key": "k"}})
    journal = journal_for(settings)
    refuse_if_latched(journal)  # nothing latched
    journal.record_kill("drawdown 3 from peak", {})
    try:
        refuse_if_latched(journal)
    except UserError as exc:
        assert len(exc.lines) == 1 and "drawdown 3 from peak" in exc.lines[0] and "reset-kill" in exc.lines[0]
    else:
        raise AssertionError("a latched kill did not refuse")
    finally:
        journal.close()


async def test_post_kill_trips() -> None:
    reasons: list[str] = []
    app = web.Application()
    app.add_routes(kill_routes(reasons.append))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        resp = await client.post("/kill")
        assert resp.status == 200 and (await resp.json()) == {"killed": True}
        assert (await client.get("/kill")).status == 405
    assert reasons == ["manual: POST /kill"]
