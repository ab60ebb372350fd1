"""Work that can wait runs after a reaction's request is written (bot/live/turns.py)."""

from __future__ import annotations

import asyncio

from bot.live.entry import WsOrderEntry
from bot.live.turns import call_after_turns, yield_turns


def _ws_style_send(order: list[str]) -> None:
    """What ccxt's ``watch`` does with a request on an open connection: a done-callback on the connection's
    future starts a task, and that task writes."""
    connected: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    connected.set_result(None)

    async def send_message() -> None:
        order.append("written")

    connected.add_done_callback(lambda _: asyncio.ensure_future(send_message()))


async def _race(turns: int) -> list[str]:
    order: list[str] = []
    call_after_turns(turns, order.append, "log")  # scheduled first, as the quoter does before execute

    async def feed() -> None:
        await yield_turns(turns)
        order.append("feed")

    feeding = asyncio.ensure_future(feed())
    _ws_style_send(order)
    await asyncio.sleep(0.01)
    await feeding
    return order


async def test_the_websocket_entrys_wire_turns_put_waiting_work_behind_its_write() -> None:
    order = await _race(WsOrderEntry.wire_turns + 1)
    assert order.index("written") < order.index("log") and order.index("written") < order.index("feed")


async def test_one_turn_is_not_enough_for_the_websocket_send_path() -> None:
    order = await _race(1)
    assert order.index("log") < order.index("written") and order.index("feed") < order.index("written")


async def test_call_after_turns_counts_turns() -> None:
    seen: list[int] = []
    loop = asyncio.get_running_loop()
    for n in (3, 1, 2):
        call_after_turns(n, seen.append, n)
    loop.call_soon(seen.append, 0)
    await yield_turns(4)
    assert seen == [1, 0, 2, 3]
