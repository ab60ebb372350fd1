"""Small pieces of the guard: pause reports, the crossed-book flag, the journal choice, POST /kill."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.config import RiskSettings, load_settings
from bot.core.quote import MarketRules
from bot.errors import UserError
from bot.live.gate import KillSwitch, RiskGate
from bot.live.journal import MEMORY, journal_for, journal_path, refuse_if_latched
from bot.live.market import MarketState
from bot.ops.http import kill_routes


def test_gate_reports_only_new_pauses() -> None:
    seen: list[tuple[str, str]] = []
    gate = RiskGate(KillSwitch(), on_pause=lambda k, d: seen.append((k, d)))
    gate.pause("stale", "3s")
    gate.pause("stale", "4s")  # still the same pause
    gate.resume("stale")
    gate.pause("stale", "5s")
    assert seen == [("stale", "3s"), ("stale", "5s")]


def test_the_operators_pause_is_no_fault_and_only_release_clears_it() -> None:
    told: list[str] = []
    gate = RiskGate(KillSwitch(), on_pause=lambda key, detail: told.append(key))
    for _ in range(10):  # held and released again and again: nothing escalates towards the kill
        assert gate.hold("operator: POST /pause") and not gate.open and gate.held
        assert not gate.hold("again")  # not new
        assert gate.release() and gate.open
    gate.hold("operator")
    gate.pause("stale", "book 6s old")
    assert gate.resume("stale") and gate.held and not gate.open
    assert told == ["stale"]


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


def _fake_run(symbol: str, q: str, mid: float | None, max_position: float = 5.0, base: str = "BTC") -> object:
    from decimal import Decimal
    from types import SimpleNamespace

    from bot.core.inventory import Fill, Inventory
    from bot.live.orders import OrderLedger

    inv = Inventory(base, "USDT")
    if Decimal(q):
        inv.apply(Fill("t-" + symbol, "buy" if Decimal(q) > 0 else "sell", 100.0, str(abs(Decimal(q)))))
    state = MarketState(symbol)
    if mid is not None:
        state.on_book(0.0, [[mid - 0.5, 1.0]], [[mid + 0.5, 1.0]])
    cfg = load_settings(None, {"risk": {"max_position": max_position, "balance_drift_tolerance": 0.001}})
    return SimpleNamespace(symbol=symbol, inventory=inv, state=state, market={"base": base},
                           cfg=cfg.for_symbol(symbol), orders=SimpleNamespace(tracker=OrderLedger()),
                           gate=RiskGate(KillSwitch()), start_base=None)


def test_guard_evaluates_every_symbol_and_sums_equity(tmp_path: Path) -> None:
    from decimal import Decimal

    from bot.live.guard import Guard, Tripwires
    from bot.live.journal import Journal
    from bot.live.symbolrun import RunView

    kill_file = tmp_path / "KILL"
    settings = load_settings(None, {"risk": {"max_loss": 15.0, "kill_file": str(kill_file)}})
    a, b = _fake_run("A/USDT", "1", 100.0), _fake_run("B/USDT", "-2", 100.0, base="ETH")
    journal = Journal(tmp_path / "j.sqlite")
    guard = Guard(settings, journal, [RunView(a), RunView(b)], Tripwires(settings.risk, lambda r: None, None),  # type: ignore[arg-type]
                  lambda r: None, None)
    assert guard.equity() == 0.0 and guard.evaluate(1.0) is None  # both marked at their entry
    b.state.on_book(1.0, [[105.5, 1.0]], [[106.5, 1.0]])  # type: ignore[attr-defined]  # short 2 at 100, mark 106
    assert guard.equity() == -12.0 and guard.evaluate(1.0) is None
    b.state.on_book(1.0, [[107.5, 1.0]], [[108.5, 1.0]])  # type: ignore[attr-defined]  # mark 108: -16 < -15
    assert "max_loss" in (guard.evaluate(1.0) or "")
    kill_file.touch()
    assert "kill file" in (guard.evaluate(1.0) or "")  # manual first
    a.start_base, b.start_base = Decimal("2"), Decimal("30")  # type: ignore[attr-defined]  # set at start-up
    balance = {"total": {"BTC": "3", "ETH": "27.5"}}  # ETH moved 2.5, the bot's q is -2
    assert guard.check_drift(balance) is None  # first strike
    reason = guard.check_drift(balance)
    assert reason is not None and reason.startswith("B/USDT: balance drift")
    journal.close()


class _Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, object]]] = []

    def info(self, event: str, **fields: object) -> None:
        self.events.append((event, fields))


def test_pauses_are_reported_from_the_first_book_on_and_escalate_to_the_kill() -> None:
    """The gate's pause hook (given at the gate's construction): no report while the first book is awaited;
    each pause is logged, and ``pause_escalation_count`` of them in the window trip the kill."""
    from bot.live.guard import Tripwires

    settings = load_settings(None, {"risk": {"pause_escalation_count": 2, "pause_escalation_window": 60.0}})
    kills: list[str] = []
    log = _Log()
    state = MarketState("X")
    gate = RiskGate(KillSwitch(), on_pause=Tripwires(settings.risk, kills.append, log, clock=lambda: 1.0)
                    .pause_hook("X", state))
    gate.pause("stale", "no book yet")
    assert log.events == [] and kills == []  # waiting for the first book is not a pause
    gate.resume("stale")
    state.on_book(1.0, [[100.0, 1.0]], [[100.5, 1.0]])
    gate.pause("stale", "3s")
    assert log.events == [("quoting_paused", {"symbol": "X", "pause": "stale", "detail": "3s"})] and kills == []
    gate.pause("crossed", "bid >= ask")
    assert len(kills) == 1 and kills[0].startswith("pause escalation")


RULES = MarketRules(tick=0.01, lot=0.00001)


@dataclass
class _View:
    """A Watched that is no SymbolRun: what the guard reads, and nothing else."""

    symbol: str
    q: float
    mid: float | None
    limits: RiskSettings
    base: str = "BTC"
    baseline: Decimal | None = None
    pauses: tuple[str, ...] = ()
    open_orders: int = 0
    buy: float = 0.0
    sell: float = 0.0
    rules: MarketRules = RULES

    @property
    def q_exact(self) -> Decimal:
        return Decimal(str(self.q))

    def exposure(self, side: str) -> float:
        return self.buy if side == "buy" else self.sell

    def silence(self, now: float) -> float:
        return 0.0

    def pnl(self, mark: float) -> float:
        return self.q * (mark - 100.0)


def test_the_guard_reads_only_its_narrow_view(tmp_path: Path) -> None:
    from bot.live.guard import Guard, Tripwires
    from bot.live.journal import Journal
    from bot.risk.exposure import Exposure

    settings = load_settings(None, {"risk": {"max_position": 1.0, "max_loss": 50.0}})
    view = _View("X/USDT", 0.5, 110.0, settings.risk, pauses=("stale",), open_orders=2, buy=0.25, sell=0.75)
    journal = Journal(tmp_path / "j.sqlite")
    try:
        guard = Guard(settings, journal, [view], Tripwires(settings.risk, lambda r: None, None), lambda r: None, None)
        assert guard.exposures() == {"X/USDT": Exposure(0.5, 0.25, 0.75, 110.0)}
        assert guard.equity() == 5.0 and guard.evaluate(1.0) is None
        assert guard.state()["X/USDT"] == {"q": 0.5, "mid": 110.0, "open_orders": 2, "pauses": ["stale"]}
        view.q = 1.5
        assert "X/USDT" in (guard.evaluate(1.0) or "")  # past max_position
    finally:
        journal.close()


def test_the_kill_state_reads_at_the_tick_and_lot_without_float_noise(tmp_path: Path) -> None:
    """The kill_switch event's state: q at the lot, mid at the tick (a digit finer), equity as money."""
    from bot.live.guard import Guard, Tripwires
    from bot.live.journal import Journal

    settings = load_settings(None, {"risk": {"max_position": 1.0}})
    view = _View("X/USDT", 0.1 + 0.2, 30000.72 + 1e-11, settings.risk)  # q 0.30000000000000004
    journal = Journal(tmp_path / "j.sqlite")
    try:
        guard = Guard(settings, journal, [view], Tripwires(settings.risk, lambda r: None, None), lambda r: None, None)
        state = guard.state()
        assert guard.equity() != round(guard.equity() or 0.0, 4)  # the exact equity carries noise
        assert state["X/USDT"]["q"] == 0.3 and state["X/USDT"]["mid"] == 30000.72
        assert state["equity"] == round(0.3 * 29900.72, 4)
    finally:
        journal.close()
