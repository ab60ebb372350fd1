"""Restart recovery for any book (one symbol's orders and fills in the journal): the spot symbol's
(:mod:`bot.live.recovery`) and the hedge leg's (:mod:`bot.live.hedge`, under its instrument).

:func:`restore_orders` replays the journaled fills and makes the orders known; :func:`catch_up_orders` settles
journaled orders of unknown fate and books the trades made while the bot was down (each trade id once).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.core.display import Steps
from bot.core.inventory import Fill, Inventory
from bot.live.fills import FillIntake
from bot.live.journal import Journal
from bot.live.market import MarketState
from bot.live.orders import LiveOrder, OrderManager

#: s the restart catch-up reads before its start (trades published late)
CATCH_UP_MARGIN = 5.0
#: s between the venue's trade times and our clock that an order closed before the catch-up is still kept for
CLOCK_SLACK = 60.0

#: how a start-up venue call is retried through transient errors: ``retrying(what, call)``
Retrying = Callable[[str, Callable[[], Awaitable[Any]]], Awaitable[Any]]


def catch_up_start(journal: Journal, symbol: str) -> float | None:
    """The wall-clock time (s) from which a restart reads the trades made meanwhile; None: no order journaled."""
    since = journal.catch_up_since(symbol)
    return None if since is None else since - CATCH_UP_MARGIN


def restore_orders(journal: Journal, symbol: str, orders: OrderManager, apply: Callable[[Fill], bool]) -> int:
    """:func:`restore` for any book: ``symbol``'s journaled fills through ``apply`` (True: booked), its orders
    made known to ``orders`` (the hedge leg's rows are under its instrument)."""
    count = 0
    for fill in journal.fills(symbol):
        if apply(fill):
            count += 1
    start = catch_up_start(journal, symbol)
    records = [] if start is None else journal.orders(symbol, active_since=start - CLOCK_SLACK)
    for rec in records:
        orders.tracker.remember(LiveOrder(rec.client_id, rec.side, rec.price, rec.amount,  # type: ignore[arg-type]
                                          rec.amount, 0.0, order_id=rec.order_id, acked=rec.order_id is not None))
    orders.count_from(journal.order_count(symbol))
    return count


async def catch_up_orders(journal: Journal, exchange: Any, symbol: str, orders: OrderManager, inventory: Inventory,
                          state: MarketState, log: Any, shown: Steps, record: Callable[[Fill], bool],
                          retrying: Retrying) -> None:
    """:func:`catch_up` for any book: ``record`` journals a new trade (and books it wherever the caller books
    it: the hedge leg's HedgeBook) before ``inventory`` does."""
    start = catch_up_start(journal, symbol)
    if start is None:
        return
    since_ms = int(start * 1000)
    records = journal.orders(symbol, active_since=start - CLOCK_SLACK)
    fills = FillIntake(exchange, symbol, orders, inventory, state, log, since_ms, record=record)
    for rec in records:
        order = orders.tracker.by_client_id.get(rec.client_id)
        if rec.status == "sent" and rec.order_id is None and order is not None:
            # looked up by client id before the trades are read; the age is the journal's
            fills.on_unknown(order, time.monotonic() - max(0.0, time.time() - rec.created_at))
    before = inventory.fills
    await retrying("catch_up", fills.safety_net_once)
    for rec in records:
        if rec.status != "closed" and rec.client_id not in fills.unresolved:
            orders.tracker.settled_at_start(rec.client_id)  # cancelled at start-up or finished meanwhile
    log.info("journal_caught_up", since_ms=since_ms, new_fills=inventory.fills - before,
             q=shown.position(inventory.q))
