"""The live hedge leg of one spot symbol: offsets its inventory in a USDⓈ-M perpetual (``[hedge]``).

Decisions are the pure core's (:func:`bot.core.hedge.decide`); this shell feeds it and carries them out:

- **wakes** on each booked spot fill (:meth:`HedgeLeg.on_spot_fill`: sets an event, so a burst of fills is one
  wake-up and one decision), on its timer (``interval``), at a cooldown's end and at a post-only timeout;
- **never from stale state**: the position is the leg's own exactly-once fill book (:class:`HedgeBook`, fed by the
  generic fill intake: user stream + REST safety net, each trade id once, journaled before it is booked);
  orders sent and not resolved (open, settling, of unknown fate) count as filled (``in_flight``, from the order
  ledger); the venue's position (``positionRisk``) is only compared: a booked position that differs from it
  with nothing in flight, in two reads ``SETTLE`` s after the last change, pauses hedging (``hedge_mismatch``,
  ``hedge_paused``), never "corrected" by trading; hedging resumes when they agree (``hedge_resumed``);
- **sends** through the generic order path (:class:`bot.live.hedge_orders.HedgeOrders`: journal row before the
  wire under symbol = the instrument, client ids ``<prefix>-h-...``), after the pre-trade check of the hedge
  position limit (:func:`bot.risk.hedge.worst_case_hedge`);
- ``post_then_take``: a post-only order at the own touch; after ``post_timeout`` it is cancelled and the next
  decision takes (IOC at the slippage cap); a post-only order refused for taking takes at once;
- **risk** (:class:`bot.risk.hedge.HedgeRisk`, every ``RISK_EVERY`` s): failures in a row, unhedged exposure
  for too long, basis beyond its band (the leg then only reduces), margin ratio below the floor; each breach
  begins and ends with ``on_breach(breach, action, active)`` (the service kills or pauses the spot symbol);
- **venue reads**: the perp's book (a book feed), ``premiumIndex`` (mark, funding rate, next funding), the
  account (margin ratio), the funding income (each payment booked once, ``funding`` event);
- **dead man's switch**: ``countdownCancelAll`` on the instrument (``risk.dead_man_seconds``), refreshed every
  third, disarmed on a clean stop.

Restart: the journal's rows under the instrument (fills, orders), the leftover orders cancelled, the trades of
the downtime and the orders of unknown fate settled (:mod:`bot.live.recovery`), then the position compared with
the venue's before the first order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

import ccxt

from bot.config import Settings
from bot.core.display import Steps, exact, money
from bot.core.hedge import (
    HedgeDecision,
    HedgeOrder,
    HedgeParams,
    HedgeRules,
    HedgeView,
    decide,
    net_exposure,
    to_lot,
)
from bot.core.hedgebook import HedgeBook, HedgePnl
from bot.core.inventory import Fill, Inventory
from bot.core.quote import MarketRules, Side
from bot.errors import UserError
from bot.live import hedge_venue
from bot.live.catchup import Retrying, catch_up_orders, restore_orders
from bot.live.clock import venue_ms
from bot.live.deadman import FuturesCountdown
from bot.live.entry import RestOrderEntry
from bot.live.feed import BookFeed
from bot.live.fills import FillIntake
from bot.live.gate import KillSwitch
from bot.live.hedge_orders import HedgeOrders
from bot.live.journal import Journal, JournalWriteError
from bot.live.market import MarketState
from bot.live.orders import OpenCheck, OrderHooks
from bot.live.ratelimit import OrderThrottle, RateGate
from bot.live.turns import call_after_turns
from bot.risk.hedge import HedgeBreach, HedgeRisk, worst_case_hedge
from bot.venue.adapters import BINANCE_USDM

SETTLE = 2.0  #: s after the last hedge order or fill before the venue's position must agree with the book
RISK_EVERY = 0.25  #: s between two looks of the risk triggers
MARK_EVERY = 1.0  #: s between two premiumIndex reads (weight 1)
MARGIN_EVERY = 5.0  #: s between two account reads for the margin ratio (weight 5)
#: s between two funding income reads (weight 30: the service gives the futures bucket room for it plus an order,
#: see ``gate_exchange``'s ``largest_read``) besides the one at start and the one just after each funding time passed
FUNDING_EVERY = 900.0
#: s between two passes of the leg's REST safety net at least (the user stream books fills first; a pass reads
#: trades and open orders, weight 6: read weight the venue counts against the leg's budget)
SAFETY_NET_EVERY = 2.0
FUNDING_SETTLE_MS = 2000  #: ms after a funding time before its income is read
FLATTEN_SLIPPAGE_BPS = 100.0  #: the price cap of a flattening IOC, at least this far through the touch

OnBreach = Callable[[HedgeBreach, str, bool], None]


def instrument_of(spot_symbol: str, instrument: str | None) -> str:
    """The perpetual hedging ``spot_symbol``: ``instrument``, else ``BASE/QUOTE:QUOTE``."""
    if instrument:
        return instrument
    base, _, quote = spot_symbol.partition("/")
    return f"{base}/{quote}:{quote}"


@dataclass(frozen=True, slots=True)
class HedgeState:
    """One leg as it stands (plain data for status, console, metrics and the inventory event)."""

    instrument: str
    position: Decimal
    in_flight: Decimal
    net: Decimal
    band: float
    max_position: float
    perp_bid: float | None
    perp_ask: float | None
    perp_mid: float | None
    mark: float | None
    basis_bps: float | None
    funding_rate: float | None
    next_funding_ms: int | None
    margin_ratio: float | None
    pnl: HedgePnl | None
    paused: str | None
    orders_open: int
    last_order_at: float | None
    failures: int
    venue_position: Decimal | None = None
    tick: float = 0.0
    lot: float = 0.0


class HedgeLeg:
    """The hedge leg of one spot symbol (see the module docstring).

    Given at construction: the futures ``exchange`` (markets loaded), its order ``throttler`` and rate ``gate``,
    the ``settings``, the spot symbol with its inventory (``spot_q``) and market state (``spot_state``: its mid
    is each hedge fill's spot mid), the ``journal``, the process's ``kill`` switch, ``on_breach`` (the service's
    risk action) and ``log``.
    """

    def __init__(
        self,
        exchange: Any,
        settings: Settings,
        spot_symbol: str,
        spot_q: Callable[[], Decimal],
        spot_state: MarketState,
        journal: Journal,
        kill: KillSwitch,
        on_breach: OnBreach,
        log: Any,
        throttler: OrderThrottle,
        rate: RateGate,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        cfg = settings.for_symbol(spot_symbol)
        leg = cfg.hedge
        self.stale_after = cfg.risk.stale_after  # the perp's book is stale after as long as the spot's
        self.exchange, self.settings, self.spot_symbol, self.leg = exchange, settings, spot_symbol, leg
        self.instrument = instrument_of(spot_symbol, leg.instrument)
        markets = exchange.markets or {}
        if self.instrument not in markets:
            raise UserError(f"{spot_symbol}: hedge instrument {self.instrument!r} is not listed on the futures venue "
                            f"({settings.hedge.exchange} {settings.hedge.kind})")
        self.market: dict[str, Any] = markets[self.instrument]
        try:
            self.rules = MarketRules.from_ccxt_market(self.market)
        except ValueError as exc:
            raise UserError(f"{self.instrument}: {exc}") from None
        self.shown = Steps(self.rules.tick, self.rules.lot)
        lot = Decimal(repr(self.rules.lot))
        self.hedge_rules = HedgeRules(lot, Decimal(repr(self.rules.min_qty)), self.rules.min_notional, self.rules.tick)
        self.params = HedgeParams(leg.ratio, Decimal(repr(leg.band)), Decimal(repr(leg.min_size)),
                                  Decimal(repr(leg.max_position)), leg.cooldown, leg.style, leg.slippage_bps,
                                  leg.post_timeout, leg.position_mode)
        self.risk = HedgeRisk(Decimal(repr(leg.max_unhedged)), leg.unhedged_seconds, leg.basis_band_bps,
                              leg.min_margin_ratio, leg.max_failures)
        self.spot_q, self.spot_state, self.journal, self.kill = spot_q, spot_state, journal, kill
        self.on_breach, self.log, self.clock = on_breach, log, clock
        self.market_id = str(self.market["id"])
        self.perp = MarketState(self.instrument, estimate=False)
        self.book = HedgeBook()
        # the fill intake's book of the same fills (its trade ids, the safety net's floor); the HedgeBook is the P&L
        self.inventory = Inventory(base=str(self.market["base"]), quote=str(self.market["quote"]))
        self.orders = HedgeOrders(exchange, self.instrument, self.market_id,
                                  f"{cfg.execution.client_id_prefix}-h", throttler, rate, log, post_only=False,
                                  entry=RestOrderEntry(exchange), clock=clock, adapter=BINANCE_USDM,
                                  hooks=OrderHooks(journal=journal, on_error=self._on_error), rules=self.rules)
        self.start_ms = venue_ms(exchange) - 5000
        self.fills = FillIntake(exchange, self.instrument, self.orders, self.inventory, spot_state, log, self.start_ms,
                                on_fill=self._on_booked, record=self._record, clock=clock)
        self.countdown = FuturesCountdown(exchange, self.market_id, settings.risk.dead_man_seconds, log)
        self.wake = asyncio.Event()
        self.stopped = False
        self.paused: str | None = None  # hedging paused (a position mismatch)
        self.taking = False  # post_then_take: the next order takes
        self.posted: tuple[str, float] | None = None  # the resting post-only order (client id, sent at)
        self.last_order_at: float | None = None
        self.last_change = clock()  # the last order sent or fill booked
        self.wake_at: float | None = None
        self.errors = 0  # hedge errors and rejects in a row
        self.mismatches = 0
        self.venue_position: Decimal | None = None
        self.mark: float | None = None
        self.index: float | None = None
        self.funding_rate: float | None = None
        self.next_funding_ms: int | None = None
        self.margin_balance: float | None = None
        self.funding_from_ms = self.start_ms
        self.next_margin_read = 0.0  # monotonic
        self.next_funding_read = 0.0  # monotonic: the backstop
        self.funding_due_ms: int | None = None  # venue ms: a funding time passed, its income is read then
        self.breaches: dict[str, str] = {}  # active breach kind -> detail
        self.last_skip: str | None = None
        self.orders_sent = 0
        # the venue's word at the stop (shutdown): its position and our open hedge orders (None: it did not answer)
        self.end_venue_position: Decimal | None = None
        self.end_open_orders: int | None = None

    # -- what the others read ---------------------------------------------------------------------
    def on_spot_fill(self) -> None:
        """A spot fill was booked: decide soon (a burst of fills sets the event once: one decision)."""
        self.wake.set()

    def in_flight(self) -> Decimal:
        """Signed size of the hedge orders that may still fill (open, settling, of unknown fate), at the lot."""
        ledger = self.orders.tracker
        return to_lot(Decimal(repr(ledger.exposure("buy") - ledger.exposure("sell"))), self.hedge_rules.lot)

    def net_exposure(self) -> Decimal:
        """Spot q x ratio + the booked hedge position (in-flight orders not counted), at the lot."""
        net = net_exposure(self.spot_q(), self.params.ratio, self.book.position, Decimal(0))
        return to_lot(net, self.hedge_rules.lot)

    def basis_bps(self) -> float | None:
        """The perp's mid against the spot mid in bps (else the mark against the index), None unknown."""
        perp, spot = self.perp.mid, self.spot_state.mid
        if perp is not None and spot:
            return (perp / spot - 1.0) * 1e4
        if self.mark is not None and self.index:
            return (self.mark / self.index - 1.0) * 1e4
        return None

    def margin_ratio(self) -> float | None:
        """Margin balance / |position notional| at the mark; None flat or unknown."""
        mark = self.mark if self.mark is not None else self.perp.mid
        if not self.book.position or mark is None or self.margin_balance is None:
            return None
        return self.margin_balance / (abs(float(self.book.position)) * mark)

    @property
    def failures(self) -> int:
        return self.errors + self.orders.failures

    def state(self) -> HedgeState:
        mark = self.mark if self.mark is not None else self.perp.mid
        pnl = self.book.pnl(mark, self.spot_state.mid) if (self.book.fills or self.book.funding) else None
        return HedgeState(
            self.instrument, self.book.position, self.in_flight(), self.net_exposure(), float(self.params.band),
            float(self.params.max_position), self.perp.best_bid, self.perp.best_ask, self.perp.mid, self.mark,
            self.basis_bps(), self.funding_rate, self.next_funding_ms, self.margin_ratio(), pnl,
            self.paused, len(self.orders.tracker.open), self.last_order_at, self.failures, self.venue_position,
            self.rules.tick, self.rules.lot,
        )

    # -- start-up ---------------------------------------------------------------------------------
    async def start(self, retrying: Retrying) -> None:
        """Check the position mode (a mismatch: one-line UserError), set the leverage, restore from the journal,
        cancel leftover hedge orders, catch up the downtime's trades, compare with the venue's position."""
        try:
            dual = await retrying("position_mode", lambda: hedge_venue.dual_side(self.exchange))
        except (ccxt.BaseError, ValueError) as exc:
            raise UserError(f"cannot read the futures position mode: {type(exc).__name__}: {exc}"[:300]) from None
        want = self.params.position_mode == "hedge"
        if dual != want:
            raise UserError(f"{self.instrument}: the futures account is in {'hedge' if dual else 'one-way'} position "
                            f"mode but hedge.position_mode = {self.params.position_mode!r}; change one of them "
                            "(the bot never changes the account's mode)")
        try:
            await retrying("set_leverage", lambda: self.exchange.set_leverage(self.leg.leverage, self.instrument))
        except ccxt.BaseError as exc:
            raise UserError(f"{self.instrument}: cannot set leverage {self.leg.leverage}: {type(exc).__name__}: "
                            f"{exc}"[:300]) from None
        restored = restore_orders(self.journal, self.instrument, self.orders, self._replay)
        check = await self.orders.cancel_all()
        if self.orders.canceled or not check.confirmed:
            self.log.info("leftover_orders_canceled", count=self.orders.canceled, still_open=check.left,
                          confirmed=check.confirmed)
        self.orders.canceled = 0
        await catch_up_orders(self.journal, self.exchange, self.instrument, self.orders, self.inventory,
                              self.spot_state, self.log, self.shown, self._record, retrying)
        try:
            self.venue_position = await retrying("position", lambda: hedge_venue.position(self.exchange,
                                                                                          self.market_id))
        except (ccxt.BaseError, ValueError) as exc:
            raise UserError(f"cannot read the futures position of {self.instrument}: {type(exc).__name__}") from None
        if self.venue_position != self.book.position:
            self._mismatch(self.venue_position)
        try:
            await self.countdown.arm()
        except ccxt.BaseError as exc:
            self.log.warning("dead_man_arm_failed", venue="futures", error=type(exc).__name__, detail=str(exc)[:200])
        self.log.info("hedge_started", instrument=self.instrument, spot=self.spot_symbol,
                      position=self.shown.position(float(self.book.position)),
                      venue_position=self.shown.position(float(self.venue_position)),
                      restored_fills=restored, mode=self.params.position_mode, leverage=self.leg.leverage,
                      ratio=self.params.ratio, band=self.shown.size(float(self.params.band)),
                      max_position=self.shown.size(float(self.params.max_position)), style=self.params.style,
                      paused=self.paused)

    async def wait_ready(self, limit: float) -> bool:
        """Wait (at most ``limit`` s) for the perp's first book, so the leg can act on the first spot fill;
        False (said once: ``hedge_not_ready``) when it did not come: the leg holds until it does."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while self.perp.best_bid is None or self.perp.best_ask is None:
            if loop.time() >= deadline:
                self.log.warning("hedge_not_ready", instrument=self.instrument, waited=limit,
                                 detail="no perp book yet: hedging holds until it comes")
                return False
            await asyncio.sleep(0.02)
        return True

    def _replay(self, fill: Fill) -> bool:
        """A journaled hedge fill at start-up: into the intake's book and the HedgeBook (its spot mid then)."""
        new = self.inventory.apply(fill)
        self.book.apply(fill, fill.mid)
        return new

    # -- fills ------------------------------------------------------------------------------------
    def _record(self, fill: Fill) -> bool:
        """A new hedge trade of ours: its journal row, then the HedgeBook (each trade id once)."""
        try:
            new = self.journal.record_fill(self.instrument, fill)
        except JournalWriteError:
            self.log.error("fill_not_journaled", symbol=self.instrument, trade_id=fill.trade_id, side=fill.side,
                           amount=str(fill.amount))
            new = True  # booked in memory; the next start's catch-up journals it
        if new and self.book.apply(fill, fill.mid):
            self.last_change = self.clock()
            self.log.info("hedge_fill", instrument=self.instrument, trade_id=fill.trade_id, client_id=fill.client_id,
                          side=fill.side, price=self.shown.price(fill.price),
                          amount=self.shown.size(float(fill.amount)), fee=money(fill.fee),
                          fee_currency=fill.fee_currency, position=self.shown.position(float(self.book.position)),
                          spot_mid=self.shown.price(fill.mid, extra=1))
        return new

    def _on_booked(self) -> None:
        if self.posted is not None and self.posted[0] not in self.orders.tracker.open:
            self.posted = None

    def _on_error(self, what: str, exc: BaseException) -> None:
        self.errors += 1
        self.log.warning("hedge_error", instrument=self.instrument, what=what, error=type(exc).__name__,
                         failures=self.failures)

    # -- the decide/act loop ----------------------------------------------------------------------
    def view(self, now: float) -> HedgeView:
        halt = None
        if self.kill.tripped:
            halt = f"killed: {self.kill.reason}"
        elif self.paused is not None:
            halt = f"paused: {self.paused}"
        elif self.perp.silence(now) > self.stale_after:
            halt = "paused: perp book stale"  # (silence: a quiet perp book is not stale from its snapshot on)
        return HedgeView(self.spot_q(), self.book.position, self.in_flight(), self.perp.best_bid, self.perp.best_ask,
                         now, self.last_order_at, halt, "basis" in self.breaches, self.taking)

    async def act(self) -> HedgeDecision | None:
        """One decision, and its order sent; None when nothing was decided (stopped, rate-limited)."""
        if self.stopped or self.orders.rate.blocked():
            return None
        now = self.clock()
        await self._post_timeout(now)
        view = self.view(now)
        decision = decide(self.params, self.hedge_rules, view)
        self.wake_at = decision.wake_at
        order = decision.order
        if order is not None:
            worst = worst_case_hedge(view.position, view.in_flight, order)
            if worst > self.params.max_position:
                decision = HedgeDecision(None, decision.net, "hedge position limit (worst case)")
                order = None
        if order is None:
            if decision.reason != self.last_skip:
                self.last_skip = decision.reason
                self.log.debug("hedge_skipped", instrument=self.instrument, reason=decision.reason,
                               net=self.shown.position(float(decision.net)))
            return decision
        self.last_skip = None
        self.last_order_at = self.last_change = now
        self.taking = False
        self.orders_sent += 1
        call_after_turns(self.orders.entry.wire_turns + 1, self._log_order, order, decision, view)
        live = await self.orders.send(order, decision.reason)
        if live is None:
            if self.orders.would_cross:  # post-only refused for taking: take now
                self.taking = True
                self.last_order_at = None
                self.wake.set()
        else:
            if live.acked:
                self.errors = 0
            if order.post_only and live.client_id in self.orders.tracker.open:
                self.posted = (live.client_id, now)
        return decision

    def _log_order(self, order: HedgeOrder, decision: HedgeDecision, view: HedgeView) -> None:
        self.log.info("hedge_order", instrument=self.instrument, side=order.side,
                      amount=self.shown.size(float(order.amount)), price=self.shown.price(order.price),
                      post_only=order.post_only, reduce_only=order.reduce_only, position_side=order.position_side,
                      net=self.shown.position(float(decision.net)), spot_q=exact(view.spot_q),
                      position=self.shown.position(float(view.position)),
                      in_flight=self.shown.position(float(view.in_flight)), reason=decision.reason)

    async def _post_timeout(self, now: float) -> None:
        """post_then_take: a post-only order resting past ``post_timeout`` is cancelled; the next order takes."""
        if self.posted is None:
            return
        cid, sent = self.posted
        if cid not in self.orders.tracker.open:
            self.posted = None
            return
        if now - sent >= self.params.post_timeout:
            self.posted = None
            self.taking = True
            await self.orders.cancel(cid, "post_timeout")

    def _next_wait(self) -> float:
        now = self.clock()
        wait = self.leg.interval
        if self.wake_at is not None:
            wait = min(wait, max(0.0, self.wake_at - now))
        if self.posted is not None:
            wait = min(wait, max(0.0, self.posted[1] + self.params.post_timeout - now))
        return wait

    async def decide_loop(self) -> None:
        while not self.stopped:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._next_wait()):
                    await self.wake.wait()
            self.wake.clear()
            if self.stopped:
                return
            try:
                await self.act()
                if self.orders.tracker.settling and not self.orders.rate.blocked():
                    await self.orders.resolve_settling()
            except ccxt.BaseError as exc:
                self.log.warning("hedge_cycle_failed", error=type(exc).__name__, detail=str(exc)[:200])
                self.orders.failed("hedge", exc)
                await asyncio.sleep(self.leg.interval)

    # -- venue reads: position, margin, funding, mark ----------------------------------------------
    def _mismatch(self, venue: Decimal) -> None:
        self.log.warning("hedge_mismatch", instrument=self.instrument, book=exact(self.book.position),
                         venue=exact(venue), in_flight=exact(self.in_flight()))
        if self.paused is None:
            self.paused = "position mismatch"
            self.log.warning("hedge_paused", instrument=self.instrument, reason=self.paused,
                             book=exact(self.book.position), venue=exact(venue))

    def reconcile_position(self, venue: Decimal, now: float) -> None:
        """Compare the venue's position with the book's (see the module docstring)."""
        self.venue_position = venue
        ledger = self.orders.tracker
        if venue == self.book.position:
            self.mismatches = 0
            if self.paused is not None:
                self.log.info("hedge_resumed", instrument=self.instrument, position=exact(venue))
                self.paused = None
                self.wake.set()
            return
        quiet = not ledger.open and not ledger.settling and not ledger.unresolved and not ledger.held
        if not quiet or now - self.last_change < SETTLE:
            self.mismatches = 0
            return
        self.mismatches += 1
        if self.mismatches >= 2 and (self.paused is None or self.mismatches == 2):
            self._mismatch(venue)

    async def venue_once(self) -> None:
        """One read of the position (reconciled); the margin balance every ``MARGIN_EVERY`` s; the funding income
        at start, once each funding time has passed (``FUNDING_SETTLE_MS`` later) and every ``FUNDING_EVERY`` s
        (each payment booked once, by its income id): the income endpoint weighs 30."""
        now = self.clock()
        venue = await hedge_venue.position(self.exchange, self.market_id)
        self.reconcile_position(venue, now)
        if now >= self.next_margin_read:
            self.margin_balance = await hedge_venue.margin_balance(self.exchange)
            self.next_margin_read = now + MARGIN_EVERY
        due = self.funding_due_ms is not None and venue_ms(self.exchange) >= self.funding_due_ms
        if due or now >= self.next_funding_read:
            await self.funding_once()
            self.next_funding_read = now + FUNDING_EVERY

    async def funding_once(self) -> None:
        """Book the funding payments since the last one read (each once); the next read is due just after the
        next funding time."""
        nxt = self.next_funding_ms
        self.funding_due_ms = None if nxt is None else nxt + FUNDING_SETTLE_MS
        for pay in await hedge_venue.funding_since(self.exchange, self.market_id, self.funding_from_ms):
            self.funding_from_ms = max(self.funding_from_ms, pay.time_ms)
            if self.book.apply_funding(pay.income_id, pay.amount, pay.time_ms / 1000.0):
                self.log.info("funding", instrument=self.instrument, amount=money(pay.amount),
                              rate=self.funding_rate, position=self.shown.position(float(self.book.position)),
                              income_id=pay.income_id, time_ms=pay.time_ms, total=money(self.book.funding))

    async def mark_once(self) -> None:
        p = await hedge_venue.premium(self.exchange, self.market_id)
        self.mark, self.index, self.funding_rate, self.next_funding_ms = p.mark, p.index, p.funding_rate, \
            p.next_funding_ms
        if self.funding_due_ms is None and p.next_funding_ms is not None:
            self.funding_due_ms = p.next_funding_ms + FUNDING_SETTLE_MS

    async def _every(self, op: str, seconds: float, call: Callable[[], Awaitable[None]]) -> None:
        while not self.stopped:
            if not self.orders.rate.blocked():
                try:
                    await call()
                except (ccxt.DDoSProtection, ccxt.RateLimitExceeded) as exc:
                    self.orders.rate_limited(op, exc)
                except (ccxt.BaseError, ValueError) as exc:
                    self.log.warning("hedge_read_failed", op=op, error=type(exc).__name__, detail=str(exc)[:200])
                    if isinstance(exc, ccxt.BaseError):
                        self.orders.failed(op, exc)
                else:
                    self.orders.venue_answered()
            await asyncio.sleep(seconds)

    # -- risk -------------------------------------------------------------------------------------
    def risk_once(self, now: float) -> list[HedgeBreach]:
        """Look at the triggers once: each breach that begins or ends goes to ``on_breach``."""
        net = self.net_exposure()
        limit_net = to_lot(net + self.in_flight(), self.hedge_rules.lot)
        found = self.risk.observe(now, net, limit_net, self.basis_bps(), self.margin_ratio(), self.failures)
        hedge = self.settings.hedge
        actions = {"failure": hedge.on_failure, "unhedged": hedge.on_unhedged, "basis": hedge.on_basis,
                   "margin": hedge.on_margin}
        kinds = {b.kind: b for b in found}
        for kind, breach in kinds.items():
            if kind not in self.breaches:
                self.breaches[kind] = breach.detail
                self.log.warning("hedge_breach", instrument=self.instrument, kind=kind, detail=breach.detail,
                                 action=actions[kind], active=True)
                self.on_breach(breach, actions[kind], True)
        for kind in [k for k in self.breaches if k not in kinds]:
            del self.breaches[kind]
            self.log.info("hedge_breach", instrument=self.instrument, kind=kind, detail="cleared",
                          action=actions[kind], active=False)
            self.on_breach(HedgeBreach(kind, "cleared"), actions[kind], False)  # type: ignore[arg-type]
        return found

    async def risk_loop(self) -> None:
        while not self.stopped:
            await asyncio.sleep(RISK_EVERY)
            self.risk_once(self.clock())

    # -- the tasks --------------------------------------------------------------------------------
    def tasks(self) -> list[tuple[str, Awaitable[None]]]:
        """The leg's loops, by name: decide/act, the perp's book, the user stream (trades, orders), the REST
        safety net, the lookups of orders of unknown fate, venue reads, mark reads, risk, the countdown."""
        interval = self.settings.execution.reconcile_interval
        feed = BookFeed(self.exchange, self.instrument, self.perp, asyncio.Event(), self.log,
                        resubscribe_after=max(2.0 * self.stale_after, 5.0), on_reconnect=self.fills.on_reconnect)
        out: list[tuple[str, Awaitable[None]]] = [
            ("hedge_decide", self.decide_loop()),
            ("hedge_book", feed.run()),
            ("hedge_my_trades", self.fills.watch_trades()),
            ("hedge_orders", self.fills.watch_orders()),
            ("hedge_reconcile", self.fills.safety_net_loop(max(interval, SAFETY_NET_EVERY))),
            ("hedge_resolve", self.fills.resolve_loop(cap=interval)),
            ("hedge_venue", self._every("hedge_venue", interval, self.venue_once)),
            ("hedge_mark", self._every("premium_index", MARK_EVERY, self.mark_once)),
            ("hedge_risk", self.risk_loop()),
        ]
        if self.countdown.armed:
            out.append(("hedge_countdown", self.countdown.run()))
        return out

    # -- stop, kill, flatten ----------------------------------------------------------------------
    def stop(self) -> None:
        """No more decisions (the loop ends at its next wake-up)."""
        self.stopped = True
        self.wake.set()

    async def cancel_all(self) -> OpenCheck:
        """Cancel every hedge order of ours until the venue confirms none is open (see OrderManager.cancel_all)."""
        return await self.orders.cancel_all()

    async def flatten(self) -> None:
        """After a kill with ``flatten_on_kill``: one IOC order taking the booked position to 0 at a wide cap."""
        pos = self.book.position + self.in_flight()
        amount = to_lot(abs(pos), self.hedge_rules.lot, ROUND_DOWN)
        if amount <= 0 or amount < self.hedge_rules.min_qty:
            return
        side: Side = "sell" if pos > 0 else "buy"
        touch = self.perp.best_bid if side == "sell" else self.perp.best_ask
        touch = touch if touch is not None else self.mark
        if touch is None:
            self.log.error("flatten_failed", instrument=self.instrument, error="no_price", detail="no touch, no mark")
            return
        slip = max(self.params.slippage_bps, FLATTEN_SLIPPAGE_BPS) / 1e4
        raw = touch * (1 + slip) if side == "buy" else touch * (1 - slip)
        tick = self.rules.tick
        price = round(round(raw / tick) * tick, 12)
        hedge_mode = self.params.position_mode == "hedge"
        order = HedgeOrder(side, amount, price, False, not hedge_mode,
                           ("LONG" if pos > 0 else "SHORT") if hedge_mode else None)
        try:
            live = await self.orders.send(order, "flatten")
        except ccxt.BaseError as exc:
            self.log.error("flatten_failed", instrument=self.instrument, error=type(exc).__name__,
                           detail=str(exc)[:200])
            return
        self.log.warning("flatten", instrument=self.instrument, side=side, amount=self.shown.size(float(amount)),
                         position=exact(pos), order_id=None if live is None else live.order_id)
        with contextlib.suppress(ccxt.BaseError):
            await self.fills.safety_net_once()

    async def shutdown(self, flatten: bool, deadline: float) -> OpenCheck:
        """Stop deciding; cancel every hedge order (within ``deadline``, monotonic); flatten when asked; book the
        last fills; disarm the countdown when none is open; read the final venue position (``hedge_stopped``)."""
        self.stop()
        check = OpenCheck(len(self.orders.tracker.open), confirmed=False)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(1.0, deadline - time.monotonic())):
                check = await self.cancel_all()
        with contextlib.suppress(ccxt.BaseError, TimeoutError):
            async with asyncio.timeout(10.0):
                await self.fills.safety_net_once()
        if flatten:
            await self.flatten()
            with contextlib.suppress(TimeoutError, ccxt.BaseError):
                async with asyncio.timeout(10.0):
                    check = await self.cancel_all()
        if self.fills.unresolved:
            self.orders.tracker.keep_unresolved()
        if check.confirmed and check.left == 0 and not self.kill.tripped:
            await self.countdown.disarm()
        elif self.countdown.armed:
            self.log.warning("dead_man_left_armed", venue="futures", timeout=self.countdown.timeout)
        venue: Decimal | None = None
        with contextlib.suppress(ccxt.BaseError, ValueError, TimeoutError):
            async with asyncio.timeout(5.0):
                venue = await hedge_venue.position(self.exchange, self.market_id)
                self.venue_position = self.end_venue_position = venue
        self.end_open_orders = check.left if check.confirmed else None
        mark = self.mark if self.mark is not None else self.perp.mid
        pnl = self.book.pnl(mark, self.spot_state.mid)
        self.log.info("hedge_stopped", instrument=self.instrument, position=exact(self.book.position),
                      venue_position=None if venue is None else exact(venue), open_orders=check.left,
                      confirmed=check.confirmed, orders_sent=self.orders_sent, fills=self.book.fills,
                      pnl={"hedge": money(pnl.hedge), "basis": money(pnl.basis), "funding": money(pnl.funding),
                           "fees": money(pnl.fees), "total": money(pnl.total)})
        return check
