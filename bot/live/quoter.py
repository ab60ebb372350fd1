"""The conflated quoting loop of one symbol: it waits, asks the decision layer, and executes.

It sleeps on an ``asyncio.Event`` that the book feed sets (and wakes every ``heartbeat`` seconds without one);
on waking it applies the pauses :func:`bot.core.strategy.pauses` names to the :class:`RiskGate` (logging each
change), asks the strategy's wake rule whether a decision is due and, when it is, lets
:func:`bot.core.strategy.decide` turn the latest :class:`MarketState` (however many books arrived meanwhile),
``q``, the committed size and the pauses into targets, which the reconciler turns into the cancels/creates the
:class:`OrderManager` executes before the next wake-up. After a cycle it lets the order manager look up orders
off the book whose fills are overdue (``resolve_settling``). Every rule of the decision lives in
:mod:`bot.core.strategy`, which the backtest drives the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from typing import Any

import ccxt

from bot.core.display import Steps, plain
from bot.core.inventory import Inventory
from bot.core.quote import Quote, QuoteInputs, Side
from bot.core.reconcile import Target, reconcile
from bot.core.strategy import (
    CROSSED,
    STALE,
    VENUE,
    Decision,
    StrategyParams,
    Wake,
    decide,
    estimates,
    halt_reason,
    paused,
    pauses,
)
from bot.live.gate import EXTERNAL, RiskGate
from bot.live.market import MarketState
from bot.live.orders import OrderManager
from bot.live.turns import call_after_turns
from bot.live.watchdog import IdleWatchdog


class Quoter:
    def __init__(
        self,
        symbol: str,
        params: StrategyParams,
        state: MarketState,
        orders: OrderManager,
        inventory: Inventory,
        gate: RiskGate,
        wake: asyncio.Event,
        log: Any,
        inventory_interval: float = 5.0,
        metrics: Any = None,
        clock: Callable[[], float] = time.monotonic,
        on_decision: Callable[[float, Decision], None] | None = None,
        position: Callable[[], float] | None = None,
        hedge_report: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.symbol = symbol
        self.params = params
        self.shown = Steps(params.rules.tick, params.rules.lot)  # how events show this symbol's prices and sizes
        self.use_estimators = params.estimates_read
        self.state, self.orders, self.inventory = state, orders, inventory
        self.gate, self.wake, self.log = gate, wake, log
        self.inventory_interval = inventory_interval
        self.tick = self.params.heartbeat
        self.clock = clock
        self.t0 = clock()
        self.wake_rule = Wake(self.params.heartbeat)
        self.on_decision = on_decision
        # the q the quotes skew on: the inventory's, or (hedge.skew_on = "net") the net exposure / ratio
        self.position = position
        self.hedge_report = hedge_report  # the hedge leg's fields of the inventory event, when it has one
        self.last_quote: Quote | None = None
        self.last_targets: dict[Side, Target | None] | None = None  # after the gate: what should rest
        self.metrics = metrics  # bot.ops.Metrics, when the service has one
        self._last_book: float | None = None  # arrival (perf_counter) of the book of the previous cycle
        self.cycles = 0
        self._next_inventory_log = self.t0 + inventory_interval
        self.stopped = False

    # -- one decision -----------------------------------------------------------------------------
    def estimates(self, now: float) -> tuple[float | None, float | None, float | None]:
        """(sigma, A, kappa) to use: live estimates when enabled and warm, else None (= fallback)."""
        return estimates(self.params, self.state.vol, self.state.intensity, now)

    def decide(self, now: float, q: float, halt: str | None) -> Decision:
        """The decision for the current book and ``q`` (see :func:`bot.core.strategy.decide`)."""
        state = self.state
        mid = state.mid
        if mid is None:
            return decide(self.params, None, halt)
        sigma, A, kappa = self.estimates(now)
        # unconfirmed creates and orders off the book with fills still to come are not replaced by this
        # quote: they count (bot.core.strategy.committed)
        open_buy, open_sell = self.orders.tracker.committed_both()
        inputs = QuoteInputs(mid, q, state.best_bid, state.best_ask, now - self.t0, sigma, A, kappa,
                             open_buy, open_sell)
        return decide(self.params, inputs, halt)

    def watchdog(self, now: float) -> None:
        """Set the pauses that hold now (:func:`bot.core.strategy.pauses`) on the gate and clear the others
        (a venue outage only once a call succeeded; the operator's pause only by ``POST /resume``), logging each
        change."""
        gate, state = self.gate, self.state
        age, crossed, failures = state.age(now), state.crossed, self.orders.failures
        if not gate.pauses and not paused(self.params, age, crossed, failures):
            return  # the usual cycle: nothing held, nothing to clear
        held = pauses(self.params, age, crossed, failures)
        for key, detail in held.items():
            if gate.pause(key, detail):
                self._log_pause(key, now, begins=True)
        if gate.pauses:
            for key in [k for k in gate.pauses if k not in held and k not in EXTERNAL]:  # POST /resume, the hedge
                if key == VENUE and self.orders.failures:
                    continue
                gate.resume(key)
                self._log_pause(key, now, begins=False)

    def _log_pause(self, key: str, now: float, begins: bool) -> None:
        if key == STALE:
            if not begins:
                self.log.info("feed_restored", age=round(self.state.age(now), 3))
            elif self.state.updated is not None:  # waiting for the first book is not a pause
                self.log.warning("feed_stale", age=round(self.state.age(now), 3), stale_after=self.params.stale_after)
        elif key == CROSSED:
            if begins:
                self.log.warning("book_crossed")
            else:
                self.log.info("book_uncrossed")
        elif begins:
            self.log.warning("venue_outage", failures=self.orders.failures)
        else:
            self.log.info("venue_restored")

    async def cycle(self) -> None:
        now = self.clock()
        self.cycles += 1
        self.watchdog(now)
        state = self.state
        received, previous = state.received, self._last_book
        self._last_book = received
        fresh_book = received if received != previous else None  # a tick without a new book reacts to nothing
        q = self.inventory.q if self.position is None else self.position()  # one Decimal -> float per cycle
        halt = halt_reason(self.gate.kill.reason, self.gate.pauses)
        bid, ask = state.best_bid, state.best_ask
        if not self.wake_rule.due(now, bid, ask, q, halt is not None):
            return
        decision = self.decide(now, q, halt)
        quote = decision.quote
        self.last_quote = quote
        targets = decision.targets
        self.last_targets = targets
        mid = state.mid
        actions = reconcile(targets, self.orders.tracker.working(), q, now, self.params.tolerance)
        self.wake_rule.decided(now, bid, ask, q, halt is not None, bool(actions))
        if self.on_decision is not None:
            self.on_decision(now, decision)
        if not actions or self.orders.rate.blocked():
            self._report(quote, targets, mid)
            return
        if quote is not None:
            # rendered once the cycle's first request is on the wire (bot/live/turns.py), not before
            paused = sorted(held) if (held := self.gate.pauses) else None
            call_after_turns(self.orders.entry.wire_turns + 1, self._log_quote, quote, targets, mid, q, paused)
        self.orders.reaction_start = fresh_book
        try:
            # each create is sent only while the data this cycle was decided on is not older than stale_after
            # (the process may freeze, or wait for the order ceiling, between two requests of the cycle)
            born = state.updated
            await self.orders.execute(actions, mid, quote.half_spread if quote else None,
                                      data_time=-math.inf if born is None else born)
        finally:
            self._report(quote, targets, mid)  # nothing waits for the metrics: after the venue calls

    def _report(self, quote: Quote | None, targets: dict[Side, Target | None], mid: float | None) -> None:
        """The decision's metrics (desired bid/ask, sizes, centre, the mid it was made at)."""
        if quote is not None and mid is not None and self.metrics is not None:
            buy, sell = targets["buy"], targets["sell"]
            self.metrics.on_quote(self.symbol, buy.price if buy else None, sell.price if sell else None,
                                  mid, quote.reservation, buy.amount if buy else None,
                                  sell.amount if sell else None)

    # -- logging ----------------------------------------------------------------------------------
    def _log_quote(
        self, quote: Quote, targets: dict[Side, Target | None], mid: float | None, q: float, paused: list[str] | None
    ) -> None:
        """The ``quote`` event: prices at the tick (model values 2 digits finer), sizes at the lot (``q`` keeps a
        base fee's dust below it, as the inventory event); a side's reason and the fee floor (the half-spread's
        lower bound at this centre) only when there is one."""
        buy, sell, shown = targets["buy"], targets["sell"], self.shown
        fields: dict[str, Any] = {
            "mid": shown.price(mid, 1), "q": shown.position(q), "reservation": shown.price(quote.reservation, 2),
            "half_spread": shown.price(quote.half_spread, 2),
            "bid": shown.price(buy.price if buy else None), "ask": shown.price(sell.price if sell else None),
            "bid_size": shown.size(quote.bid_size), "ask_size": shown.size(quote.ask_size),
        }
        floor = self.params.model.half_floor(quote.reservation)  # 0 without a fee or an edge
        if floor > 0.0:
            fields["fee_floor"] = shown.price(floor, 2)
        if quote.bid_reason is not None:
            fields["bid_reason"] = quote.bid_reason
        if quote.ask_reason is not None:
            fields["ask_reason"] = quote.ask_reason
        if paused:
            fields["paused"] = paused
        self.log.info("quote", **fields)

    def inventory_event(self, reason: str) -> dict[str, Any]:
        """The ``inventory`` event: the position and the P&L's components marked to the mid
        (:meth:`bot.core.inventory.Inventory.report`: spread captured, of which given up to skew, inventory
        mark-to-market, fees net of rebates, their total; the markouts per horizon with their counts and bps; with
        a hedge leg its position, the net exposure, the basis and its P&L split:
        :func:`bot.ops.hedgeview.hedge_event_fields`); prices at the tick, sizes at the lot, money to 4 decimals."""
        mid = self.state.mid
        quote = self.last_quote
        shown = self.shown
        fields: dict[str, Any] = {
            "reason": reason,
            "mid": shown.price(mid, 1),
            "reservation": shown.price(quote.reservation, 2) if quote else None,
            "bid": shown.price(quote.bid) if quote else None,
            "ask": shown.price(quote.ask) if quote else None,
            **self.inventory.report(mid, shown.tick, shown.lot),
            "fills": self.inventory.fills,
            "open_orders": len(self.orders.tracker.open),
        }
        if self.hedge_report is not None:
            fields.update(self.hedge_report())
        if self.use_estimators:
            sigma, A, kappa = self.estimates(self.clock())
            fields.update(sigma=plain(sigma), A=plain(A), kappa=plain(kappa))
        self.log.info("inventory", **fields)
        return fields

    def on_fill(self) -> None:
        """Requote at once (the position changed); the ``inventory`` event follows a few event-loop turns later,
        after the first requests this fill causes (this requote, the hedge leg's order) are on the wire."""
        self.wake.set()
        call_after_turns(self.orders.entry.wire_turns + 1, self.inventory_event, "fill")

    # -- the loop ---------------------------------------------------------------------------------
    async def run(self) -> None:
        idle = IdleWatchdog(self.tick)  # wake at least every tick: one timer per tick, not one per cycle
        try:
            await self._loop(idle)
        finally:
            idle.close()

    async def _loop(self, idle: IdleWatchdog) -> None:
        while not self.stopped:
            with contextlib.suppress(TimeoutError):
                await idle.call(self.wake.wait)
            if self.stopped:
                return
            self.wake.clear()
            try:
                await self.cycle()
                if self.orders.tracker.settling and not self.orders.rate.blocked():
                    await self.orders.resolve_settling()
            except ccxt.BaseError as exc:  # a venue error the order manager did not classify: next cycle
                self.log.warning("cycle_failed", error=type(exc).__name__, detail=str(exc)[:200])
                await asyncio.sleep(self.tick)
            now = self.clock()
            if now >= self._next_inventory_log:
                self._next_inventory_log = now + self.inventory_interval
                self.inventory_event("periodic")
