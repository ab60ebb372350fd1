"""The conflated quoting loop of one symbol.

It sleeps on an ``asyncio.Event`` that the book feed sets; on waking it clears the event, reads the
latest :class:`MarketState` (however many books arrived meanwhile), computes ``make_quote``, passes it
through the :class:`RiskGate` and lets the reconciler decide the cancels/creates, which the
:class:`OrderManager` executes before the next wake-up. It also wakes every ``tick`` seconds without a
book, so the staleness watchdog can pull the quotes when the book is older than ``stale_after`` (and
restore them when data returns) and the periodic ``inventory`` event is logged. After a cycle it lets
the order manager look up orders off the book whose fills are overdue (``resolve_settling``).

Estimators: for ``as``/``glft`` with ``use_estimators`` the live sigma and (A, kappa) replace the
configured values once warm; before that the configured values are the fallback, so the bot quotes
from its first book.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from typing import Any

import ccxt

from bot.config import StrategySettings, SymbolSettings
from bot.core.inventory import Inventory
from bot.core.limits import LimitParams
from bot.core.models import ModelParams
from bot.core.pipeline import make_quote
from bot.core.quote import MarketRules, Quote, QuoteInputs
from bot.core.reconcile import Side, Target, Tolerance, reconcile
from bot.live.gate import RiskGate
from bot.live.market import MarketState
from bot.live.orders import OrderManager
from bot.live.turns import call_after_turns
from bot.live.watchdog import IdleWatchdog


def uses_estimators(strategy: StrategySettings) -> bool:
    """Whether the quote model reads the live estimates (sigma, A, kappa): ``as``/``glft`` with
    ``use_estimators``. Otherwise nothing reads them, and the service neither feeds nor subscribes for them."""
    return strategy.use_estimators and strategy.model in ("as", "glft")


class Quoter:
    def __init__(
        self,
        cfg: SymbolSettings,
        rules: MarketRules,
        state: MarketState,
        orders: OrderManager,
        inventory: Inventory,
        gate: RiskGate,
        wake: asyncio.Event,
        log: Any,
        inventory_interval: float = 5.0,
    ) -> None:
        self.symbol = cfg.symbol
        self.model = ModelParams.from_settings(cfg.strategy)
        self.limits = LimitParams.from_settings(cfg.risk, cfg.execution)
        self.use_estimators = uses_estimators(cfg.strategy)
        ex = cfg.execution
        self.tol = Tolerance(rules.tick, ex.requote_ticks, ex.requote_bps, ex.size_tolerance, ex.max_order_age)
        self.rules, self.state, self.orders, self.inventory = rules, state, orders, inventory
        self.gate, self.wake, self.log = gate, wake, log
        self.stale_after = cfg.risk.stale_after
        self.outage_after = cfg.risk.venue_outage_after
        self.inventory_interval = inventory_interval
        self.tick = max(0.05, min(0.5, self.stale_after / 4))
        self.t0 = time.monotonic()
        self.last_quote: Quote | None = None
        self.last_targets: dict[Side, Target | None] | None = None  # after the gate: what should rest
        self.metrics: Any = None  # bot.ops.Metrics, when the service has one
        self._last_book: float | None = None  # arrival (perf_counter) of the book of the previous cycle
        self.cycles = 0
        self._next_inventory_log = self.t0 + inventory_interval
        self.stopped = False

    # -- one decision -----------------------------------------------------------------------------
    def estimates(self, now: float) -> tuple[float | None, float | None, float | None]:
        """(sigma, A, kappa) to use: live estimates when enabled and warm, else None (= fallback)."""
        if not self.use_estimators:
            return None, None, None
        fit = self.state.intensity.estimate(now)
        A, kappa = fit if fit is not None else (None, None)
        return self.state.vol.sigma, A, kappa

    def compute(self, now: float, q: float | None = None) -> Quote | None:
        """The quote for the current book; ``q`` is the inventory (read here when not given)."""
        state = self.state
        mid = state.mid
        if mid is None:
            return None
        sigma, A, kappa = self.estimates(now) if self.use_estimators else (None, None, None)
        # unconfirmed creates and orders off the book with fills still to come are not replaced
        # by this quote: they count (the acked open orders are what this quote replaces)
        open_buy, open_sell = self.orders.tracker.committed_both()
        inputs = QuoteInputs(
            mid, self.inventory.q if q is None else q, state.best_bid, state.best_ask, now - self.t0,
            sigma, A, kappa, open_buy, open_sell,
        )
        return make_quote(inputs, self.model, self.limits, self.rules)

    def watchdog(self, now: float) -> None:
        """Pause on a stale or crossed book or a venue outage; resume when healthy again."""
        gate = self.gate
        age = self.state.age(now)
        # a resume only acts on a pause that is set: with none set (the usual cycle) it is not called
        if age > self.stale_after:
            if gate.pause("stale", f"book {age:.1f}s old") and self.state.updated is not None:
                self.log.warning("feed_stale", age=round(age, 3), stale_after=self.stale_after)
        elif gate.pauses and gate.resume("stale"):
            self.log.info("feed_restored", age=round(age, 3))
        if self.state.crossed:
            if gate.pause("crossed", "crossed or one-sided book"):
                self.log.warning("book_crossed")
        elif gate.pauses and gate.resume("crossed"):
            self.log.info("book_uncrossed")
        failures = self.orders.failures
        if failures >= self.outage_after:
            if gate.pause("venue", f"{failures} venue calls failed in a row"):
                self.log.warning("venue_outage", failures=failures)
        elif failures == 0 and gate.pauses and gate.resume("venue"):
            self.log.info("venue_restored")

    async def cycle(self) -> None:
        now = time.monotonic()
        self.cycles += 1
        self.watchdog(now)
        received, previous = self.state.received, self._last_book
        self._last_book = received
        fresh_book = received if received != previous else None  # a tick without a new book reacts to nothing
        q = self.inventory.q  # one Decimal -> float conversion per cycle
        quote = self.compute(now, q)
        self.last_quote = quote
        targets = self.gate.targets(quote)
        self.last_targets = targets
        mid = self.state.mid
        actions = reconcile(targets, self.orders.tracker.working(), q, now, self.tol)
        if not actions or self.orders.rate.blocked():
            self._report(quote, targets, mid)
            return
        if quote is not None:
            # rendered once the cycle's first request is on the wire (bot/live/turns.py), not before
            paused = sorted(pauses) if (pauses := self.gate.pauses) else None
            call_after_turns(self.orders.entry.wire_turns + 1, self._log_quote, quote, targets, mid, q, paused)
        self.orders.reaction_start = fresh_book
        try:
            # each create is sent only while the data this cycle was decided on is not older than stale_after
            # (the process may freeze, or wait for the order ceiling, between two requests of the cycle)
            born = self.state.updated
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
        buy, sell = targets["buy"], targets["sell"]
        self.log.info(
            "quote", mid=mid, q=q, reservation=quote.reservation, half_spread=quote.half_spread,
            bid=buy and buy.price, ask=sell and sell.price, bid_size=quote.bid_size, ask_size=quote.ask_size,
            bid_reason=quote.bid_reason, ask_reason=quote.ask_reason, paused=paused,
        )

    def inventory_event(self, reason: str) -> dict[str, Any]:
        mid = self.state.mid
        quote = self.last_quote
        fields: dict[str, Any] = {
            "reason": reason,
            "mid": mid,
            "reservation": quote.reservation if quote else None,
            "bid": quote.bid if quote else None,
            "ask": quote.ask if quote else None,
            **self.inventory.snapshot(mid),
            "fills": self.inventory.fills,
            "open_orders": len(self.orders.tracker.open),
        }
        if self.use_estimators:
            sigma, A, kappa = self.estimates(time.monotonic())
            fields.update(sigma=sigma, A=A, kappa=kappa)
        self.log.info("inventory", **fields)
        return fields

    def on_fill(self) -> None:
        self.inventory_event("fill")
        self.wake.set()  # requote at once: the position changed

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
            now = time.monotonic()
            if now >= self._next_inventory_log:
                self._next_inventory_log = now + self.inventory_interval
                self.inventory_event("periodic")
