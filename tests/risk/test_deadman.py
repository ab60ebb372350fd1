"""The dead man's switch arms, refreshes and disarms only where the venue has cancelAllOrdersAfter."""

from __future__ import annotations

import asyncio
from typing import Any

import ccxt

from bot.live.deadman import DeadMan
from tests.fakes import RecordingLog


class FakeExchange:
    id = "fake"

    def __init__(self, supported: bool, fail: int = 0) -> None:
        self.has = {"cancelAllOrdersAfter": supported}
        self.calls: list[int] = []
        self.fail = fail

    async def cancel_all_orders_after(self, timeout: int) -> dict[str, Any]:  # noqa: ASYNC109 (ccxt signature)
        if self.fail:
            self.fail -= 1
            raise ccxt.NetworkError("down")
        self.calls.append(timeout)
        return {}


async def test_arm_refresh_disarm() -> None:
    ex, log = FakeExchange(True), RecordingLog()
    dm = DeadMan(ex, 0.3, log)
    assert await dm.arm() and dm.armed
    task = asyncio.create_task(dm.run())
    await asyncio.sleep(0.35)  # about three beats of 0.1 s
    task.cancel()
    await dm.disarm()
    assert ex.calls[0] == 300 and ex.calls[-1] == 0
    assert len([c for c in ex.calls if c == 300]) >= 2  # armed, then refreshed
    assert not dm.armed


async def test_a_failed_refresh_is_retried() -> None:
    ex, log = FakeExchange(True, fail=0), RecordingLog()
    dm = DeadMan(ex, 0.15, log)
    await dm.arm()
    ex.fail = 1
    task = asyncio.create_task(dm.run())
    await asyncio.sleep(0.25)
    task.cancel()
    assert any(e == "dead_man_refresh_failed" for e, _ in log.events)
    assert ex.calls.count(150) >= 2


async def test_unsupported_venue_is_said_once_and_never_called() -> None:
    ex, log = FakeExchange(False), RecordingLog()
    dm = DeadMan(ex, 60.0, log)
    assert not await dm.arm() and not await dm.arm()
    await dm.disarm()
    assert ex.calls == []
    assert [e for e, _ in log.events] == ["dead_man_unavailable"]


async def test_zero_timeout_means_off() -> None:
    ex = FakeExchange(True)
    dm = DeadMan(ex, 0.0, RecordingLog())
    assert not await dm.arm()
    assert ex.calls == []
