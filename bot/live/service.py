"""The live quoting service: connect, check, quote every symbol, shut down cleanly, summarise.

Start-up: resolve the venue (an in-process simulated exchange when ``venue.kind = "sim"`` and no
``venue.url``; a running sim at ``venue.url``; a ccxt sandbox for ``testnet``; a public feed with local
fills for ``paper``, configured by ``settings.paper``), create the ccxt exchange with
:func:`bot.venue.connect.create_exchange`, load markets, then check every symbol exists, the keys work
and the balance covers one order per side (each failure is a one-line :class:`~bot.errors.UserError`).
Our leftover orders (client id starting with ``<prefix>-``) are cancelled and the base balances recorded:
the bot's inventory ``q`` starts at 0 and is the change of the base balance from here on. From then on
the code path is the same for every venue.

Run: per symbol one book feed, one trade feed, two user-stream consumers, a REST reconciliation loop and
the conflated quoter, all sharing one throttler and rate gate. Stop on :meth:`Service.request_stop`
(the command wires SIGINT/SIGTERM to it), at ``duration``, or when a task dies (the kill switch trips).

Shutdown: stop quoting, cancel every order of ours until the venue confirms none is open, reconcile the
last fills over REST, read the final balances, close the connection and return a :class:`RunSummary`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ccxt
import structlog

from bot.config import Settings, SymbolSettings
from bot.core.estimators import EwmaVolatility, IntensityEstimator
from bot.core.inventory import Inventory, to_decimal
from bot.core.quote import MarketRules
from bot.errors import UserError
from bot.live.feed import Backoff, BookFeed, TradeFeed
from bot.live.fills import FillBook
from bot.live.gate import KillSwitch, RiskGate
from bot.live.market import MarketState
from bot.live.orders import OrderManager, RateGate, make_throttler
from bot.live.quoter import Quoter
from bot.live.summary import RunSummary, SymbolSummary
from bot.logs import get_logger


@dataclass
class Endpoint:
    """Where and as whom to connect."""

    kind: str
    exchange_id: str
    url: str | None
    api_key: str | None
    api_secret: str | None
    password: str | None = None
    sim: Any = None  # the in-process SimServer, when we started one


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    text = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
    return text or None


def sim_settings(settings: Settings) -> Any:
    """The ``[sim]`` section (the simulated exchange's own defaults when the settings have none)."""
    from bot.sim.settings import SimSettings

    sim = getattr(settings, "sim", None)
    return sim if isinstance(sim, SimSettings) else SimSettings()


@contextlib.asynccontextmanager
async def open_endpoint(settings: Settings) -> AsyncIterator[Endpoint]:
    """Resolve the venue; start (and finally stop) an in-process sim when none is configured."""
    venue = settings.venue
    key, secret = _secret(venue.api_key), _secret(venue.api_secret)
    password = _secret(venue.api_password)
    if venue.kind == "sim" and not venue.url:
        from bot.sim.server import start_sim

        server = await start_sim(sim_settings(settings))
        try:
            yield Endpoint("sim", venue.exchange, server.url, key or server.api_key,
                           secret or _secret(server.api_secret), password, sim=server)
        finally:
            await server.stop()
        return
    if venue.kind == "sim":
        if key is None or secret is None:
            account = sim_settings(settings).accounts[0]
            key, secret = key or account.api_key, secret or account.api_secret.get_secret_value()
        yield Endpoint("sim", venue.exchange, venue.url, key, secret, password)
        return
    if venue.kind == "testnet" and (key is None or secret is None):
        raise UserError(
            f"venue.kind = 'testnet' needs API keys for the {venue.exchange} testnet: "
            "set MMBOT_VENUE__API_KEY and MMBOT_VENUE__API_SECRET (see README, 'Running the bot')"
        )
    yield Endpoint(venue.kind, venue.exchange, venue.url, key, secret, password)


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."


@dataclass
class SymbolRun:
    """Everything the service holds for one symbol."""

    cfg: SymbolSettings
    market: dict[str, Any]
    rules: MarketRules
    state: MarketState
    wake: asyncio.Event
    orders: OrderManager
    inventory: Inventory
    gate: RiskGate
    log: Any
    fills: FillBook | None = None
    quoter: Quoter | None = None
    start_base: Decimal | None = None
    end_base: Decimal | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    @property
    def symbol(self) -> str:
        return self.cfg.symbol


class Service:
    """One run of the bot over ``settings.venue.symbols``."""

    def __init__(self, settings: Settings, duration: float | None = None) -> None:
        self.settings = settings
        self.duration = duration
        self.log = get_logger(component="service")
        self.kill = KillSwitch()
        self.stop_event = asyncio.Event()
        self.stop_reason = ""
        self.throttler = make_throttler(settings.execution.orders_per_second)
        self.rate = RateGate()
        self.runs: list[SymbolRun] = []
        self.exchange: Any = None
        self.endpoint: Endpoint | None = None
        self.started_at = 0.0

    def request_stop(self, reason: str = "signal") -> None:
        if not self.stop_event.is_set():
            self.stop_reason = reason
            self.log.info("shutdown_requested", reason=reason)
            self.stop_event.set()

    # -- start-up ---------------------------------------------------------------------------------
    async def _retrying(self, what: str, call: Callable[[], Awaitable[Any]], attempts: int = 5) -> Any:
        """Start-up calls survive transient network errors (5xx, timeouts, 429) with backoff."""
        backoff = Backoff(base=0.5, cap=8.0)
        for attempt in range(1, attempts + 1):
            try:
                return await call()
            except ccxt.NetworkError as exc:
                if attempt == attempts:
                    raise
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
        where = endpoint.url or f"{endpoint.exchange_id} {endpoint.kind}"
        try:
            await self._retrying("load_markets", self.exchange.load_markets)
        except ccxt.AuthenticationError as exc:
            raise UserError(f"the venue rejected the API keys ({where}): {_describe(exc)}") from None
        except ccxt.BaseError as exc:
            raise UserError(f"cannot load markets from {where}: {type(exc).__name__}: {_describe(exc)}") from None

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

    async def _check_balance(self, balance: dict[str, Any]) -> None:
        """Each symbol needs at least one order's worth of base and of quote currency."""
        problems = []
        for run in self.runs:
            size = run.cfg.execution.order_size
            try:
                book = await self.exchange.fetch_order_book(run.symbol, 5)
                ask = float(book["asks"][0][0]) if book["asks"] else None
            except ccxt.BaseError:
                ask = None
            base, quote = run.market["base"], run.market["quote"]
            free = balance.get("free") or {}
            have_base = float(free.get(base) or 0.0)
            have_quote = float(free.get(quote) or 0.0)
            if have_base < size:
                problems.append(f"{have_base:g} {base} free, one ask needs {size:g}")
            if ask is not None and have_quote < size * ask:
                problems.append(f"{have_quote:g} {quote} free, one bid needs {size * ask:g}")
        if problems:
            raise UserError("balance too low to quote: " + "; ".join(problems))

    def _make_run(self, symbol: str) -> SymbolRun:
        cfg = self.settings.for_symbol(symbol)
        market = self.exchange.market(symbol)
        try:
            rules = MarketRules.from_ccxt_market(market)
        except ValueError as exc:
            raise UserError(f"{symbol}: {exc}") from None
        state = MarketState(
            symbol,
            vol=EwmaVolatility(halflife=30.0, min_samples=20),
            intensity=IntensityEstimator(window=120.0, min_trades=30, min_time=10.0),
        )
        log = get_logger(symbol=symbol)
        orders = OrderManager(self.exchange, symbol, market["id"], cfg.execution.client_id_prefix,
                              self.throttler, self.rate, log, post_only=cfg.execution.post_only)
        inventory = Inventory(base=market["base"], quote=market["quote"])
        return SymbolRun(cfg, market, rules, state, asyncio.Event(), orders, inventory, RiskGate(self.kill), log)

    @staticmethod
    def _base_total(balance: dict[str, Any], asset: str) -> Decimal:
        total = (balance.get("total") or {}).get(asset)
        return to_decimal(total) if total is not None else Decimal(0)

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
                if self.kill.trip(f"{run.symbol} {name}: {type(exc).__name__}"):
                    self.log.error("kill_switch", reason=self.kill.reason)
                self.request_stop("error")

        run.tasks.append(asyncio.create_task(wrapped(), name=f"{run.symbol}:{name}"))

    def _start_symbol(self, run: SymbolRun, start_ms: int) -> None:
        execution = run.cfg.execution
        quoter = Quoter(run.cfg, run.rules, run.state, run.orders, run.inventory, run.gate, run.wake, run.log,
                        self.settings.logging.inventory_interval)
        fills = FillBook(self.exchange, run.symbol, run.orders, run.inventory, run.state, run.log, start_ms,
                         on_fill=quoter.on_fill)
        run.quoter, run.fills = quoter, fills
        stale = run.cfg.risk.stale_after
        self._spawn(run, "book", BookFeed(self.exchange, run.symbol, run.state, run.wake, run.log,
                                          resubscribe_after=max(2.0 * stale, 5.0)).run())
        self._spawn(run, "trades", TradeFeed(self.exchange, run.symbol, run.state, run.log).run())
        self._spawn(run, "my_trades", fills.watch_trades())
        self._spawn(run, "orders", fills.watch_orders())
        self._spawn(run, "reconcile", fills.reconcile_loop(execution.reconcile_interval))
        self._spawn(run, "quoter", quoter.run())

    # -- the run ----------------------------------------------------------------------------------
    async def run(self) -> RunSummary:
        async with open_endpoint(self.settings) as endpoint:
            self.endpoint = endpoint
            try:
                return await self._run_connected(endpoint)
            finally:
                if self.exchange is not None:
                    with contextlib.suppress(Exception):
                        await self.exchange.close()

    async def _run_connected(self, endpoint: Endpoint) -> RunSummary:
        await self._connect(endpoint)
        self._check_symbols()
        balance = await self._fetch_balance()
        self.runs = [self._make_run(s) for s in self.settings.venue.symbols]
        await self._check_balance(balance)
        for run in self.runs:
            left = await run.orders.cancel_all()
            if run.orders.canceled:
                run.log.info("leftover_orders_canceled", count=run.orders.canceled, still_open=left)
            run.orders.canceled = 0
        balance = await self._fetch_balance()
        for run in self.runs:
            run.start_base = self._base_total(balance, run.market["base"])
        self.started_at = time.monotonic()
        start_ms = int(self.exchange.milliseconds()) - 5000
        self.log.info("started", venue=endpoint.kind, exchange=endpoint.exchange_id, url=endpoint.url,
                      symbols=[r.symbol for r in self.runs], duration=self.duration)
        for run in self.runs:
            self._start_symbol(run, start_ms)
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
        quoters = [t for run in self.runs for t in run.tasks if t.get_name().endswith(":quoter")]
        if quoters:
            _done, pending = await asyncio.wait(quoters, timeout=10.0)
            for task in pending:
                task.cancel()
        # 2. cancel every order of ours until the venue confirms none is open
        left = await asyncio.gather(*(run.orders.cancel_all() for run in self.runs), return_exceptions=True)
        # 3. the last fills, over REST
        for run in self.runs:
            if run.fills is not None:
                with contextlib.suppress(ccxt.BaseError):
                    await run.fills.reconcile_once()
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
                run.end_base = self._base_total(balance, run.market["base"])
        summary = RunSummary(
            venue=f"{self.endpoint.kind if self.endpoint else '?'} {self.settings.venue.exchange}",
            duration=time.monotonic() - self.started_at,
            stop_reason=self.stop_reason,
            kill_reason=self.kill.reason,
            rate_limit_hits=self.rate.hits,
        )
        for run, remaining in zip(self.runs, left, strict=True):
            open_left = remaining if isinstance(remaining, int) else -1
            if open_left != 0:
                try:
                    open_left = len(await run.orders.fetch_own_open())
                except ccxt.BaseError:
                    open_left = max(open_left, 1)
            summary.symbols.append(self._symbol_summary(run, open_left))
        for sym in summary.to_dict()["symbols"]:
            self.log.info("summary", **sym, duration=round(summary.duration, 3), stop_reason=summary.stop_reason)
        return summary

    def _symbol_summary(self, run: SymbolRun, open_left: int) -> SymbolSummary:
        inv, mid = run.inventory, run.state.mid
        snap = inv.snapshot(mid)
        delta = None
        if run.start_base is not None and run.end_base is not None:
            delta = run.end_base - run.start_base
        return SymbolSummary(
            symbol=run.symbol, base=inv.base, quote=inv.quote, fills=inv.fills,
            volume_base=float(inv.volume_base), volume_quote=inv.volume_quote, q=inv.q,
            max_abs_q=float(inv.max_abs_q), mid=mid, realized_pnl=snap["realized_pnl"],
            unrealized_pnl=snap["unrealized_pnl"], fees=snap["fees"], total_pnl=snap["total_pnl"],
            spread_captured=inv.spread_captured, skew_cost=inv.skew_cost,
            orders_placed=run.orders.placed, orders_canceled=run.orders.canceled,
            orders_rejected=run.orders.rejected, open_orders_left=open_left, q_exact=inv.q_exact,
            venue_base_delta=delta,
        )
