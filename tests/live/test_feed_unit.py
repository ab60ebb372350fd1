"""bot.live.feed: the idle watchdog (asyncio.timeout semantics, one timer per period) and the watch loop's
resubscription on a frozen stream."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from bot.live.feed import Backoff, _watch_loop
from bot.live.watchdog import IdleWatchdog
from tests.fakes import RecordingLog


async def test_a_call_within_the_period_returns_its_result() -> None:
    idle = IdleWatchdog(0.5)

    async def quick() -> int:
        await asyncio.sleep(0.001)
        return 7

    assert [await idle.call(quick) for _ in range(50)] == [7] * 50
    idle.close()


async def test_a_call_longer_than_the_period_times_out() -> None:
    idle = IdleWatchdog(0.05)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await idle.call(lambda: asyncio.sleep(5))
    assert 0.04 <= time.monotonic() - started < 1.0
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]  # the cancellation was taken back
    idle.close()


async def test_each_call_gets_the_whole_period() -> None:
    """Calls of 0.6 x the period back to back never time out: the timer re-arms for the current call."""
    idle = IdleWatchdog(0.05)
    for _ in range(20):
        await idle.call(lambda: asyncio.sleep(0.03))
    idle.close()


async def test_many_short_calls_arm_about_one_timer_per_period() -> None:
    idle = IdleWatchdog(0.1)
    loop = asyncio.get_running_loop()
    armed = 0
    call_at = loop.call_at

    def counting_call_at(when: float, cb: Any, *args: Any, **kw: Any) -> Any:
        nonlocal armed
        armed += cb == idle._check
        return call_at(when, cb, *args, **kw)

    loop.call_at = counting_call_at  # type: ignore[method-assign]
    started = loop.time()
    calls = 0
    try:
        while loop.time() - started < 0.3:
            await idle.call(lambda: asyncio.sleep(0.002))
            calls += 1
    finally:
        loop.call_at = call_at  # type: ignore[method-assign]
        idle.close()
    assert calls >= 30
    assert 1 <= armed <= 6  # ~0.3 s / 0.1 s, not one per call


async def test_a_cancellation_from_outside_still_propagates() -> None:
    idle = IdleWatchdog(10.0)
    task = asyncio.create_task(idle.call(lambda: asyncio.sleep(5)))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    idle.close()


async def test_an_outside_cancellation_racing_the_watchdog_is_not_turned_into_a_timeout() -> None:
    idle = IdleWatchdog(10.0)
    task = asyncio.create_task(idle.call(lambda: asyncio.sleep(5)))
    await asyncio.sleep(0.01)
    assert idle._since is not None
    idle._since -= 11.0  # the call is now past its deadline: the watchdog fires ...
    idle._check()
    task.cancel()  # ... and someone else cancels the task in the same turn
    with pytest.raises(asyncio.CancelledError):
        await task
    idle.close()


async def test_the_watch_loop_resubscribes_a_frozen_stream_and_keeps_delivering() -> None:
    log = RecordingLog()
    calls = 0
    got: list[int] = []
    unwatched = 0

    async def watch() -> int:
        nonlocal calls
        calls += 1
        if calls == 3:
            await asyncio.sleep(10)  # frozen: no book for longer than the idle timeout
        await asyncio.sleep(0.001)
        return calls

    async def unwatch() -> None:
        nonlocal unwatched
        unwatched += 1

    def handle(result: int) -> None:
        got.append(result)
        if len(got) == 5:
            raise asyncio.CancelledError  # stop the loop

    with pytest.raises(asyncio.CancelledError):
        await _watch_loop("book", watch, handle, log, Backoff(), idle_timeout=0.05, on_timeout=unwatch)
    assert got == [1, 2, 4, 5, 6]
    assert unwatched == 1
    assert [e for e, _ in log.events] == ["feed_timeout"]


async def test_the_loop_lets_woken_tasks_run_first_unless_the_handler_woke_nobody() -> None:
    loop = asyncio.get_running_loop()
    order: list[str] = []
    answers = iter([True, False, None])
    n = 0

    async def watch() -> int:  # returns without suspending, as ccxt does when a book is already waiting
        nonlocal n
        n += 1
        return n

    def handle(i: int) -> bool | None:
        order.append(f"handle{i}")
        if i == 4:
            raise asyncio.CancelledError  # stop the loop
        loop.call_soon(order.append, f"woken{i}")
        return next(answers)

    with pytest.raises(asyncio.CancelledError):
        await _watch_loop("book", watch, handle, RecordingLog(), Backoff())
    # a True or None answer yields to the woken task at once; after False the loop goes straight on
    assert order == ["handle1", "woken1", "handle2", "handle3", "woken2", "woken3", "handle4"]

