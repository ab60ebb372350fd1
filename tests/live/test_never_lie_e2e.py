"""End to end: what the bot says at a stop is what the venue said, outages pause on both order entries,
a stop is never held hostage, and a skewed clock is measured again instead of counted as rejects."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from bot.live.service import Service
from bot.live.summary import format_summary
from bot.sim.server import SimServer
from tests.live.conftest import START_BTC, bot_overrides, fast_sim, ours, run_bot, started, until, venue_view

ENTRIES = pytest.mark.parametrize("entry", ["rest", "websocket"])


def _outage_then(sim: SimServer, stop: Callable[[Service], None]) -> Callable[[Service], Awaitable[None]]:
    """Once both quotes rest, every request of the venue gets a 5xx; then ``stop``."""

    async def during(service: Service) -> None:
        await until(lambda: bool(service.runs) and len(service.runs[0].orders.tracker.open) == 2)
        sim.set_faults(http_5xx_fraction=1.0)
        stop(service)

    return during


@ENTRIES
async def test_a_stop_while_the_venue_does_not_answer_says_unknown_not_none(entry: str) -> None:
    """The drill: quotes rest, every request then gets a 5xx, SIGTERM. Before: "none (confirmed with the
    venue)" and ``open_orders_left: 0`` while the venue held our orders."""
    sim = await started(fast_sim(seed=21, taker_rate=0.0))  # nobody fills the resting quotes during the outage
    outage_then_stop = _outage_then(sim, lambda service: service.request_stop("SIGTERM"))
    try:
        started_at = time.monotonic()
        run = await run_bot(bot_overrides(sim, venue={"order_entry": entry}, execution={"stop_grace": 3.0}),
                            duration=30.0, during=outage_then_stop)
        took = time.monotonic() - started_at
        sim.set_faults(http_5xx_fraction=0.0)
        open_orders, _btc = await venue_view(sim)
    finally:
        await sim.stop()
    summary = run.summary
    assert ours(open_orders)  # the venue does hold our orders
    assert not summary.open_orders_confirmed and not summary.clean
    s = summary.symbols[0]
    assert s.open_orders_left is None and s.open_orders_unconfirmed >= len(ours(open_orders))
    text = format_summary(summary)
    assert "none (confirmed" not in text
    assert "unknown (the venue did not answer:" in text and "may be open" in text
    assert run.events("summary")[0]["open_orders_left"] is None
    assert run.events("orders_unconfirmed")
    assert took < 25.0  # the stop grace (3 s) bounds the cancelling, not the attempts


async def test_a_kill_while_the_venue_does_not_answer_says_unknown() -> None:
    sim = await started(fast_sim(seed=22, taker_rate=0.0))  # nobody fills the resting quotes during the outage
    outage_then_kill = _outage_then(sim, lambda service: service.trip_kill("manual: test"))
    try:
        run = await run_bot(bot_overrides(sim, execution={"stop_grace": 3.0}), duration=30.0, during=outage_then_kill)
        sim.set_faults(http_5xx_fraction=0.0)
        open_orders, _btc = await venue_view(sim)
    finally:
        await sim.stop()
    assert ours(open_orders)
    assert run.summary.kill_reason == "manual: test"
    assert run.summary.symbols[0].open_orders_left is None
    assert "none (confirmed" not in format_summary(run.summary)


@ENTRIES
async def test_an_outage_pauses_and_recovers_on_both_order_entries(entry: str) -> None:
    """The README's rehearsal, ``{"http_5xx_fraction": 1}``: venue_outage, then venue_restored; no kill.
    Before, over the WebSocket API every -1008 counted as a reject and the error rate killed the bot."""
    sim = await started(fast_sim(seed=23))
    marks: dict[str, float] = {}

    async def outage(service: Service) -> None:
        await until(lambda: bool(service.runs) and service.runs[0].orders.placed >= 2)
        sim.set_faults(http_5xx_fraction=1.0)
        marks["paused"] = await until(lambda: "venue" in service.runs[0].gate.pauses, limit=15.0)
        await asyncio.sleep(4.0)  # long enough for 20 errors at the old rate
        sim.set_faults(http_5xx_fraction=0.0)
        marks["resumed"] = await until(lambda: service.runs[0].gate.open, limit=15.0)
        placed = service.runs[0].orders.placed
        marks["requoted"] = await until(lambda: service.runs[0].orders.placed > placed, limit=10.0)

    try:
        run = await run_bot(bot_overrides(sim, venue={"order_entry": entry}, risk={"max_errors": 5}),
                            duration=40.0, during=outage)
        open_orders, btc = await venue_view(sim)
    finally:
        await sim.stop()
    assert marks == {"paused": True, "resumed": True, "requoted": True}, marks
    assert run.events("venue_outage") and run.events("venue_restored")
    assert run.summary.kill_reason is None
    assert run.summary.clean and not ours(open_orders)
    assert run.summary.symbols[0].q_exact == btc - START_BTC


@ENTRIES
async def test_a_venue_clock_that_jumps_is_measured_again_and_quoting_goes_on(entry: str) -> None:
    """The venue's clock moves 20 s ahead of ours (beyond the recvWindow): -1021 answers make the bot measure
    the offset again; they are not rejects (no kill), and no fill is lost."""
    sim = await started(fast_sim(seed=24))
    marks: dict[str, int] = {}

    async def skew(service: Service) -> None:
        await until(lambda: bool(service.runs) and service.runs[0].orders.placed >= 2)
        sim.set_faults(clock_offset_ms=-20_000)  # the venue's clock behind ours: our requests "ahead"
        await until(lambda: service.clock is not None and service.clock.syncs >= 2, limit=15.0)
        marks["placed_after_sync"] = service.runs[0].orders.placed
        await asyncio.sleep(3.0)
        marks["placed_later"] = service.runs[0].orders.placed

    try:
        run = await run_bot(bot_overrides(sim, venue={"order_entry": entry}, risk={"max_errors": 3}),
                            duration=25.0, during=skew)
        sim.set_faults(clock_offset_ms=0)  # for the independent client, which measures no offset
        open_orders, btc = await venue_view(sim)
    finally:
        await sim.stop()
    synced = [e for e in run.events("clock_synced") if e["why"] == "clock_skew"]
    assert synced and abs(synced[-1]["offset_ms"] - 20_000) < 2_000
    assert marks["placed_later"] > marks["placed_after_sync"]  # quoting went on
    rejected = [e for e in run.events("order_rejected") if e["reason"] != "would_cross"]  # a post-only cross is normal
    assert run.summary.kill_reason is None and not rejected, rejected
    assert run.summary.clean and not ours(open_orders)
    assert run.summary.symbols[0].q_exact == btc - START_BTC  # no fill lost across the jump


async def test_a_throttle_that_would_wait_for_minutes_does_not_hold_the_stop() -> None:
    """One order per 10 s (the lowest ceiling allowed): the stop's cancels skip our own ceiling (the venue's
    rate gate still applies), so the stop ends at once and the venue confirms none is open. Before, the stop
    waited 10 s for the quoter's cycle and then ~10 s per cancel (with a ceiling of 1e-300, for ever)."""
    sim = await started(fast_sim(seed=25, taker_rate=0.5))

    async def stop_soon(service: Service) -> None:
        await until(lambda: bool(service.runs) and len(service.runs[0].orders.tracker.open) >= 1)
        await asyncio.sleep(0.5)  # the quoter now waits for the ceiling to send the other side
        service.request_stop("SIGTERM")

    try:
        t0 = time.monotonic()
        run = await run_bot(bot_overrides(sim, execution={"orders_per_second": 0.1, "stop_grace": 4.0}),
                            duration=60.0, during=stop_soon)
        took = time.monotonic() - t0
        open_orders, _btc = await venue_view(sim)
    finally:
        await sim.stop()
    assert took < 12.0
    assert run.summary.clean and not ours(open_orders)
