"""The live quoting service: connect, check, quote every symbol, shut down cleanly, summarise.

Start-up: resolve the venue (:mod:`bot.live.endpoint`: an in-process simulated exchange when
``venue.kind = "sim"`` and no ``venue.url``; a running sim at ``venue.url``; a ccxt sandbox for ``testnet``;
a public feed with local fills for ``paper``, configured by ``settings.paper``), create the ccxt exchange with
:func:`bot.venue.connect.create_exchange`, load markets, then check every symbol exists, the keys work
and the balance covers one order per side (each failure is a one-line :class:`~bot.errors.UserError`).
Each symbol's maker fee is resolved before its quoter is built (:mod:`bot.live.makerfee`: config, else the
venue's account rate, else the ccxt market's) and logged once (``maker_fee``; ``spread_below_fee_floor``
when the configured half-spread is below the fee floor at the start-up mid).
Our leftover orders (client id starting with ``<prefix>-``) are cancelled; restart recovery
(:mod:`bot.live.recovery`) restores the journal, books the trades made meanwhile and fixes the baseline: the
bot's inventory ``q`` is the change of the base balance since the journal's first run. From then on
the code path is the same for every venue.

Run: per symbol one book feed, one trade feed, two user-stream consumers, a REST reconciliation loop and
the conflated quoter, all sharing one throttler and rate gate. Stop on :meth:`Service.request_stop`
(the command wires SIGINT/SIGTERM to it), at ``duration``, or when a task dies (the kill switch trips).

Shutdown: stop quoting, cancel every order of ours until the venue confirms none is open, reconcile the
last fills over REST, read the final balances, close the connection and return a :class:`RunSummary`.

Hedging (``[hedge] enabled``): a futures client for the hedge endpoint (:func:`bot.live.endpoint.hedge_endpoint`,
:func:`bot.venue.connect.create_futures_exchange`) with its own order ceiling and rate gate; one
:class:`~bot.live.hedge.HedgeLeg` per symbol (``SymbolRun.hedge``), started after the spot symbols are ready
and before quoting; each booked spot fill wakes it (``on_spot_fill``, before the quoter's wake-up); with
``hedge.skew_on = "net"`` the quoter skews on the net exposure / ratio. A hedge breach with action "kill" trips
the kill (``hedge: ...``), with "pause" pauses the spot symbol's quoting (gate pause ``hedge``) while it lasts.
The stop (and the kill) cancels on both venues; with the kill and ``risk.flatten_on_kill`` both are flattened.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import ccxt
import structlog

import bot
from bot.config import Settings
from bot.core.display import plain_text
from bot.core.inventory import Fill, Inventory
from bot.core.quote import MarketRules, Side
from bot.core.strategy import StrategyParams, make_estimators, uses_estimators
from bot.errors import UserError
from bot.live.clock import ClockSync, venue_ms
from bot.live.deadman import DeadMan
from bot.live.endpoint import Endpoint, hedge_endpoint, open_endpoint, require_keys
from bot.live.entry import OrderEntry, make_order_entry
from bot.live.feed import Backoff, BookFeed, TradeFeed
from bot.live.fills import FillIntake, fill_recorder
from bot.live.gate import HEDGE, KillSwitch, RiskGate
from bot.live.guard import Guard, Tripwires
from bot.live.hedge import HedgeLeg, instrument_of
from bot.live.journal import Journal, JournalError, Latch, journal_for, refuse_if_latched
from bot.live.makerfee import fee_report, resolve_fee
from bot.live.market import MarketState
from bot.live.orders import OpenCheck, OrderHooks, OrderManager, make_throttler
from bot.live.quoter import Quoter
from bot.live.ratelimit import RATE_LIMITED, RateGate, gate_exchange
from bot.live.recovery import base_total, catch_up, restore, set_baseline
from bot.live.summary import RunSummary, symbol_summary
from bot.live.symbolrun import RunView, SymbolRun
from bot.live.telemetry import ServiceOps
from bot.live.turns import call_after_turns
from bot.logs import get_logger
from bot.ops import Metrics
from bot.ops.hedgeview import hedge_event_fields
from bot.risk.hedge import HedgeBreach
from bot.venue.adapters import BINANCE_USDM, adapter_for

#: what the next start does about writes the journal refused (the summary and ``journal_incomplete`` say it)
JOURNAL_CATCH_UP = ("fills booked only in memory are read again from the venue's trades by the next start's "
                    "catch-up and journaled then (each trade id once)")

Touch = tuple[float | None, float | None]  # (best bid, best ask) read once at start-up


def console_tap(run: SymbolRun, record: Callable[[Fill], bool]) -> Callable[[Fill], bool]:
    """``record`` that also puts each new fill on the run's tape (the console's markers: trade time, or now when
    the venue gave none; price at the tick, size at the lot)."""
    shown = run.orders.shown

    def tap(fill: Fill) -> bool:
        new = record(fill)
        if new:
            run.tape.add({"t": round(fill.timestamp or time.time(), 3), "side": fill.side,
                          "price": shown.price(fill.price), "amount": shown.size(float(fill.amount)),
                          "id": fill.trade_id})
        return new

    return tap


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."


class Service:
    """One run of the bot over ``settings.venue.symbols``."""

    def __init__(self, settings: Settings, duration: float | None = None,
                 announce: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.duration = duration
        self.log = get_logger(component="service")
        self.kill = KillSwitch(on_trip=self._on_kill)
        self.stop_event = asyncio.Event()
        self.stop_reason = ""
        self.throttler = make_throttler(settings.execution.orders_per_second)
        self.rate = RateGate(on_limit=self._on_rate_limit)
        # the kill triggers told as things happen (errors, pauses): the gates and order managers get them
        self.tripwires = Tripwires(settings.risk, self.trip_kill, self.log)
        self.runs: list[SymbolRun] = []
        self.exchange: Any = None
        self.entry: OrderEntry | None = None  # how creates and cancels are sent (set on connecting)
        self.clock: ClockSync | None = None  # the clock offset to the venue (set on connecting)
        self.endpoint: Endpoint | None = None
        self.started_at = 0.0
        self.quoting = False  # from the start of quoting on, a write the journal refuses trips the kill
        self.journal: Journal | None = None
        self.latch: Latch | None = None  # where the kill was latched (set when it trips)
        self.guard: Guard | None = None
        self.deadman: DeadMan | None = None
        self.side_tasks: list[asyncio.Task[Any]] = []
        self.metrics = Metrics()
        # the hedge leg's futures venue (settings.hedge.enabled): its client, order ceiling and rate gate
        self.futures: Any = None
        self.hedge_throttler = make_throttler(settings.execution.orders_per_second)
        self.hedge_rate = RateGate(on_limit=self._on_rate_limit)
        # the ops server (settings.ops) and console, started by run(); ``announce`` tells the operator its URL
        self.ops = ServiceOps(self, self.metrics, announce)

    def trip_kill(self, reason: str) -> None:
        """The kill action: journal the kill (the latch) first, then stop quoting and shut down.

        Shutdown cancels every order until the venue confirms none is open, flattens when
        ``risk.flatten_on_kill``, and the run ends with exit code 1; later starts refuse to quote
        until ``mmbot reset-kill``. When the journal cannot take the latch it goes to the latch file next
        to it, and when that fails too the kill still happens and the event and summary say "NOT LATCHED".
        """
        self.kill.trip(reason)  # -> _on_kill, also when another component trips ``self.kill`` directly

    def _on_kill(self, reason: str) -> None:
        try:
            state = self.guard.state() if self.guard is not None else {}
            latch = self.journal.latch(reason, state) if self.journal is not None else Latch("none", "NOT LATCHED")
            self.latch = latch
            self.log.error("kill_switch", reason=reason, state=state, latch=latch.where, latch_note=latch.note)
        finally:  # whatever happened above, the kill acts
            for run in self.runs:
                run.wake.set()
            self.request_stop("kill")

    def _on_journal_failed(self, op: str, line: str) -> None:
        """The journal refused a write mid-run (disk full, read-only): without it the bot cannot promise
        exactly-once, so the kill switch trips with the journal's line as the reason. Before quoting began
        a refused write ends the start instead (a JournalError: one line, exit 2)."""
        if not self.quoting:
            return
        self.log.error("journal_failed", op=op, path=str(self.journal.path if self.journal else ""), error=line)
        self.trip_kill(line)

    def _on_rate_limit(self, op: str, exc: BaseException, pause: float, hint: float | None) -> None:
        """Every rate-limit answer, from whichever REST call met it: logged, counted, a ban trips the kill."""
        self.metrics.on_backoff("rate_limit")
        self.log.warning("rate_limited", op=op, error=type(exc).__name__, backoff=round(pause, 3),
                         venue_hint=None if hint is None else round(hint, 3), hits=self.rate.hits)
        if self.guard is not None:
            self.guard.on_rate_limit(op, exc)

    def request_stop(self, reason: str = "signal") -> None:
        if not self.stop_event.is_set():
            self.stop_reason = reason
            self.log.info("shutdown_requested", reason=reason)
            self.stop_event.set()

    # -- start-up ---------------------------------------------------------------------------------
    async def _retrying(self, what: str, call: Callable[[], Awaitable[Any]], attempts: int = 5) -> Any:
        """Start-up calls survive transient network errors (5xx, timeouts) with backoff; after a rate-limit
        answer the retry just waits for the gate (the exchange layer holds it until the gate opens)."""
        backoff = Backoff(base=0.5, cap=8.0)
        for attempt in range(1, attempts + 1):
            try:
                return await call()
            except ccxt.NetworkError as exc:
                if attempt == attempts:
                    raise
                if isinstance(exc, RATE_LIMITED):
                    self.rate.limited(what, exc)  # counted once: the exchange layer has usually done it
                    delay = max(0.0, self.rate.until - time.monotonic())
                else:
                    delay = backoff.delay(attempt)
                self.log.warning("startup_retry", call=what, error=type(exc).__name__, attempt=attempt,
                                 retry_in=round(delay, 3))
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _connect(self, endpoint: Endpoint) -> None:
        from bot.venue.connect import create_exchange

        try:
            self.exchange = create_exchange(
                endpoint.kind, endpoint.exchange_id, endpoint.url, endpoint.api_key, endpoint.api_secret,
                endpoint.password, paper=getattr(self.settings, "paper", None),
            )
        except (ccxt.BaseError, ValueError, AttributeError) as exc:
            raise UserError(f"cannot set up venue {endpoint.exchange_id} ({endpoint.kind}): {_describe(exc)}") from None
        gate_exchange(self.exchange, self.rate)  # every REST request waits while the gate is closed
        self.clock = ClockSync(self.exchange, self.log)
        self.entry = make_order_entry(self.settings.venue.order_entry, self.exchange, self.rate)
        where = endpoint.url or f"{endpoint.exchange_id} {endpoint.kind}"
        try:
            await self._retrying("load_markets", self.exchange.load_markets)
        except ccxt.AuthenticationError as exc:
            raise UserError(f"the venue rejected the API keys ({where}): {_describe(exc)}") from None
        except ccxt.BaseError as exc:
            raise UserError(f"cannot load markets from {where}: {type(exc).__name__}: {_describe(exc)}") from None
        if self.clock.supported:  # signed requests carry the venue's time from the first one on
            await self.clock.sync("start")

    async def _connect_hedge(self, endpoint: Endpoint) -> None:
        """The futures client of the hedge legs, markets loaded (one-line UserErrors as for the spot venue)."""
        from bot.venue.connect import create_futures_exchange

        hedge = hedge_endpoint(self.settings, endpoint)
        try:
            self.futures = create_futures_exchange(hedge.kind, hedge.exchange_id, hedge.url, hedge.api_key,
                                                   hedge.api_secret)
        except (ccxt.BaseError, ValueError, AttributeError) as exc:
            raise UserError(f"cannot set up the hedge venue {hedge.exchange_id} ({hedge.kind}): {_describe(exc)}") \
                from None
        # a read leaves an order's cost in the bucket, the funding-income read included: never a debt that a
        # hedge order waits out (it waited ~1 s after each income read, whose cost is 3x the default burst)
        order_cost, largest_read = BINANCE_USDM.request_costs(self.futures)
        gate_exchange(self.futures, self.hedge_rate, reserve=order_cost, largest_read=largest_read)
        where = hedge.url or f"{hedge.exchange_id} {hedge.kind}"
        try:
            await self._retrying("load_markets", self.futures.load_markets)
        except ccxt.AuthenticationError as exc:
            raise UserError(f"the futures venue rejected the hedge API keys ({where}): {_describe(exc)}") from None
        except ccxt.BaseError as exc:
            raise UserError(f"cannot load futures markets from {where}: {type(exc).__name__}: {_describe(exc)}") \
                from None

    def _make_leg(self, run: SymbolRun) -> HedgeLeg:
        inventory = run.inventory
        assert self.journal is not None
        # its events (the generic order and fill events too) name the instrument, and the spot symbol as ``spot``
        log = get_logger(symbol=instrument_of(run.symbol, run.cfg.hedge.instrument), spot=run.symbol, leg="hedge")
        return HedgeLeg(self.futures, self.settings, run.symbol, lambda: inventory.q_exact, run.state,
                        self.journal, self.kill, self._breach_action(run), log, self.hedge_throttler, self.hedge_rate)

    def _breach_action(self, run: SymbolRun) -> Callable[[HedgeBreach, str, bool], None]:
        """What a hedge breach of ``run``'s leg does: "kill" trips the kill; "pause" pauses the spot symbol's
        quoting (gate pause ``hedge``) until every pausing breach of the leg has cleared."""
        hedge = self.settings.hedge
        actions = {"failure": hedge.on_failure, "unhedged": hedge.on_unhedged, "basis": hedge.on_basis,
                   "margin": hedge.on_margin}

        def on_breach(breach: HedgeBreach, action: str, active: bool) -> None:
            if action == "kill":
                if active:
                    self.trip_kill(f"hedge: {run.symbol} {breach.kind}: {breach.detail}")
                return
            if active:
                run.gate.pause(HEDGE, f"{breach.kind}: {breach.detail}")
                run.wake.set()
                return
            leg = run.hedge
            pausing = [k for k in (leg.breaches if leg is not None else {}) if actions.get(k) == "pause"]
            if not pausing and run.gate.resume(HEDGE):
                run.log.info("quoting_resumed", pause=HEDGE)
                run.wake.set()

        return on_breach

    def _check_symbols(self) -> None:
        markets = self.exchange.markets or {}
        for symbol in self.settings.venue.symbols:
            if symbol not in markets:
                known = sorted(s for s, m in markets.items() if m.get("spot", True))
                shown = ", ".join(known[:8]) + (", ..." if len(known) > 8 else "")
                raise UserError(f"unknown symbol {symbol!r} on {self.settings.venue.exchange} "
                                f"({self.settings.venue.kind}); available: {shown or 'none'}")

    async def _fetch_balance(self) -> dict[str, Any]:
        try:
            return await self._retrying("fetch_balance", self.exchange.fetch_balance)  # type: ignore[no-any-return]
        except ccxt.AuthenticationError as exc:
            if self.endpoint is not None and not self.endpoint.api_key:
                venue = self.settings.venue
                raise UserError(f"{venue.exchange} ({venue.kind}) needs API keys to trade: set "
                                "MMBOT_VENUE__API_KEY and MMBOT_VENUE__API_SECRET") from None
            raise UserError(f"the venue rejected the API keys: {_describe(exc)}") from None
        except ccxt.BaseError as exc:
            raise UserError(f"cannot read the account balance: {type(exc).__name__}: {_describe(exc)}") from None

    async def _touch(self, run: SymbolRun) -> Touch:
        """The best bid and ask at start-up (None for a side the venue did not show or when it did not answer)."""
        try:
            book = await self.exchange.fetch_order_book(run.symbol, 5)
        except ccxt.BaseError:
            return None, None
        bid = float(book["bids"][0][0]) if book["bids"] else None
        ask = float(book["asks"][0][0]) if book["asks"] else None
        return bid, ask

    async def _check_balance(self, balance: dict[str, Any], touches: dict[str, Touch]) -> None:
        """Each symbol needs at least one order's worth of base and of quote currency (a bid priced at the
        start-up ask, from ``touches``)."""
        problems = []
        for run in self.runs:
            size = run.cfg.execution.order_size
            ask = touches[run.symbol][1]
            base, quote = run.market["base"], run.market["quote"]
            free = balance.get("free") or {}
            have_base = float(free.get(base) or 0.0)
            have_quote = float(free.get(quote) or 0.0)
            if have_base < size:
                problems.append(f"{plain_text(have_base)} {base} free, one ask needs {plain_text(size)}")
            if ask is not None and have_quote < size * ask:
                problems.append(f"{plain_text(have_quote)} {quote} free, one bid needs {plain_text(size * ask)}")
        if problems:
            raise UserError("balance too low to quote: " + "; ".join(problems))

    async def _make_run(self, symbol: str) -> SymbolRun:
        cfg = self.settings.for_symbol(symbol)
        market = self.exchange.market(symbol)
        try:
            rules = MarketRules.from_ccxt_market(market)
        except ValueError as exc:
            raise UserError(f"{symbol}: {exc}") from None
        log = get_logger(symbol=symbol)
        adapter = adapter_for(self.exchange)
        maker_fee = await resolve_fee(adapter, self.exchange, cfg, market, log, self._retrying)
        vol, intensity = make_estimators()
        state = MarketState(symbol, vol=vol, intensity=intensity,
                            estimate=uses_estimators(cfg.strategy.model, cfg.strategy.use_estimators))
        orders = OrderManager(self.exchange, symbol, market["id"], cfg.execution.client_id_prefix,
                              self.throttler, self.rate, log, post_only=cfg.execution.post_only, entry=self.entry,
                              clock_sync=self.clock, max_data_age=cfg.risk.stale_after,
                              adapter=adapter, hooks=self._order_hooks(symbol), rules=rules)
        inventory = Inventory(base=market["base"], quote=market["quote"], markouts=state.markouts, clock=time.monotonic)
        gate = RiskGate(self.kill, on_pause=self.tripwires.pause_hook(symbol, state))
        return SymbolRun(cfg, market, rules, state, asyncio.Event(), orders, inventory, gate, log, maker_fee=maker_fee)

    @staticmethod
    def _report_fee(run: SymbolRun, touch: Touch) -> None:
        """``maker_fee`` once per symbol at start-up, and ``spread_below_fee_floor`` when the configured
        half-spread is below the fee floor at the start-up mid (the quotes are raised to the floor)."""
        params = StrategyParams.from_settings(run.cfg, run.rules, run.maker_fee.rate)
        report = fee_report(params, run.maker_fee, *touch)
        run.log.info("maker_fee", **report.event)
        if report.warning is not None:
            run.log.warning("spread_below_fee_floor", **report.warning)

    def _order_hooks(self, symbol: str) -> OrderHooks:
        """What ``symbol``'s order manager reports to and asks of the guard and the journal. The pre-trade
        check reads every symbol through the guard, built once the runs are (no create is sent before)."""

        def precheck(side: Side, amount: float, price: float) -> str | None:
            return "guard_not_ready" if self.guard is None else self.guard.precheck(symbol, side, amount, price)

        return OrderHooks(journal=self.journal, precheck=precheck, metrics=self.metrics,
                          on_error=lambda what, exc: self.tripwires.on_error(symbol, what, exc))

    # -- tasks ------------------------------------------------------------------------------------
    def _spawn(self, run: SymbolRun, name: str, coro: Any) -> None:
        async def wrapped() -> None:
            structlog.contextvars.bind_contextvars(symbol=run.symbol)
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                run.log.error("task_failed", task=name, error=type(exc).__name__, detail=_describe(exc))
                self.trip_kill(f"{run.symbol} {name}: {type(exc).__name__}")
                self.request_stop("error")

        run.tasks.append(asyncio.create_task(wrapped(), name=f"{run.symbol}:{name}"))

    def _start_symbol(self, run: SymbolRun, start_ms: int) -> None:
        execution = run.cfg.execution
        params = StrategyParams.from_settings(run.cfg, run.rules, run.maker_fee.rate)
        leg = run.hedge
        position = None
        if leg is not None and self.settings.hedge.skew_on == "net":
            ratio = leg.params.ratio

            def position() -> float:  # the quotes skew on the net exposure, in spot units
                return float(leg.net_exposure()) / ratio

        report = None if leg is None else (lambda: hedge_event_fields(leg.state()))
        quoter = Quoter(run.symbol, params, run.state, run.orders, run.inventory, run.gate, run.wake, run.log,
                        self.settings.logging.inventory_interval, metrics=self.metrics, position=position,
                        hedge_report=report)
        guard, symbol = self.guard, run.symbol

        def on_fill() -> None:  # the hedge and the quoter wake; a position beyond its limit trips the kill at once
            if leg is not None:
                leg.on_spot_fill()
                call_after_turns(1, quoter.on_fill)
            else:
                quoter.on_fill()
            if guard is not None:
                guard.after_fill(symbol)

        assert self.journal is not None
        fills = FillIntake(self.exchange, symbol, run.orders, run.inventory, run.state, run.log, start_ms,
                           on_fill=on_fill, record=console_tap(run, fill_recorder(self.journal, symbol, self.log)),
                           metrics=self.metrics, on_reconnect=lambda: self.metrics.on_reconnect(symbol))
        run.quoter, run.fills = quoter, fills
        stale = run.cfg.risk.stale_after
        book = BookFeed(self.exchange, run.symbol, run.state, run.wake, run.log,
                        resubscribe_after=max(2.0 * stale, 5.0), wake_turns=run.orders.entry.wire_turns + 1,
                        on_reconnect=fills.on_reconnect)
        self._spawn(run, "book", book.run())
        if quoter.use_estimators:  # public trades feed only the intensity fit, which only as/glft read
            trades = TradeFeed(self.exchange, run.symbol, run.state, run.log, on_reconnect=fills.on_reconnect)
            self._spawn(run, "trades", trades.run())
        self._spawn(run, "my_trades", fills.watch_trades())
        self._spawn(run, "orders", fills.watch_orders())
        self._spawn(run, "reconcile", fills.safety_net_loop(execution.reconcile_interval))
        self._spawn(run, "resolve", fills.resolve_loop(cap=execution.reconcile_interval))
        self._spawn(run, "quoter", quoter.run())

    # -- the run ----------------------------------------------------------------------------------
    async def run(self) -> RunSummary:
        require_keys(self.settings)
        self.journal = journal_for(self.settings, on_write_failed=self._on_journal_failed)
        try:
            try:
                return await self._run_journaled()
            except JournalError as exc:  # a read, or a write before quoting began: one line, exit 2
                raise UserError(f"{exc}; refusing to quote (no exactly-once without the journal)") from None
        finally:
            self.journal.close()

    async def _run_journaled(self) -> RunSummary:
        assert self.journal is not None
        refuse_if_latched(self.journal)
        self.journal.touch()  # a journal that cannot be written is found here, before anything is quoted
        await self.ops.start()
        try:
            async with open_endpoint(self.settings) as endpoint:
                self.endpoint = endpoint
                try:
                    return await self._run_connected(endpoint)
                finally:
                    for client in (self.exchange, self.futures):
                        if client is not None:
                            with contextlib.suppress(Exception):
                                await client.close()
        finally:
            await self.ops.stop()

    async def _run_connected(self, endpoint: Endpoint) -> RunSummary:
        await self._connect(endpoint)
        self._check_symbols()
        balance = await self._fetch_balance()
        self.runs = [await self._make_run(s) for s in self.settings.venue.symbols]
        assert self.journal is not None
        self.guard = Guard(self.settings, self.journal, [RunView(run) for run in self.runs], self.tripwires,
                           self.trip_kill, self.log)
        for run in self.runs:
            restored = restore(self.journal, run)
            if restored:
                run.log.info("journal_restored", fills=restored, q=run.orders.shown.position(run.inventory.q))
        touches = {run.symbol: await self._touch(run) for run in self.runs}
        await self._check_balance(balance, touches)
        for run in self.runs:
            self._report_fee(run, touches[run.symbol])
        for run in self.runs:
            check = await run.orders.cancel_all()
            if run.orders.canceled or not check.confirmed:
                run.log.info("leftover_orders_canceled", count=run.orders.canceled, still_open=check.left,
                             confirmed=check.confirmed)
            run.orders.canceled = 0
        for run in self.runs:
            await catch_up(self.journal, self.exchange, run, self._retrying)
        balance = await self._fetch_balance()
        for run in self.runs:
            set_baseline(self.journal, run, balance, self.trip_kill)
        if self.settings.hedge.enabled:
            await self._connect_hedge(endpoint)
            for run in self.runs:
                leg = self._make_leg(run)
                await leg.start(self._retrying)
                run.hedge = leg
        self.deadman = DeadMan(self.exchange, self.settings.risk.dead_man_seconds, self.log)
        try:
            await self.deadman.arm()
        except ccxt.BaseError as exc:  # quoting without it is still safe: the bot cancels its own orders
            self.log.warning("dead_man_arm_failed", error=type(exc).__name__, detail=_describe(exc))
        self.quoting = True  # from now on a refused write kills (_on_journal_failed)
        self.started_at = time.monotonic()
        start_ms = venue_ms(self.exchange) - 5000
        self.log.info("started", venue=endpoint.kind, exchange=endpoint.exchange_id, url=endpoint.url,
                      symbols=[r.symbol for r in self.runs], duration=self.duration,
                      order_entry=self.entry.name if self.entry is not None else None, build=bot.compiled())
        for run in self.runs:  # the hedge legs first: quoting begins once each has the perp's book
            if run.hedge is not None:
                for name, coro in run.hedge.tasks():
                    self._spawn(run, name, coro)
                await run.hedge.wait_ready(max(5.0, 2.0 * run.cfg.risk.stale_after))
        for run in self.runs:
            self._start_symbol(run, start_ms)
        self.ops.announce_console()
        self.side_tasks.append(asyncio.create_task(self.guard.monitor(self.exchange), name="risk_monitor"))
        if self.deadman.armed:
            self.side_tasks.append(asyncio.create_task(self.deadman.run(), name="dead_man"))
        try:
            async with asyncio.timeout(self.duration):
                await self.stop_event.wait()
        except TimeoutError:
            self.stop_reason = "duration"
        return await self._shutdown()

    async def _shutdown(self) -> RunSummary:
        self.log.info("stopping", reason=self.stop_reason)
        # 1. stop quoting: let a cycle in progress finish its venue calls, then cancel the loop
        for run in self.runs:
            if run.quoter is not None:
                run.quoter.stopped = True
                run.wake.set()
        grace = self.settings.execution.stop_grace
        deadline = time.monotonic() + grace
        quoters = [t for run in self.runs for t in run.tasks if t.get_name().endswith(":quoter")]
        if quoters:
            _done, pending = await asyncio.wait(quoters, timeout=min(10.0, grace / 2))
            for task in pending:
                task.cancel()
        for task in self.side_tasks:
            task.cancel()
        # 2. cancel every order of ours until a venue read confirms none is open, within the stop grace; the
        # hedge legs (both venues at once) cancel theirs, flatten after a kill with flatten_on_kill, disarm
        flatten = self.kill.tripped and self.settings.risk.flatten_on_kill
        legs = [run.hedge for run in self.runs if run.hedge is not None]
        hedged = asyncio.gather(*(leg.shutdown(flatten, deadline) for leg in legs), return_exceptions=True)
        results = await asyncio.gather(*(self._cancel_until_none(run, deadline) for run in self.runs),
                                       return_exceptions=True)
        for leg, result in zip(legs, await hedged, strict=True):
            if isinstance(result, BaseException):
                leg.log.error("hedge_stop_failed", error=type(result).__name__, detail=_describe(result))
        checks = []
        for run, result in zip(self.runs, results, strict=True):
            if not isinstance(result, OpenCheck):  # a bug: said, and what the venue last told stands
                run.log.error("cancel_all_failed", error=type(result).__name__, detail=_describe(result))
                result = run.orders.last_check
            checks.append(result)
        # 3. the last fills, over REST (orders of unknown fate settled first), retried through transient errors
        for run in self.runs:
            if run.fills is not None:
                with contextlib.suppress(ccxt.BaseError):
                    await self._retrying("final_reconcile", run.fills.safety_net_once, attempts=4)
                if run.fills.unresolved:
                    run.log.warning("orders_unresolved", client_ids=sorted(run.fills.unresolved),
                                    trades_held=len(run.fills.held))
                    run.orders.tracker.keep_unresolved()  # sent, fate unknown: the next start asks
        if self.kill.tripped and self.settings.risk.flatten_on_kill:
            for run in self.runs:
                await self._flatten(run)
        for i, (run, check) in enumerate(zip(self.runs, checks, strict=True)):
            if not (check.confirmed and check.left == 0):  # one more read: no cancel is sent after it
                with contextlib.suppress(ccxt.BaseError, TimeoutError):
                    async with asyncio.timeout(5.0):
                        checks[i] = OpenCheck(len(await run.orders.fetch_own_open()), confirmed=True)
        if self.deadman is not None and not self.kill.tripped:
            if all(c.confirmed and c.left == 0 for c in checks):
                await self.deadman.disarm()
            elif self.deadman.armed:  # the venue cancels what we could not confirm cancelled
                self.log.warning("dead_man_left_armed", timeout=self.deadman.timeout)
        tasks = [t for run in self.runs for t in run.tasks]
        for task in tasks:
            task.cancel()
        if tasks:
            _done, stuck = await asyncio.wait(tasks, timeout=5.0)
            if stuck:
                self.log.warning("tasks_not_stopped", tasks=sorted(t.get_name() for t in stuck))
        # 4. final balances and the venue's word on open orders
        with contextlib.suppress(ccxt.BaseError):
            balance = await self.exchange.fetch_balance()
            for run in self.runs:
                run.end_base = base_total(balance, run.market["base"])
        summary = RunSummary(
            venue=f"{self.endpoint.kind if self.endpoint else '?'} {self.settings.venue.exchange}",
            duration=time.monotonic() - self.started_at,
            stop_reason=self.stop_reason,
            kill_reason=self.kill.reason,
            rate_limit_hits=self.rate.hits,
            kill_latch=self.latch.note if self.latch is not None and self.kill.tripped else None,
            journal_error=self.journal.failed if self.journal is not None else None,
            journal_failed_writes=self.journal.write_failures if self.journal is not None else 0,
        )
        if summary.journal_error is not None:
            self.log.warning("journal_incomplete", failed_writes=summary.journal_failed_writes,
                             error=summary.journal_error, next_start=JOURNAL_CATCH_UP)
        for run, check in zip(self.runs, checks, strict=True):
            summary.symbols.append(symbol_summary(run, check))
        for sym in summary.to_dict()["symbols"]:
            self.log.info("summary", **sym, duration=round(summary.duration, 3), stop_reason=summary.stop_reason)
        return summary

    # -- shutdown helpers, kill actions ----------------------------------------------------------
    async def _cancel_until_none(self, run: SymbolRun, deadline: float) -> OpenCheck:
        """``cancel_all`` in rounds (with pauses) until a venue read confirms none of ours is open or the
        stop grace runs out at ``deadline`` (monotonic); nothing here waits past it, not even the order
        ceiling or a rate-limit backoff. Returns the last check (unconfirmed when the venue did not answer)."""
        attempt = 0
        try:
            async with asyncio.timeout_at(asyncio.get_running_loop().time() + deadline - time.monotonic()):
                while True:
                    check = await run.orders.cancel_all()
                    if check.confirmed and check.left == 0:
                        return check
                    attempt += 1
                    run.log.error("orders_still_open", open=check.left, confirmed=check.confirmed, attempt=attempt)
                    await asyncio.sleep(min(5.0, 0.5 * 2 ** min(attempt, 4)))
        except TimeoutError:
            pass
        check = run.orders.last_check
        grace = self.settings.execution.stop_grace
        if check.confirmed:
            run.log.error("orders_still_open", open=check.left, confirmed=True, attempt=attempt, stop_grace=grace)
        else:
            run.log.error("orders_unconfirmed", may_be_open=check.left, attempt=attempt, stop_grace=grace)
        return check

    async def _flatten(self, run: SymbolRun) -> None:
        """After a kill with ``flatten_on_kill``: one marketable order taking ``q`` towards 0."""
        from bot.core.ticks import floor_to

        q = run.inventory.q
        amount = floor_to(abs(q), run.rules.lot) if run.rules.lot > 0 else abs(q)
        if amount <= 0 or amount < run.rules.min_qty:
            return
        side: Side = "sell" if q > 0 else "buy"
        try:  # the submit path of every order; it only reduces |q|, so the quotes' worst-case check is not asked
            order = await run.orders.market(side, amount, run.state.mid, "flatten", reduces=True)
        except ccxt.BaseError as exc:
            run.log.error("flatten_failed", side=side, amount=run.orders.shown.size(amount), error=type(exc).__name__,
                          detail=_describe(exc))
            return
        if order is None or order.order_id is None:  # not sent (order_not_sent said why), or of unknown fate
            run.log.error("flatten_failed", side=side, amount=run.orders.shown.size(amount),
                          error="not_sent" if order is None else
                          "unknown_fate", detail="see order_not_sent" if order is None else "see order_unknown")
            if order is None:
                return
        run.log.warning("flatten", side=side, amount=run.orders.shown.size(amount), q=run.orders.shown.position(q),
                        order_id=order.order_id)
        if run.fills is not None:
            with contextlib.suppress(ccxt.BaseError):
                await run.fills.safety_net_once()
