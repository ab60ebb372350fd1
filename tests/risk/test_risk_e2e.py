"""Risk controls end to end against the simulated exchange: limits under one-sided flow, every kill
trigger (each leaves zero open orders and a latched kill), a 429 storm."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.config import load_settings
from bot.live.journal import journal_for
from bot.live.service import Service
from bot.sim.server import SimServer
from bot.sim.settings import FaultSettings, RateLimitSettings
from bot.venue.connect import create_exchange
from tests.live.conftest import START_BTC, SYMBOL, bot_overrides, fast_sim, run_bot, started, venue_view


async def _until(predicate: Any, limit: float = 10.0) -> None:
    for _ in range(int(limit / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)


def _ours(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in orders if str(o.get("clientOrderId") or "").startswith("mmbot-")]


@pytest.mark.parametrize(
    "unknown_fate", [0.0, 0.05], ids=["slow-acks", "unknown-fate"]
)
async def test_one_sided_flow_never_takes_q_past_the_limit(tmp_path: Path, unknown_fate: float) -> None:
    """Every taker buys (our asks are hit), acks are slow, and (second case) some orders have an unknown fate."""
    settings = fast_sim(seed=11, sell_fraction=0.0, taker_rate=40.0, taker_size=0.006)
    settings.faults = FaultSettings(slow_ack_ms=120, unknown_fate_fraction=unknown_fate)
    sim = await started(settings)
    limit = 0.012
    try:
        run = await run_bot(bot_overrides(sim, model="symmetric",
                                          risk={"max_position": limit, "state_dir": str(tmp_path)},
                                          execution={"order_size": 0.005, "requote_ticks": 0}), duration=6.0)
        sim.set_faults(slow_ack_ms=0, unknown_fate_fraction=0.0)
        open_orders, btc = await venue_view(sim)
    finally:
        await sim.stop()
    fills = run.events("fill")
    assert len(fills) >= 3, "the flow never reached our quotes"
    assert all(abs(f["q"]) <= limit + 1e-12 for f in fills)  # on every fill
    s = run.summary.symbols[0]
    assert s.max_abs_q <= limit
    assert min(f["q"] for f in fills) <= -limit + 0.005  # the limit was actually approached
    assert s.q_exact == btc - START_BTC
    assert run.summary.kill_reason is None
    assert not _ours(open_orders)


async def _external_market_buy(sim: SimServer, amount: float) -> None:
    """Someone else trades on the bot's account: its base balance moves without a bot fill."""
    ex = create_exchange("sim", "binance", sim.url, sim.api_key, sim.api_secret)
    try:
        await ex.load_markets()
        await ex.create_order(SYMBOL, "market", "buy", amount, None, {"clientOrderId": "manual-1"})
    finally:
        await ex.close()


# drawdown and loss: the venue charges a 10 bp maker fee and the bot quotes inside it on purpose (min_edge -10 bp
# cancels the fee floor), so every fill loses the fee and the trigger must fire
PAYS_FEES = {"min_edge": -10.0}
TRIGGERS: dict[str, tuple[dict[str, Any], str]] = {
    "drawdown": ({"risk": {"max_drawdown": 0.0005}, "strategy": PAYS_FEES}, "drawdown"),
    "loss": ({"risk": {"max_loss": 0.0005}, "strategy": PAYS_FEES}, "loss"),
    "stale": ({"risk": {"stale_after": 0.5, "stale_kill_after": 1.5}}, "market data"),
    "errors": ({"risk": {"max_errors": 4, "error_window": 30.0}}, "error rate"),
    "ban": ({}, "banned"),
    "drift": ({"risk": {"balance_drift_tolerance": 0.0001}, "execution": {"reconcile_interval": 0.5}},
              "balance drift"),
    "kill_file": ({}, "kill file"),
    "escalation": ({"risk": {"stale_after": 0.4, "stale_kill_after": 30.0, "pause_escalation_count": 2,
                             "pause_escalation_window": 60.0}}, "pause escalation"),
}


@pytest.mark.parametrize("trigger", sorted(TRIGGERS))
async def test_each_trigger_kills_latches_and_leaves_no_orders(trigger: str, tmp_path: Path) -> None:
    extra, expected = TRIGGERS[trigger]
    sim_settings = fast_sim(seed=20 + len(trigger))
    if "strategy" in extra:
        sim_settings.accounts[0].maker_fee = Decimal("0.001")
    sim = await started(sim_settings)
    kill_file = tmp_path / "KILL"
    overrides = bot_overrides(sim, risk={"state_dir": str(tmp_path / "var"), "kill_file": str(kill_file)})
    for section, values in extra.items():
        overrides[section].update(values)

    async def provoke(service: Service) -> None:
        await _until(lambda: bool(service.runs) and len(service.runs[0].orders.tracker.open) >= 1)
        if trigger == "stale":
            sim.set_faults(frozen=True)
        elif trigger == "errors":
            sim.set_faults(reject_fraction=1.0)
        elif trigger == "ban":
            sim.set_faults(http_418_fraction=0.5)
        elif trigger == "drift":
            await _external_market_buy(sim, 0.001)
        elif trigger == "kill_file":
            kill_file.write_text("stop\n")
        elif trigger == "escalation":
            for _ in range(2):
                sim.set_faults(frozen=True)
                await _until(lambda: "stale" in service.runs[0].gate.pauses or service.kill.tripped)
                sim.set_faults(frozen=False)
                await _until(lambda: not service.runs[0].gate.pauses or service.kill.tripped)
        await _until(lambda: service.kill.tripped, 12.0)
        sim.set_faults(frozen=False, reject_fraction=0.0, http_418_fraction=0.0)

    try:
        run = await run_bot(overrides, duration=20.0, during=provoke)
        open_orders, _btc = await venue_view(sim)
    finally:
        await sim.stop()
    reason = run.summary.kill_reason
    assert reason is not None and expected in reason, reason
    assert run.summary.stop_reason == "kill"
    kills = run.events("kill_switch")
    assert len(kills) == 1 and kills[0]["reason"] == reason and SYMBOL in kills[0]["state"]
    assert run.summary.open_orders_left == 0 and not _ours(open_orders)  # the venue confirms: none open
    journal = journal_for(load_settings(None, overrides))
    try:
        latched = journal.active_kill()
    finally:
        journal.close()
    assert latched is not None and latched.reason == reason


async def test_429_storm_backs_off_without_a_ban(tmp_path: Path) -> None:
    """A third of all REST calls answered 429 plus a tight order limit: the bot backs off, never banned."""
    settings = fast_sim(seed=9)
    settings.faults = FaultSettings(http_429_fraction=0.3)
    settings.rate_limits = RateLimitSettings(orders_per_10s=15, ban_after=3, ban_seconds=30.0)
    sim = await started(settings)
    try:
        run = await run_bot(bot_overrides(sim, risk={"state_dir": str(tmp_path)},
                                          execution={"requote_ticks": 0}), duration=6.0)
        sim.set_faults(http_429_fraction=0.0)
        open_orders, btc = await venue_view(sim)
    finally:
        await sim.stop()
    limited = run.events("rate_limited")
    assert len(limited) >= 3, "the storm never reached the bot"
    assert run.summary.kill_reason is None  # no 418: a ban would have tripped the kill switch
    assert "banned" not in " ".join(str(e.get("detail", "")) for e in run.log)
    assert run.summary.symbols[0].fills > 0 or run.summary.symbols[0].orders_placed > 0
    assert run.summary.open_orders_left == 0 and not _ours(open_orders)
    assert run.summary.symbols[0].q_exact == btc - START_BTC


async def test_flatten_on_kill_takes_q_back_to_zero(tmp_path: Path) -> None:
    sim = await started(fast_sim(seed=41, sell_fraction=0.0))
    kill_file = tmp_path / "KILL"
    overrides = bot_overrides(sim, risk={"state_dir": str(tmp_path), "kill_file": str(kill_file),
                                         "flatten_on_kill": True})
    before: dict[str, float] = {}

    async def kill_when_short(service: Service) -> None:
        await _until(lambda: bool(service.runs) and service.runs[0].inventory.q <= -0.004)
        before["q"] = service.runs[0].inventory.q
        kill_file.touch()

    try:
        run = await run_bot(overrides, duration=20.0, during=kill_when_short)
        open_orders, btc = await venue_view(sim)
    finally:
        await sim.stop()
    assert before["q"] <= -0.004, "the one-sided flow did not build a position"
    assert "kill file" in (run.summary.kill_reason or "")
    flat = run.events("flatten")
    assert len(flat) == 1 and flat[0]["side"] == "buy"
    s = run.summary.symbols[0]
    assert abs(s.q) <= 0.002 * abs(flat[0]["q"]) + 1e-5  # only the taker fee (paid in BTC) and the lot remain
    assert s.q_exact == btc - START_BTC
    assert not _ours(open_orders)


async def test_venue_outage_pauses_and_resumes(tmp_path: Path) -> None:
    sim = await started(fast_sim(seed=42))
    seen: dict[str, Any] = {}

    async def outage(service: Service) -> None:
        await _until(lambda: bool(service.runs) and len(service.runs[0].orders.tracker.open) >= 1)
        run = service.runs[0]
        sim.set_faults(http_5xx_fraction=1.0)
        await _until(lambda: "venue" in run.gate.pauses)
        seen["paused"] = dict(run.gate.pauses)
        placed = run.orders.placed
        sim.set_faults(http_5xx_fraction=0.0)
        await _until(lambda: "venue" not in run.gate.pauses)
        await _until(lambda: run.orders.placed > placed)
        seen["resumed"] = run.orders.placed > placed

    try:
        run = await run_bot(bot_overrides(sim, risk={"state_dir": str(tmp_path), "venue_outage_after": 2},
                                          execution={"reconcile_interval": 0.5, "requote_ticks": 0}),
                            duration=8.0, during=outage)
    finally:
        await sim.stop()
    assert "venue" in seen["paused"]
    assert run.events("venue_outage") and run.events("venue_restored")
    assert seen["resumed"]  # quoting came back by itself
    assert run.summary.kill_reason is None and run.summary.open_orders_left == 0


async def test_a_kill_during_a_venue_outage_cancels_once_the_venue_answers(tmp_path: Path) -> None:
    """The kill switch has to work when everything else fails: every REST call is a 503 when it trips."""
    sim = await started(fast_sim(seed=43, taker_rate=0.0))  # no takers: the orders rest through the outage
    kill_file = tmp_path / "KILL"
    seen: dict[str, Any] = {}

    async def outage_then_kill(service: Service) -> None:
        await _until(lambda: bool(service.runs) and len(service.runs[0].orders.tracker.open) >= 2)
        sim.set_faults(http_5xx_fraction=1.0)
        kill_file.touch()
        await _until(lambda: service.kill.tripped)
        await asyncio.sleep(1.5)  # cancels are failing meanwhile
        seen["open_during_outage"] = len(service.runs[0].orders.tracker.open)
        sim.set_faults(http_5xx_fraction=0.0)

    try:
        run = await run_bot(bot_overrides(sim, risk={"state_dir": str(tmp_path), "kill_file": str(kill_file)}),
                            duration=30.0, during=outage_then_kill)
        open_orders, btc = await venue_view(sim)
    finally:
        await sim.stop()
    assert "kill file" in (run.summary.kill_reason or "")
    assert seen["open_during_outage"] >= 1  # the venue refused the cancels at first ...
    assert run.summary.open_orders_left == 0 and not _ours(open_orders)  # ... and was retried until empty
    assert run.summary.symbols[0].q_exact == btc - START_BTC
