"""Freshness end to end (issue 17 item 3 and part 6's SIGSTOP drill), against the simulator.

- A frozen market stream (sim fault ``frozen``) is resubscribed every ``resubscribe_after`` seconds and each
  resubscription brings a REST depth snapshot: the snapshot must not make the book fresh, so the bot stays
  paused (no quotes, no stale/restored flapping) and the hard stale kill fires at ``stale_kill_after``.
- The process frozen (SIGSTOP) mid-cycle, while a cancel was in flight, for longer than ``stale_after``:
  when it resumes it must not send the cycle's create, priced from the book it held before the freeze. The
  freeze is the event loop blocked in ``time.sleep`` (nothing of the bot runs, its monotonic clock goes on)
  while the simulator, in a thread of its own, keeps trading and publishing into the bot's sockets.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
from datetime import datetime
from typing import Any

import pytest

import bot.live.quoter as quoter_module
from bot.core.reconcile import Cancel, Create
from bot.live.feed import BookFeed
from bot.live.market import MarketState
from bot.live.service import Service
from bot.logs import configure_logging
from bot.sim.server import SimServer, start_sim
from bot.sim.settings import SimSettings
from bot.venue.connect import create_exchange
from tests.fakes import RecordingLog
from tests.live.conftest import SYMBOL, bot_overrides, fast_sim, run_bot, started, venue_view


async def _until(predicate: Any, limit: float = 10.0) -> None:
    """Wait until ``predicate()`` holds (checked every 20 ms), at most ``limit`` seconds."""
    for _ in range(int(limit / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)


def _ts(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["timestamp"]).timestamp()


async def test_a_frozen_streams_resubscription_snapshots_do_not_make_the_book_fresh() -> None:
    sim = await started(fast_sim(seed=31))
    exchange = create_exchange("sim", "binance", sim.url, None, None)
    state, log = MarketState(SYMBOL), RecordingLog()
    feed = BookFeed(exchange, SYMBOL, state, asyncio.Event(), log, resubscribe_after=1.5)
    task = asyncio.create_task(feed.run())
    try:
        await _until(lambda: state.updated is not None)
        assert state.updated is not None, "no streamed update"
        sim.set_faults(frozen=True)
        await asyncio.sleep(0.2)
        last, books = state.updated, state.books
        await asyncio.sleep(4.2)
        timeouts = [kw for event, kw in log.events if event == "feed_timeout"]
        assert len(timeouts) >= 2  # resubscribed at least twice ...
        assert state.books > books  # ... and each time the snapshot arrived ...
        assert state.updated == last  # ... without making the book fresh
        now = time.monotonic()
        assert state.age(now) > 4.2 and state.silence(now) == state.age(now)
        sim.set_faults(frozen=False)
        await _until(lambda: state.updated != last)
        assert state.updated != last and state.age(time.monotonic()) < 1.0  # streamed data is fresh again
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await exchange.close()
        await sim.stop()


async def test_a_frozen_stream_stays_paused_and_the_hard_stale_kill_fires_across_resubscribes() -> None:
    """stale_after 0.5 s, stale_kill_after 7 s: the feed resubscribes after 5 s (the service's minimum), so
    the kill comes only if the snapshot of that resubscription does not count as fresh data."""
    sim = await started(fast_sim(seed=32))
    marks: dict[str, float] = {}

    async def freeze(service: Service) -> None:
        await _until(lambda: bool(service.runs) and len(service.runs[0].orders.tracker.open) == 2)
        sim.set_faults(frozen=True)
        marks["frozen"] = time.time()
        await _until(lambda: service.kill.tripped, 15.0)
        sim.set_faults(frozen=False)

    overrides = bot_overrides(sim, risk={"stale_after": 0.5, "stale_kill_after": 7.0,
                                         "pause_escalation_count": 100})
    try:
        run = await run_bot(overrides, duration=25.0, during=freeze)
        open_orders, _btc = await venue_view(sim)
    finally:
        await sim.stop()
    frozen = marks["frozen"]
    assert run.summary.kill_reason is not None and "market data" in run.summary.kill_reason, run.summary.kill_reason
    kill = run.events("kill_switch")[0]
    assert 7.0 <= _ts(kill) - frozen < 9.0  # at stale_kill_after from the last streamed update
    timeouts = [e for e in run.events("feed_timeout") if _ts(e) > frozen]
    assert timeouts, "the feed never resubscribed: the test did not exercise the snapshot"
    placed = [e for e in run.events("order_placed") if _ts(e) > frozen + 0.5 + 0.5]
    assert not placed, placed  # nothing quoted on the frozen book (a cycle in flight may end first)
    assert not [e for e in run.events("feed_restored") if _ts(e) > frozen]  # no flapping
    assert len([e for e in run.events("feed_stale") if _ts(e) > frozen]) == 1
    assert run.summary.open_orders_left == 0
    assert not [o for o in open_orders if o["clientOrderId"].startswith("mmbot-")]


class _ThreadSim:
    """The simulator on an event loop of its own in a thread: it keeps going while the test's loop is blocked."""

    def __init__(self, settings: SimSettings) -> None:
        configure_logging("warning", "json", (), stream=io.StringIO())
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="sim", daemon=True)
        self.thread.start()
        self.sim: SimServer = asyncio.run_coroutine_threadsafe(start_sim(settings, port=0), self.loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


async def test_frozen_mid_cycle_the_resumed_process_sends_no_create_priced_from_the_old_book(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stale_after, freeze_for = 1.0, 1.6
    box = _ThreadSim(fast_sim(seed=33))
    decided: list[Any] = [None, []]  # the data time the running cycle was decided on, its actions
    frozen: dict[str, Any] = {"at": None, "cycle": False, "pending": 0}
    creates: list[tuple[float, bool, float]] = []  # (data age at send, sent by the frozen cycle, wall time)
    real_reconcile = quoter_module.reconcile

    def recording_reconcile(*args: Any) -> Any:
        actions = real_reconcile(*args)
        decided[1] = actions
        return actions

    monkeypatch.setattr(quoter_module, "reconcile", recording_reconcile)

    async def hook(service: Service) -> None:
        await _until(lambda: bool(service.runs) and len(service.runs[0].orders.tracker.open) == 2)
        run = service.runs[0]
        orders, state = run.orders, run.state
        real_execute, real_cancel = orders.execute, orders.cancel
        entry = orders.entry
        real_send = entry.create

        async def execute(actions: Any, mid: Any, half_spread: Any, data_time: Any = None) -> None:
            decided[0] = state.updated
            frozen["cycle"] = False
            await real_execute(actions, mid, half_spread, data_time)

        async def cancel(client_id: str, reason: str = "", ceiling: bool = True) -> bool:
            ok = await real_cancel(client_id, reason, ceiling)
            actions = decided[1]
            index = next((i for i, a in enumerate(actions) if type(a) is Cancel and a.client_id == client_id), None)
            later = [a for a in actions[index + 1:] if type(a) is Create] if index is not None else []
            if frozen["at"] is None and later:
                frozen.update(at=time.time(), cycle=True, pending=len(later))
                time.sleep(freeze_for)  # noqa: ASYNC251 (SIGSTOP: the whole process stops; the venue goes on)
            return ok

        async def send(*args: Any) -> Any:  # a create handed to the venue
            assert decided[0] is not None
            creates.append((time.monotonic() - decided[0], frozen["cycle"], time.time()))
            return await real_send(*args)

        orders.execute, orders.cancel = execute, cancel  # type: ignore[method-assign]
        entry.create = send  # type: ignore[method-assign]
        await _until(lambda: frozen["at"] is not None and any(w > frozen["at"] + freeze_for for *_, w in creates))

    overrides = bot_overrides(box.sim, risk={"stale_after": stale_after},
                              execution={"requote_ticks": 0, "orders_per_second": 50})
    try:
        run = await run_bot(overrides, duration=12.0, during=hook)
        open_orders, _btc = await venue_view(box.sim)
    finally:
        box.stop()
    assert frozen["at"] is not None and frozen["pending"] >= 1  # the freeze came with a create still to send
    assert not [c for c in creates if c[1]]  # the frozen cycle sent none of its creates after the resume
    assert max(age for age, *_ in creates) <= stale_after  # no create was priced from data past stale_after
    assert [c for c in creates if c[2] > frozen["at"] + freeze_for]  # quoting went on with fresh data
    assert run.summary.open_orders_left == 0
    assert not [o for o in open_orders if o["clientOrderId"].startswith("mmbot-")]
