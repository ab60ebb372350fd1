"""Restart recovery: what a start rebuilds from the journal and the venue before it quotes.

1. :func:`restore`: replay the symbol's journaled fills into its inventory (exact ``q``, the trade ids
   seen) and make known the orders a trade of the catch-up can belong to;
2. :func:`catch_up`: settle journaled orders of unknown fate and book the trades made while the bot was
   down (each trade id once: the journal holds the ones booked before);
3. :func:`set_baseline`: ``q`` is the venue's base balance minus a baseline fixed by the first run of
   this journal; a start whose balance disagrees with the journaled ``q`` beyond
   ``risk.balance_drift_tolerance`` trips the kill.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bot.core.display import Steps, exact
from bot.core.inventory import to_decimal
from bot.live.fills import FillIntake
from bot.live.journal import Journal
from bot.live.orders import LiveOrder

if TYPE_CHECKING:
    from bot.live.symbolrun import SymbolRun

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


def restore(journal: Journal, run: SymbolRun) -> int:
    """Replay this symbol's journaled fills into its inventory and make its orders known; returns fills.

    Known are the orders a trade of the catch-up can belong to (:meth:`Journal.orders` with
    ``active_since``: every unsettled one, and those closed after the catch-up's start less
    :data:`CLOCK_SLACK`): an order closed before that has no trade left to read, so memory at start
    does not grow with the journal's history.
    """
    count = 0
    for fill in journal.fills(run.symbol):
        if run.inventory.apply(fill):
            count += 1
    start = catch_up_start(journal, run.symbol)
    records = [] if start is None else journal.orders(run.symbol, active_since=start - CLOCK_SLACK)
    for rec in records:
        run.orders.tracker.remember(LiveOrder(rec.client_id, rec.side, rec.price, rec.amount,  # type: ignore[arg-type]
                                              rec.amount, 0.0, order_id=rec.order_id, acked=rec.order_id is not None))
    run.orders.count_from(journal.order_count(run.symbol))
    return count


async def catch_up(journal: Journal, exchange: Any, run: SymbolRun, retrying: Retrying) -> None:
    """After a restart: settle journaled orders of unknown fate, then book trades made meanwhile.

    Orders sent but never acknowledged are looked up by client id (found: their order id makes
    their trades ours; not found: they never reached the venue). Trades are fetched from just
    before the oldest unsettled order or the last journaled fill, whichever is earlier, every page
    of them (as the venue pages them: :meth:`bot.venue.adapters.VenueAdapter.trades_since`). Each trade is journaled
    before it is booked. Orders still of unknown fate stay unresolved in the symbol's order ledger, for the
    running fill intake; every other journaled order is closed.
    """
    start = catch_up_start(journal, run.symbol)
    if start is None:
        return
    since_ms = int(start * 1000)
    records = journal.orders(run.symbol, active_since=start - CLOCK_SLACK)
    fills = FillIntake(exchange, run.symbol, run.orders, run.inventory, run.state, run.log, since_ms,
                       record=lambda fill: journal.record_fill(run.symbol, fill))
    for rec in records:
        order = run.orders.tracker.by_client_id.get(rec.client_id)
        if rec.status == "sent" and rec.order_id is None and order is not None:
            # looked up by client id before the trades are read; the age is the journal's
            fills.on_unknown(order, time.monotonic() - max(0.0, time.time() - rec.created_at))
    before = run.inventory.fills
    await retrying("catch_up", fills.safety_net_once)
    for rec in records:
        if rec.status != "closed" and rec.client_id not in fills.unresolved:
            run.orders.tracker.settled_at_start(rec.client_id)  # cancelled at start-up or finished meanwhile
    run.log.info("journal_caught_up", since_ms=since_ms, new_fills=run.inventory.fills - before,
                 q=Steps(run.rules.tick, run.rules.lot).position(run.inventory.q))


def base_total(balance: dict[str, Any], asset: str) -> Decimal:
    """The venue's total balance of ``asset`` in a ccxt balance (0 when absent)."""
    total = (balance.get("total") or {}).get(asset)
    return to_decimal(total) if total is not None else Decimal(0)


def set_baseline(journal: Journal, run: SymbolRun, balance: dict[str, Any], trip_kill: Callable[[str], None]) -> None:
    """Fix ``run.start_base``: the journal's baseline, or (first run of this journal) the venue's base balance
    less the restored ``q``. A drift beyond ``risk.balance_drift_tolerance`` calls ``trip_kill``."""
    venue = base_total(balance, run.market["base"])
    baseline = journal.baseline(run.symbol)
    if baseline is None:
        baseline = venue - run.inventory.q_exact
        journal.set_baseline(run.symbol, run.market["base"], baseline)
    run.start_base = baseline
    drift = venue - baseline - run.inventory.q_exact
    if drift:
        change, q = exact(venue - baseline), exact(run.inventory.q_exact)
        run.log.warning("inventory_drift", venue_change=change, q=q, drift=exact(drift))
        tolerance = run.cfg.risk.balance_drift_tolerance
        if tolerance is not None and abs(drift) > Decimal(str(tolerance)):
            trip_kill(f"{run.symbol}: balance drift {exact(drift)} at start-up: venue change {change} "
                      f"vs journaled inventory {q}")
