"""End to end under venue faults: dropped sockets, sequence gaps, rate limits."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime

import pytest

from bot.live.service import Service
from bot.sim.server import SimServer
from bot.sim.settings import FaultSettings, RateLimitSettings
from tests.live.conftest import START_BTC, BotRun, bot_overrides, fast_sim, run_bot, started, venue_view


async def _until(predicate, limit: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    """Wait until ``predicate()`` holds (checked every 50 ms), at most ``limit`` seconds."""
    for _ in range(int(limit / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)


ENTRIES = pytest.mark.parametrize("entry", ["rest", "websocket"])


def _sent_over(run: BotRun, entry: str) -> None:
    """Creates and cancels went the configured way: over the WebSocket API, ccxt numbered a request for
    each one on that connection; over REST, none."""
    service = run.service
    placed = sum(r.orders.placed + r.orders.canceled for r in service.runs)
    url = service.exchange.urls["api"]["ws"]["ws-api"]["spot"]
    ws_requests = service.exchange.options.get("requestId", {}).get(url, 0)
    assert run.events("started")[0]["order_entry"] == entry
    if entry == "websocket":
        assert ws_requests >= placed > 0
    else:
        assert ws_requests <= 2 and placed > 0  # the user stream's subscribe (and a resubscribe) only


@ENTRIES
async def test_dropped_sockets_and_sequence_gaps_are_survived(entry: str) -> None:
    sim = await started(fast_sim(seed=3))
    marks: dict[str, int] = {}

    async def faults(service: Service) -> None:
        await _until(lambda: bool(service.runs) and service.runs[0].inventory.fills >= 2)
        run = service.runs[0]
        marks["fills_before_drop"] = run.inventory.fills
        sim.set_faults(drop_now=True)
        await asyncio.sleep(1.5)
        marks["books_before_gap"] = run.state.books
        sim.set_faults(gap_next=2)
        await asyncio.sleep(1.5)
        marks["books_after_gap"] = run.state.books
        marks["fills_after_faults"] = run.inventory.fills

    try:
        run = await run_bot(bot_overrides(sim, venue={"order_entry": entry}), duration=9.0, during=faults)
        open_orders, btc = await venue_view(sim)
    finally:
        await sim.stop()
    errors = run.events("feed_error")
    kinds = {e["error"] for e in errors}
    assert "ChecksumError" in kinds, kinds  # the gap was detected ...
    assert any(e["feed"] == "book" for e in run.events("feed_resynced"))  # ... and the book resynced
    assert any(e["feed"] != "book" for e in errors)  # the dropped sockets hit the user streams too
    assert marks["books_after_gap"] > marks["books_before_gap"]  # books keep arriving after the gap
    s = run.summary.symbols[0]
    assert s.fills > marks["fills_after_faults"] >= marks["fills_before_drop"]  # still trading afterwards
    assert s.q_exact == btc - START_BTC  # no fill lost or double counted across the reconnects
    _sent_over(run, entry)
    assert run.summary.open_orders_left == 0 and not [o for o in open_orders if o["clientOrderId"].startswith("mmbot-")]


@ENTRIES
async def test_order_rate_limit_leads_to_backoff_not_a_ban(entry: str) -> None:
    """The venue allows 12 new orders per fixed 10 s window; the bot may try 20 per second."""
    settings = fast_sim(seed=5)
    settings.rate_limits = RateLimitSettings(orders_per_10s=12, ban_after=3, ban_seconds=30.0)
    sim: SimServer = await started(settings)
    try:
        run = await run_bot(bot_overrides(sim, execution={"requote_ticks": 0}, venue={"order_entry": entry}),
                            duration=14.0)
        open_orders, btc = await venue_view(sim)
    finally:
        await sim.stop()
    limited = run.events("rate_limited")
    assert limited, "the venue's limit was never reached"
    for e in limited:  # the pause lasts at least until the venue's window ends (its message says which)
        assert e["venue_hint"] is not None and e["backoff"] >= e["venue_hint"]
    stamps = [datetime.fromisoformat(e["timestamp"]) for e in limited]
    for (t0, t1), pause in zip(itertools.pairwise(stamps), [e["backoff"] for e in limited], strict=False):
        assert (t1 - t0).total_seconds() >= 0.9 * pause  # nothing was sent while backing off
    first_end = stamps[0].timestamp() + limited[0]["backoff"]
    resumed = [e for e in run.events("order_placed") if datetime.fromisoformat(e["timestamp"]).timestamp() > first_end]
    assert resumed, "quoting did not resume after the pause"
    assert len(limited) <= 4  # one hit per window, not a storm
    texts = " ".join(str(e.get("detail", "")) for e in run.log)
    assert "banned" not in texts  # never a 418
    assert run.summary.open_orders_left == 0 and not [o for o in open_orders if o["clientOrderId"].startswith("mmbot-")]
    assert run.summary.symbols[0].q_exact == btc - START_BTC
    _sent_over(run, entry)


async def test_stale_book_pulls_the_quotes_and_fresh_data_restores_them() -> None:
    sim = await started(fast_sim(seed=4))
    seen: dict[str, object] = {}

    async def freeze(service: Service) -> None:
        await _until(lambda: bool(service.runs) and len(service.runs[0].orders.tracker.open) == 2)
        run = service.runs[0]
        sim.set_faults(frozen=True)
        await _until(lambda: "stale" in run.gate.pauses and not run.orders.tracker.open)
        seen["paused"] = dict(run.gate.pauses)
        orders, _btc = await venue_view(sim)
        seen["open_while_stale"] = [o for o in orders if o["clientOrderId"].startswith("mmbot-")]
        sim.set_faults(frozen=False)
        await _until(lambda: run.gate.open and len(run.orders.tracker.open) > 0)
        seen["requoted"] = len(run.orders.tracker.open)

    try:
        run = await run_bot(bot_overrides(sim, risk={"stale_after": 1.0}), duration=8.0, during=freeze)
    finally:
        await sim.stop()
    assert "stale" in seen["paused"]  # type: ignore[operator]
    assert seen["open_while_stale"] == []  # the venue confirms nothing rested while the book was stale
    assert seen["requoted"]  # quotes came back with the data
    stale, restored = run.events("feed_stale"), run.events("feed_restored")
    assert stale and restored
    t0, t1 = stale[0]["timestamp"], restored[0]["timestamp"]  # ISO UTC strings order like times
    assert not [e for e in run.events("order_placed") if t0 < e["timestamp"] < t1]  # nothing quoted while stale
    assert run.summary.open_orders_left == 0


@ENTRIES
@pytest.mark.parametrize(
    "unknown_fate", [0.0, 0.1], ids=["5xx-rejects-slow", "unknown-fate"]
)
async def test_5xx_injected_rejects_and_slow_acks_keep_the_books_exact(unknown_fate: float, entry: str) -> None:
    """503s, rejects, slow acks and (second case) orders executed but answered 503: q still equals the venue."""
    settings = fast_sim(seed=6)
    settings.faults = FaultSettings(
        http_5xx_fraction=0.1, reject_fraction=0.1, slow_ack_ms=150, unknown_fate_fraction=unknown_fate
    )
    sim = await started(settings)
    try:
        run = await run_bot(bot_overrides(sim, venue={"order_entry": entry}), duration=6.0)
        sim.set_faults(http_5xx_fraction=0.0, reject_fraction=0.0, slow_ack_ms=0, unknown_fate_fraction=0.0)
        open_orders, btc = await venue_view(sim)
    finally:
        await sim.stop()
    s = run.summary.symbols[0]
    assert s.fills > 0
    assert run.events("order_rejected") or run.events("order_unknown")  # the faults did hit the order path
    assert s.q_exact == btc - START_BTC
    assert run.summary.open_orders_left == 0 and not [o for o in open_orders if o["clientOrderId"].startswith("mmbot-")]
    assert run.summary.kill_reason is None
    _sent_over(run, entry)
