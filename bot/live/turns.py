"""Letting a reaction's first order request reach the socket before work that can wait.

When a book wakes the quoter, three things are ready on the event loop: the quoter's cycle, the book feed
going back into ccxt (``watch_order_book`` does ~100 us of bookkeeping before it suspends) and the
cycle's ``quote`` log line (~140 us of rendering). Only the first is on the reaction's path. How many
event-loop turns the cycle needs, after it suspends, before its first request is written is the order
entry's ``wire_turns`` (:mod:`bot.live.entry`): none over REST (aiohttp writes the request before the
first suspension), two over the WebSocket API (ccxt sends from a done-callback that starts a task). Work
that can wait goes ``wire_turns + 1`` turns back: :func:`yield_turns` for a task, :func:`call_after_turns`
for a callback. A turn costs a few microseconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


async def yield_turns(turns: int) -> None:
    """Let the other ready tasks and callbacks run for ``turns`` turns of the event loop."""
    for _ in range(turns):
        await asyncio.sleep(0)


def call_after_turns(turns: int, fn: Callable[..., Any], *args: Any) -> None:
    """Call ``fn(*args)`` from the event loop ``turns`` turns from now (at least one)."""
    loop = asyncio.get_running_loop()

    def step(left: int) -> None:
        if left <= 1:
            fn(*args)
        else:
            loop.call_soon(step, left - 1)

    loop.call_soon(step, turns)
