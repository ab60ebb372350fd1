"""Restart recovery: what a start rebuilds from the journal and the venue before it quotes.

1. :func:`restore`: replay the symbol's journaled fills into its inventory (exact ``q``, the trade ids
   seen) and make known the orders a trade of the catch-up can belong to;
2. :func:`catch_up`: settle journaled orders of unknown fate and book the trades made while the bot was
   down (each trade id once: the journal holds the ones booked before); :mod:`bot.live.catchup` does both for
   any book (the symbol's here, the hedge leg's under its instrument);
3. :func:`set_baseline`: ``q`` is the venue's base balance minus a baseline fixed by the first run of
   this journal; a start whose balance disagrees with the journaled ``q`` beyond
   ``risk.balance_drift_tolerance`` trips the kill.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bot.core.display import Steps, exact
from bot.core.inventory import to_decimal
from bot.live.catchup import CATCH_UP_MARGIN, CLOCK_SLACK, Retrying, catch_up_orders, catch_up_start, restore_orders
from bot.live.journal import Journal

if TYPE_CHECKING:
    from bot.live.symbolrun import SymbolRun

__all__ = ["CATCH_UP_MARGIN", "CLOCK_SLACK", "Retrying", "base_total", "catch_up", "catch_up_orders", "catch_up_start",
           "restore", "restore_orders", "set_baseline"]


def restore(journal: Journal, run: SymbolRun) -> int:
    """Replay this symbol's journaled fills into its inventory and make its orders known; returns fills.

    Known are the orders a trade of the catch-up can belong to (:meth:`Journal.orders` with
    ``active_since``: every unsettled one, and those closed after the catch-up's start less
    :data:`CLOCK_SLACK`): an order closed before that has no trade left to read, so memory at start
    does not grow with the journal's history.
    """
    return restore_orders(journal, run.symbol, run.orders, run.inventory.apply)


async def catch_up(journal: Journal, exchange: Any, run: SymbolRun, retrying: Retrying) -> None:
    """After a restart: settle journaled orders of unknown fate, then book trades made meanwhile.

    Orders sent but never acknowledged are looked up by client id (found: their order id makes
    their trades ours; not found: they never reached the venue). Trades are fetched from just
    before the oldest unsettled order or the last journaled fill, whichever is earlier, every page
    of them (as the venue pages them: :meth:`bot.venue.adapters.VenueAdapter.trades_since`). Each trade is journaled
    before it is booked. Orders still of unknown fate stay unresolved in the symbol's order ledger, for the
    running fill intake; every other journaled order is closed.
    """
    await catch_up_orders(journal, exchange, run.symbol, run.orders, run.inventory, run.state, run.log,
                          Steps(run.rules.tick, run.rules.lot), lambda fill: journal.record_fill(run.symbol, fill),
                          retrying)


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
