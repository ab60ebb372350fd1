"""A timeout for a loop of awaits that almost never time out, with one timer per period, not one per call."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class IdleWatchdog:
    """``await watchdog.call(fn)`` is ``async with asyncio.timeout(after): await fn()`` with one timer per
    ``after`` seconds instead of one per call.

    A feed awaits one call per book (hundreds a second) and almost never times out, so arming and
    cancelling a timer around every call is waste. Here the timer, once armed, fires at the earliest
    deadline it may face; if the call in progress started less than ``after`` seconds ago it re-arms for
    that call's deadline, otherwise it cancels the task, and :meth:`call` turns that cancellation into
    ``TimeoutError`` (a cancellation from anyone else still propagates, as with ``asyncio.timeout``).
    One watchdog serves one task, one call at a time.
    """

    def __init__(self, after: float) -> None:
        self.after = after
        self._task: asyncio.Task[Any] | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._since: float | None = None  # loop time the call in progress started (None: no call)
        self._fired = False
        self._cancelling = 0

    def _check(self) -> None:
        self._handle = None
        if self._since is None or self._task is None:
            return  # between calls: the next call arms the timer again
        loop = asyncio.get_running_loop()
        due = self._since + self.after
        if loop.time() >= due:
            self._fired = True
            self._task.cancel()
        else:
            self._handle = loop.call_at(due, self._check)

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        task = self._task
        if task is None:
            task = self._task = asyncio.current_task()
            assert task is not None
        loop = asyncio.get_running_loop()
        self._cancelling = task.cancelling()
        self._since = loop.time()
        if self._handle is None:
            self._handle = loop.call_at(self._since + self.after, self._check)
        try:
            return await fn()
        except asyncio.CancelledError:
            if self._fired:
                self._fired = False
                if task.uncancel() <= self._cancelling:
                    raise TimeoutError from None
            raise
        finally:
            self._since = None
            if self._fired:  # it fired, but the call ended on its own (the cancellation came too late)
                self._fired = False
                task.uncancel()

    def close(self) -> None:
        """Drop the timer (the watched task is done)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
