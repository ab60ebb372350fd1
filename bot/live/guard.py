"""The risk guard of a running service: kill-switch triggers, the journal hooks, the latch, manual kills.

- :func:`journal_for` picks the journal: one file per account under ``risk.state_dir``
  (``journal-<kind>-<exchange>-<account tag>.sqlite``, the tag a hash of URL and API key, never the key
  itself), or an in-memory one for venues that forget everything when the process ends (the in-process
  sim, paper). :func:`refuse_if_latched` stops a start while a kill is latched.
- :class:`Guard` wires the hooks (pre-trade worst-case check, journal writes, error and pause reports)
  into each symbol's order manager, fill book and gate, and runs :meth:`Guard.monitor`, which evaluates
  the triggers of :mod:`bot.risk.triggers` every ``interval`` seconds: position beyond the limit, trailing
  drawdown, absolute loss, no streamed market data for the hard timeout (a snapshot on resubscribing does
  not count: :meth:`MarketState.silence`), the error rate, the kill file, and (on the
  REST reconcile period, when ``balance_drift_tolerance`` is set) balance drift. A 418 ban or too many
  pauses trip at once. Tripping calls ``on_kill(reason)``; the service acts (see ``Service.trip_kill``).
- :func:`kill_routes`: ``POST /kill`` for the ops server (behind its guard: token, Origin, Host).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ccxt

from bot.core.inventory import Fill, to_decimal
from bot.errors import UserError
from bot.live.journal import MEMORY, Journal, JournalError, JournalWriteError
from bot.live.orders import LiveOrder
from bot.risk.exposure import Exposure, ExposureLimits, check_order
from bot.risk.triggers import (
    DrawdownTracker,
    DriftCheck,
    ErrorWindow,
    PauseEscalator,
    is_ban,
    loss_breach,
    position_breach,
    stale_breach,
)

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.live.symbolrun import SymbolRun

def journal_path(settings: Settings) -> Path:
    """Where this account's journal lives (``:memory:`` for venues that do not outlive the process)."""
    venue = settings.venue
    if venue.kind == "paper" or (venue.kind == "sim" and not venue.url):
        return MEMORY
    key = venue.api_key.get_secret_value() if venue.api_key is not None else ""
    tag = hashlib.sha256(f"{venue.kind}|{venue.exchange}|{venue.url or ''}|{key}".encode()).hexdigest()[:12]
    return Path(settings.risk.state_dir) / f"journal-{venue.kind}-{venue.exchange}-{tag}.sqlite"


def journal_for(settings: Settings) -> Journal:
    try:
        return Journal(journal_path(settings))
    except JournalError as exc:
        raise UserError(str(exc)) from None


def describe_kill(journal: Journal) -> str | None:
    """One line about the latched kill, or None when nothing is latched (a journal that cannot be read:
    :class:`JournalError`)."""
    kill = journal.active_kill()
    if kill is None:
        return None
    when = datetime.fromtimestamp(kill.ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if kill.ts else "an unknown time"
    where = "" if kill.source == "journal" else f" (in the latch file {kill.source}: the journal could not be written)"
    return f"kill switch latched at {when}: {kill.reason}{where}"


def refuse_if_latched(journal: Journal) -> None:
    line = describe_kill(journal)
    if line is not None:
        raise UserError(f"{line}; refusing to quote. Check the account, then run `mmbot reset-kill` "
                        "(with the same --config)")


class Guard:
    """Kill-switch triggers over every symbol of one service."""

    def __init__(
        self,
        settings: Settings,
        journal: Journal,
        runs: Sequence[SymbolRun],
        on_kill: Callable[[str], None],
        log: Any,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings, self.journal, self.runs, self.on_kill, self.log = settings, journal, runs, on_kill, log
        risk = settings.risk
        self.clock = clock
        self.drawdown = DrawdownTracker(risk.max_drawdown)
        self.errors = ErrorWindow(risk.max_errors, risk.error_window)
        self.pauses = PauseEscalator(risk.pause_escalation_count, risk.pause_escalation_window)
        self.drift = {run.symbol: DriftCheck(run.cfg.risk.balance_drift_tolerance) for run in runs}
        self.baselines: dict[str, Decimal] = {}
        self.exposure_limits = {
            run.symbol: ExposureLimits(run.cfg.risk.max_position, run.cfg.risk.max_notional,
                                       risk.max_total_notional)
            for run in runs
        }

    # -- hooks ------------------------------------------------------------------------------------
    def install(self, run: SymbolRun) -> None:
        """Hook this symbol's order manager, tracker and gate (the fill book: :meth:`install_fills`)."""
        symbol = run.symbol
        journal = self.journal
        run.orders.journal = journal

        def on_close(order: LiveOrder) -> None:
            # a refused write has tripped the kill (Journal.on_write_failed); the order stays unsettled in
            # the journal, so the next start's catch-up covers its trades
            with contextlib.suppress(JournalWriteError):
                journal.order_closed(order.client_id)

        run.orders.tracker.on_close = on_close
        run.orders.precheck = lambda side, amount, price: check_order(
            symbol, side, amount, price, self.exposures(), self.exposure_limits[symbol])
        run.orders.on_error = lambda what, exc: self.on_error(symbol, what, exc)

        def on_pause(key: str, detail: str) -> None:
            if key == "stale" and run.state.updated is None:
                return  # waiting for the first book is not a pause
            self.log.info("quoting_paused", symbol=symbol, pause=key, detail=detail)
            reason = self.pauses.paused(self.clock(), f"{symbol} {key}: {detail}")
            if reason is not None:
                self.on_kill(f"pause escalation: {reason}")

        run.gate.on_pause = on_pause

    def install_fills(self, run: SymbolRun, fills: Any) -> None:
        """Journal each fill before it is booked; check the position right after it is booked."""
        symbol, booked = run.symbol, fills.on_fill

        def after_fill() -> None:
            if booked is not None:
                booked()
            reason = position_breach(run.inventory.q, run.cfg.risk.max_position)
            if reason is not None:
                self.on_kill(f"{symbol}: {reason}")

        def record(fill: Fill) -> bool:
            """Journal the fill; when the journal refuses it (the kill has tripped) it is still booked in
            memory (the position is real: q and the limit stay true), not durably: the next start's
            catch-up reads it from the venue (:func:`catch_up_start`) and journals it then."""
            try:
                return self.journal.record_fill(symbol, fill)
            except JournalWriteError:
                self.log.error("fill_not_journaled", symbol=symbol, trade_id=fill.trade_id, side=fill.side,
                               amount=str(fill.amount))
                return True  # the in-memory trade ids still book it once

        fills.record = record
        fills.on_fill = after_fill

    def exposures(self) -> dict[str, Exposure]:
        return {
            run.symbol: Exposure(run.inventory.q, run.orders.tracker.exposure("buy"),
                                 run.orders.tracker.exposure("sell"), run.state.mid)
            for run in self.runs
        }

    def on_rate_limit(self, op: str, exc: BaseException) -> None:
        """A rate-limit answer to any REST call (the service's gate hook): a 418 ban trips the kill; a 429
        is a backoff, not an error."""
        if is_ban(None, str(exc)):
            self.on_kill(f"the venue banned us (HTTP 418) on {op}: {' '.join(str(exc).split())[:120]}")

    def on_error(self, symbol: str, what: str, exc: BaseException) -> None:
        reason = self.errors.add(self.clock())
        if reason is not None:
            self.on_kill(f"error rate: {reason} (latest: {symbol} {what} {type(exc).__name__})")

    # -- the triggers -----------------------------------------------------------------------------
    def equity(self) -> float | None:
        """Mark-to-market P&L net of fees over every symbol (quote currency); None without marks."""
        total = 0.0
        for run in self.runs:
            mid = run.state.mid
            if mid is None:
                if run.inventory.q_exact:
                    return None
                mid = 0.0
            total += run.inventory.total_pnl(mid)
        return total

    def evaluate(self, now: float) -> str | None:
        """The first trigger that fires now, or None."""
        kill_file = self.settings.risk.kill_file
        if kill_file is not None and Path(kill_file).exists():
            return f"manual: kill file {kill_file} exists"
        for run in self.runs:
            reason = position_breach(run.inventory.q, run.cfg.risk.max_position)
            if reason is not None:
                return f"{run.symbol}: {reason}"
            reason = stale_breach(run.state.silence(now), run.cfg.risk.stale_kill_after)
            if reason is not None:
                return f"{run.symbol}: {reason}"
        equity = self.equity()
        if equity is not None:
            reason = self.drawdown.update(equity) or loss_breach(equity, self.settings.risk.max_loss)
            if reason is not None:
                return reason
        return self.errors.check(now) if self.errors.times else None

    def check_drift(self, balance: dict[str, Any]) -> str | None:
        totals = balance.get("total") or {}
        for run in self.runs:
            baseline = self.baselines.get(run.symbol)
            if baseline is None:
                continue
            venue = to_decimal(totals.get(run.market["base"]) or 0) - baseline
            reason = self.drift[run.symbol].update(float(venue), run.inventory.q)
            if reason is not None:
                return f"{run.symbol}: {reason}"
        return None

    async def _read_drift(self, exchange: Any) -> str | None:
        try:
            return self.check_drift(await exchange.fetch_balance())
        except ccxt.BaseError as exc:
            self.log.warning("drift_check_failed", error=type(exc).__name__)
            return None

    async def monitor(self, exchange: Any, interval: float = 0.25) -> None:
        """Evaluate the triggers until cancelled; balance drift on the REST reconcile period.

        The balance is read in a task of its own, one read at a time, so a read held by the rate gate
        (:mod:`bot.live.ratelimit`) never holds up the other triggers.
        """
        drift_on = any(d.tolerance is not None for d in self.drift.values())
        drift_every = self.settings.execution.reconcile_interval
        next_drift = self.clock() + drift_every
        next_snapshot = self.clock() + self.settings.logging.inventory_interval
        drift: asyncio.Task[str | None] | None = None
        try:
            while True:
                await asyncio.sleep(interval)
                now = self.clock()
                reason = self.evaluate(now)
                if reason is None and drift is not None and drift.done():
                    reason, drift = drift.result(), None
                if reason is None and drift_on and drift is None and now >= next_drift:
                    next_drift = now + drift_every
                    drift = asyncio.create_task(self._read_drift(exchange), name="drift_check")
                if now >= next_snapshot:
                    next_snapshot = now + self.settings.logging.inventory_interval
                    for run in self.runs:
                        mid = run.state.mid
                        equity = run.inventory.total_pnl(mid) if mid is not None else None
                        with contextlib.suppress(JournalWriteError):  # has tripped the kill; the triggers go on
                            self.journal.snapshot(run.symbol, run.inventory.q_exact, equity, mid)
                if reason is not None:
                    self.on_kill(reason)
                    return
        finally:
            if drift is not None and not drift.done():
                drift.cancel()

    def state(self) -> dict[str, Any]:
        """What the operator needs in the ``kill_switch`` event."""
        out: dict[str, Any] = {"equity": self.equity(), "peak_equity": self.drawdown.peak}
        for run in self.runs:
            out[run.symbol] = {"q": run.inventory.q, "mid": run.state.mid,
                               "open_orders": len(run.orders.tracker.open),
                               "pauses": sorted(run.gate.pauses)}
        return out


#: s the restart catch-up reads before its start (trades published late)
CATCH_UP_MARGIN = 5.0
#: s between the venue's trade times and our clock that an order closed before the catch-up is still kept for
CLOCK_SLACK = 60.0


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
    run.orders._counter = max(run.orders._counter, journal.order_count(run.symbol))
    return count


def kill_routes(trip: Callable[[str], None]) -> list[Any]:
    """aiohttp routes for the ops server: ``POST /kill`` trips the kill switch.

    Serve them only through :func:`bot.ops.http.build_app`: its guard admits a POST only with an allowed
    ``Host``, no foreign ``Origin``, a JSON content type and the ops token (without a token: loopback
    clients only), so a web page cannot send it. The body is not read.
    """
    from aiohttp import web

    async def kill(_: web.Request) -> web.Response:
        trip("manual: POST /kill")
        return web.json_response({"killed": True})

    return [web.post("/kill", kill)]
