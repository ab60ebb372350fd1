"""Risk controls under stress, end to end against the simulated exchange with its faults on: the venue's
real request-weight limit (429 with Retry-After, 418 for a client that keeps going), a crossed book
(pause, resume, escalation to a kill), and the total-notional limit across two symbols."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.config import load_settings
from bot.live.journal import journal_for
from bot.live.service import Service
from bot.risk.exposure import NOTIONAL, POSITION, TOTAL_NOTIONAL
from bot.sim.admin import state as sim_state
from bot.sim.server import SimServer
from bot.sim.settings import RateLimitSettings, SimSettings, SymbolSpec
from bot.venue.connect import create_exchange
from tests.live.conftest import START_BTC, SYMBOL, bot_overrides, fast_sim, run_bot, started, venue_view
from tests.ops.live_helpers import until

LOOPBACK = "127.0.0.1"  # the sim's rate limits count per client address: the bot's is this one


def _ours(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in orders if str(o.get("clientOrderId") or "").startswith("mmbot-")]


def _limiter(sim: SimServer) -> dict[str, int]:
    """What the venue answered the bot's address: 429s (``limited``), 418s (``refused``, ``bans``)."""
    clients = sim_state(sim)["rate_limits"]["clients"]
    return dict(clients.get(LOOPBACK, {"limited": 0, "bans": 0, "refused": 0, "max_strikes": 0}))


# -- 1. the venue's real request-weight limit ------------------------------------------------------
async def test_the_real_weight_limit_backs_off_for_retry_after_and_is_never_banned(tmp_path: Path) -> None:
    """The bot's own traffic (REST reconcile every 0.25 s, requotes on every tick) exceeds the venue's
    weight limit in every 4 s window. Binance answers 429 with Retry-After (the end of the window) and
    bans (418) a client that collects more than ``ban_after`` 429s in one window: the bot has to wait
    for Retry-After, not for its own shorter doubling backoff (the 4 s window is not one the 429's
    message names, so only the header tells it), then quote again."""
    settings = fast_sim(seed=51)
    settings.rate_limits = RateLimitSettings(weight_per_minute=150, weight_window=4, ban_after=3, ban_seconds=60.0)
    sim = await started(settings)
    overrides = bot_overrides(sim, risk={"state_dir": str(tmp_path)},
                              execution={"reconcile_interval": 0.25, "requote_ticks": 0})
    seen: dict[str, int] = {}

    async def until_limited_twice_and_quoting_again(service: Service) -> None:
        await until(lambda: service.rate.hits >= 1, 30.0, "the bot's traffic never met the weight limit")
        run = service.runs[0]
        seen["placed_at_first_hit"] = run.orders.placed
        # orders are sent only while the gate is open and one at a time: two more placed orders means
        # quoting resumed after the backoff (at most one create was in flight at the hit)
        await until(lambda: run.orders.placed >= seen["placed_at_first_hit"] + 2 and service.rate.hits >= 2,
                    40.0, "no quoting after the backoff, or the limit was not met again")
        seen["placed_after"] = run.orders.placed
        service.request_stop("test")

    try:
        run = await run_bot(overrides, duration=90.0, during=until_limited_twice_and_quoting_again)
        venue = _limiter(sim)
        sim.limiter.settings = RateLimitSettings()  # the test's own look at the venue must not be limited
        open_orders, btc = await venue_view(sim)
    finally:
        await sim.stop()
    limited = run.events("rate_limited")
    assert len(limited) >= 2 and venue["limited"] >= 2  # real 429s from the venue's weight limit
    assert all(e["venue_hint"] is not None for e in limited), limited  # Retry-After was read ...
    assert all(e["backoff"] >= e["venue_hint"] for e in limited), limited  # ... and waited for
    assert venue["refused"] == 0 and venue["bans"] == 0, venue  # never a 418
    assert venue["max_strikes"] <= 3
    assert run.summary.kill_reason is None and run.summary.stop_reason == "test"
    assert "banned" not in " ".join(str(e.get("detail", "")) for e in run.log)
    assert run.summary.rate_limit_hits == run.service.rate.hits >= 2
    backoffs = run.service.metrics.registry.get_sample_value("mmbot_backoffs_total", {"reason": "rate_limit"})
    assert backoffs is not None and backoffs >= 2
    assert seen["placed_after"] >= seen["placed_at_first_hit"] + 2
    s = run.summary.symbols[0]
    assert s.q_exact == btc - START_BTC  # the books stay exact
    assert not _ours(open_orders)


@pytest.mark.parametrize("path", ["book-resync", "drift-check"])
async def test_rest_calls_outside_the_order_manager_wait_for_retry_after_too(path: str, tmp_path: Path) -> None:
    """A weight limit in 6 s windows, switched on once the bot quotes: a sequence gap while the bot is
    backing off makes the book feed refetch its REST snapshot (``book-resync``); with
    ``balance_drift_tolerance`` set the guard reads the balance every reconcile period (``drift-check``,
    a tolerance that never trips). Neither may collect 429s until the venue bans the bot."""
    sim = await started(fast_sim(seed=56))
    risk: dict[str, Any] = {"state_dir": str(tmp_path)}
    if path == "drift-check":
        risk["balance_drift_tolerance"] = 1.0
    overrides = bot_overrides(sim, risk=risk, execution={"reconcile_interval": 0.25, "requote_ticks": 0})

    async def provoke(service: Service) -> None:
        await until(lambda: bool(service.runs) and service.runs[0].orders.placed >= 2, 30.0, "no quotes")
        sim.set_rate_limits(weight_per_minute=200, weight_window=6, ban_after=3, ban_seconds=2.0)
        if path == "book-resync":  # a gap with more than 3 s of backoff left: the resync falls inside it
            await until(lambda: service.rate.until - time.monotonic() > 3.0 or service.kill.tripped, 40.0,
                        "no long backoff")
            sim.set_faults(gap_next=1)
            reconnects = service.metrics.registry.get_sample_value
            await until(lambda: service.kill.tripped or (reconnects("mmbot_reconnects_total", {"symbol": SYMBOL})
                                                         or 0) >= 1, 40.0, "the book never resynced")
        await until(lambda: service.rate.hits >= 2 or service.kill.tripped, 40.0, "the limit was not met")
        run = service.runs[0]
        placed = run.orders.placed
        await until(lambda: run.orders.placed >= placed + 2 or service.kill.tripped, 40.0, "no quoting")
        service.request_stop("test")

    try:
        run = await run_bot(overrides, duration=120.0, during=provoke)
        venue = _limiter(sim)
    finally:
        await sim.stop()
    assert run.events("rate_limited") and venue["limited"] >= 1
    if path == "book-resync":
        assert run.events("feed_resynced")
    assert venue["refused"] == 0 and venue["bans"] == 0, venue  # never a 418
    assert run.summary.kill_reason is None and run.summary.open_orders_left == 0

# -- 2. a crossed book ----------------------------------------------------------------------------
def _latched_reason(overrides: dict[str, Any]) -> str | None:
    journal = journal_for(load_settings(None, overrides))
    try:
        kill = journal.active_kill()
    finally:
        journal.close()
    return None if kill is None else kill.reason


async def test_a_crossed_book_pauses_quoting_resumes_and_repeated_pauses_kill(tmp_path: Path) -> None:
    """The sim's feed shows a crossed book (a phantom bid at the best ask): the bot withdraws every
    order and quotes again once the book is sane; the third crossing within the window is a kill."""
    sim = await started(fast_sim(seed=52))
    overrides = bot_overrides(sim, risk={"state_dir": str(tmp_path / "var"), "stale_after": 15.0,
                                         "stale_kill_after": 120.0, "pause_escalation_count": 3,
                                         "pause_escalation_window": 300.0})
    seen: dict[str, list[int]] = {"venue_open_while_paused": [], "placed_after_resume": []}

    async def cross_three_times(service: Service) -> None:
        await until(lambda: bool(service.runs) and len(service.runs[0].orders.tracker.open) >= 2, 30.0,
                    "the bot never quoted both sides")
        run = service.runs[0]
        for _ in range(2):
            sim.set_faults(crossed_book=True)
            await until(lambda: "crossed" in run.gate.pauses and not run.orders.tracker.open, 30.0,
                        "a crossed book did not pause quoting and cancel the orders")
            seen["venue_open_while_paused"].append(len(_ours((await venue_view(sim))[0])))
            placed = run.orders.placed
            sim.set_faults(crossed_book=False)
            await until(lambda placed=placed: "crossed" not in run.gate.pauses and run.orders.placed > placed, 30.0,
                        "quoting did not resume on a sane book")
            seen["placed_after_resume"].append(run.orders.placed - placed)
        sim.set_faults(crossed_book=True)
        await until(lambda: service.kill.tripped, 30.0, "the third crossing did not escalate to a kill")
        sim.set_faults(crossed_book=False)

    try:
        run = await run_bot(overrides, duration=120.0, during=cross_three_times)
        open_orders, btc = await venue_view(sim)
    finally:
        await sim.stop()
    assert seen["venue_open_while_paused"] == [0, 0]  # the venue confirms: nothing of ours rests while paused
    assert all(n >= 1 for n in seen["placed_after_resume"])
    paused = [e for e in run.events("quoting_paused") if e["pause"] == "crossed"]
    assert len(paused) == 3 and len(run.events("book_crossed")) == 3
    assert len(run.events("book_uncrossed")) >= 2
    reason = run.summary.kill_reason
    assert reason is not None and reason.startswith("pause escalation: 3 pauses") and "crossed" in reason, reason
    assert run.summary.stop_reason == "kill"
    assert [e["reason"] for e in run.events("kill_switch")] == [reason]
    assert run.summary.open_orders_left == 0 and not _ours(open_orders)
    assert run.summary.symbols[0].q_exact == btc - START_BTC
    assert _latched_reason(overrides) == reason  # latched: a restart refuses to quote until reset-kill


# -- 3. the total-notional limit across symbols ---------------------------------------------------
ETH = "ETH/USDT"
START = {"BTC": Decimal(2), "ETH": Decimal(30)}  # the sim account's default balances


def _two_markets(seed: int) -> SimSettings:
    """BTC/USDT and ETH/USDT where every taker buys: both of the bot's asks are hit, |q| only grows."""
    common: dict[str, Any] = {"quote": "USDT", "volatility": 2.0, "taker_rate": 30.0, "informed_fraction": 0.0,
                              "sell_fraction": 0.0}
    return SimSettings(seed=seed, step_interval=0.05, symbols={
        SYMBOL: SymbolSpec(base="BTC", mid=Decimal(30000), taker_size=0.004, level_size=0.004, **common),
        ETH: SymbolSpec(base="ETH", mid=Decimal(2000), step_size=Decimal("0.0001"), taker_size=0.06,
                        level_size=0.06, **common),
    })


async def _venue_books(sim: SimServer) -> tuple[list[dict[str, Any]], dict[str, Decimal]]:
    ex = create_exchange("sim", "binance", sim.url, sim.api_key, sim.api_secret)
    try:
        orders = await ex.fetch_open_orders(SYMBOL) + await ex.fetch_open_orders(ETH)
        total = (await ex.fetch_balance())["total"]
    finally:
        await ex.close()
    return orders, {asset: Decimal(str(total[asset])) for asset in START}


def _total_notional_at_each_fill(log: list[dict[str, Any]]) -> list[float]:
    """Sum over symbols of |q| * mid right after each fill, from the run's events in order (each fill
    and quote event carries its symbol's mid; each fill its q)."""
    q: dict[str, float] = {}
    mid: dict[str, float] = {}
    totals = []
    for event in log:
        sym = event.get("symbol")
        if event.get("event") in ("fill", "quote") and event.get("mid") is not None:
            mid[sym] = event["mid"]
        if event.get("event") == "fill":
            q[sym] = event["q"]
            totals.append(sum(abs(q[s]) * mid[s] for s in q))
    return totals


async def test_the_total_notional_limit_binds_across_two_symbols_on_every_fill(tmp_path: Path) -> None:
    """Lots of 60 USDT on both symbols, per-symbol limits of 400 USDT (and positions far above that),
    a total of 300 USDT: the total binds first, and holds on every fill of either symbol."""
    total_limit, lot = 300.0, 60.0
    sim = await started(_two_markets(seed=53))
    overrides = bot_overrides(sim, venue={"symbols": [SYMBOL, ETH]},
                              risk={"state_dir": str(tmp_path), "max_position": 0.05, "max_notional": 400.0,
                                    "max_total_notional": total_limit},
                              execution={"order_size": 0.002, "requote_ticks": 0},
                              symbols={ETH: {"risk": {"max_position": 1.0}, "execution": {"order_size": 0.03}}})

    async def until_the_total_binds(service: Service) -> None:
        def bound() -> bool:
            runs = service.runs
            if len(runs) < 2 or any(r.state.mid is None for r in runs):
                return False
            notional = sum(abs(r.inventory.q) * (r.state.mid or 0.0) for r in runs)
            both = all(r.inventory.q < 0 for r in runs)
            return both and notional >= total_limit - 2 * lot and sum(r.orders.blocked for r in runs) >= 1
        await until(bound, 40.0, "the one-sided flow never took the total notional to its limit")
        service.request_stop("test")

    try:
        run = await run_bot(overrides, duration=90.0, during=until_the_total_binds)
        open_orders, balances = await _venue_books(sim)
    finally:
        await sim.stop()
    totals = _total_notional_at_each_fill(run.log)
    assert len(totals) >= 3  # at least the three lots the stop condition needs
    assert max(totals) <= total_limit * 1.005, max(totals)  # on every fill (marks move a little)
    assert max(totals) >= total_limit - 2 * lot  # the limit was approached
    blocked = run.events("order_blocked")
    assert blocked and {e["limit"] for e in blocked} == {TOTAL_NOTIONAL}  # never POSITION nor NOTIONAL
    assert {POSITION, NOTIONAL}.isdisjoint(e["limit"] for e in blocked)
    by_symbol = {s.symbol: s for s in run.summary.symbols}
    assert by_symbol[SYMBOL].q < 0 and by_symbol[ETH].q < 0  # both symbols hold part of the total
    for s in by_symbol.values():
        assert s.max_abs_q * (s.mid or 0.0) < 400.0  # neither per-symbol limit was reached
    assert run.summary.kill_reason is None and run.summary.stop_reason == "test"
    assert not _ours(open_orders)
    assert by_symbol[SYMBOL].q_exact == balances["BTC"] - START["BTC"]
    assert by_symbol[ETH].q_exact == balances["ETH"] - START["ETH"]


# -- 4. the manual kill over the ops endpoint, checked like every other trigger --------------------
async def test_post_kill_on_the_ops_endpoint_cancels_everything_and_latches(tmp_path: Path) -> None:
    """``POST /kill`` with the run's generated token: the venue confirms nothing of ours is open and the kill is
    latched."""
    sim = await started(fast_sim(seed=54))
    overrides = bot_overrides(sim, risk={"state_dir": str(tmp_path / "var")})
    answers: list[int] = []

    async def post_kill(service: Service) -> None:
        await until(lambda: bool(service.runs) and len(service.runs[0].orders.tracker.open) >= 2, 30.0,
                    "the bot never quoted both sides")
        assert service.ops.server is not None
        url = service.ops.server.url + "/kill"
        assert service.ops.token_file is not None  # no ops.token: the run's own, in the state dir
        auth = {"Authorization": f"Bearer {service.ops.token_file.read_text().strip()}"}
        async with aiohttp.ClientSession() as session, session.post(url, json={}, headers=auth) as response:
            answers.append(response.status)

    try:
        run = await run_bot(overrides, duration=60.0, during=post_kill)
        open_orders, btc = await venue_view(sim)
    finally:
        await sim.stop()
    assert answers == [200]
    assert run.summary.kill_reason == "manual: POST /kill" and run.summary.stop_reason == "kill"
    kills = run.events("kill_switch")
    assert [e["reason"] for e in kills] == ["manual: POST /kill"] and kills[0]["state"][SYMBOL]["open_orders"] >= 1
    assert run.summary.open_orders_left == 0 and not _ours(open_orders)
    assert run.summary.symbols[0].q_exact == btc - START_BTC
    assert _latched_reason(overrides) == "manual: POST /kill"
