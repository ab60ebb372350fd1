"""The risk guard of a running service: the kill-switch triggers and the pre-trade exposure check.

:class:`Tripwires` are the triggers told as things happen (an error, a pause); they read no symbol's
state, so the order managers and gates get them at construction. :class:`Guard` reads every symbol
through a narrow read-only view (:class:`Watched`) and runs :meth:`Guard.monitor`, which evaluates the
triggers of :mod:`bot.risk.triggers` every ``interval`` seconds: position beyond the limit, trailing
drawdown, absolute loss, no streamed market data for the hard timeout (a snapshot on resubscribing does
not count: :meth:`MarketState.silence`), the error rate, the kill file, and (on the REST reconcile
period, when ``balance_drift_tolerance`` is set) balance drift. A 418 ban (:meth:`Guard.on_rate_limit`)
trips at once. Tripping calls ``on_kill(reason)``; the service acts (see ``Service.trip_kill``). Before
every create the order manager asks :meth:`Guard.exposures` through the pre-trade worst-case check
(:func:`bot.risk.exposure.check_order`).

Elsewhere: the journal's file and the kill latch (:mod:`bot.live.journal`), restart recovery
(:mod:`bot.live.recovery`), ``POST /kill`` (:func:`bot.ops.http.kill_routes`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Collection, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import ccxt

from bot.core.display import Steps, money
from bot.core.inventory import to_decimal
from bot.core.quote import MarketRules, Side
from bot.live.journal import Journal, JournalWriteError
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
    from bot.config import RiskSettings, Settings
    from bot.live.market import MarketState


class Watched(Protocol):
    """What the guard reads of one symbol, read-only (:class:`bot.live.symbolrun.RunView` over a SymbolRun)."""

    @property
    def symbol(self) -> str: ...
    @property
    def base(self) -> str: ...  # the base asset, whose venue balance the drift check reads
    @property
    def limits(self) -> RiskSettings: ...  # the symbol's risk settings
    @property
    def rules(self) -> MarketRules: ...  # the symbol's tick and lot: what the kill_switch event shows q and mid at
    @property
    def q(self) -> float: ...
    @property
    def q_exact(self) -> Decimal: ...
    @property
    def mid(self) -> float | None: ...
    @property
    def baseline(self) -> Decimal | None: ...  # the venue's base balance at q = 0 (set at start-up)
    @property
    def pauses(self) -> Collection[str]: ...
    @property
    def open_orders(self) -> int: ...
    def exposure(self, side: Side) -> float: ...  # worst-case size still to fill on that side
    def silence(self, now: float) -> float: ...  # s without a streamed book update
    def pnl(self, mark: float) -> float: ...  # mark-to-market P&L net of fees


class Tripwires:
    """The kill triggers told as things happen: the error rate (``on_error``) and pause escalation (the
    gate's ``on_pause``: :meth:`pause_hook`). Tripping calls ``on_kill(reason)``."""

    def __init__(self, risk: RiskSettings, on_kill: Callable[[str], None], log: Any,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.on_kill, self.log, self.clock = on_kill, log, clock
        self.errors = ErrorWindow(risk.max_errors, risk.error_window)
        self.pauses = PauseEscalator(risk.pause_escalation_count, risk.pause_escalation_window)

    def on_error(self, symbol: str, what: str, exc: BaseException) -> None:
        """A rejection or a failed venue call of ``symbol``: counts towards the error rate."""
        reason = self.errors.add(self.clock())
        if reason is not None:
            self.on_kill(f"error rate: {reason} (latest: {symbol} {what} {type(exc).__name__})")

    def error_rate(self, now: float) -> str | None:
        """The error-rate trigger as of ``now`` (errors age out of the window)."""
        return self.errors.check(now) if self.errors.times else None

    def pause_hook(self, symbol: str, state: MarketState) -> Callable[[str, str], None]:
        """The ``on_pause`` of ``symbol``'s gate: logs ``quoting_paused`` and escalates (too many pauses in the
        window trip the kill). Waiting for the first book (``state.updated`` unset) is not a pause."""

        def on_pause(key: str, detail: str) -> None:
            if key == "stale" and state.updated is None:
                return  # waiting for the first book is not a pause
            self.log.info("quoting_paused", symbol=symbol, pause=key, detail=detail)
            reason = self.pauses.paused(self.clock(), f"{symbol} {key}: {detail}")
            if reason is not None:
                self.on_kill(f"pause escalation: {reason}")

        return on_pause


class Guard:
    """Kill-switch triggers over every symbol of one service, read through ``watched``."""

    def __init__(
        self,
        settings: Settings,
        journal: Journal,
        watched: Sequence[Watched],
        tripwires: Tripwires,
        on_kill: Callable[[str], None],
        log: Any,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings, self.journal, self.watched, self.on_kill, self.log = settings, journal, watched, on_kill, log
        self.tripwires = tripwires
        risk = settings.risk
        self.clock = clock
        self.drawdown = DrawdownTracker(risk.max_drawdown)
        self.drift = {w.symbol: DriftCheck(w.limits.balance_drift_tolerance) for w in watched}
        self.exposure_limits = {
            w.symbol: ExposureLimits(w.limits.max_position, w.limits.max_notional, risk.max_total_notional)
            for w in watched
        }

    # -- hooks (the service hands them to each symbol's order manager and fill intake at construction) --
    def precheck(self, symbol: str, side: Side, amount: float, price: float) -> str | None:
        """The pre-trade worst-case check of one create on ``symbol``: the breached limit, or None."""
        return check_order(symbol, side, amount, price, self.exposures(), self.exposure_limits[symbol])

    def after_fill(self, symbol: str) -> None:
        """Right after a fill of ``symbol`` is booked: a position beyond its limit trips the kill at once."""
        for w in self.watched:
            if w.symbol == symbol:
                reason = position_breach(w.q, w.limits.max_position)
                if reason is not None:
                    self.on_kill(f"{symbol}: {reason}")
                return

    def exposures(self) -> dict[str, Exposure]:
        return {w.symbol: Exposure(w.q, w.exposure("buy"), w.exposure("sell"), w.mid) for w in self.watched}

    def on_rate_limit(self, op: str, exc: BaseException) -> None:
        """A rate-limit answer to any REST call (the service's gate hook): a 418 ban trips the kill; a 429
        is a backoff, not an error."""
        if is_ban(None, str(exc)):
            self.on_kill(f"the venue banned us (HTTP 418) on {op}: {' '.join(str(exc).split())[:120]}")

    # -- the triggers -----------------------------------------------------------------------------
    def equity(self) -> float | None:
        """Mark-to-market P&L net of fees over every symbol (quote currency); None without marks."""
        total = 0.0
        for w in self.watched:
            mid = w.mid
            if mid is None:
                if w.q_exact:
                    return None
                mid = 0.0
            total += w.pnl(mid)
        return total

    def evaluate(self, now: float) -> str | None:
        """The first trigger that fires now, or None."""
        kill_file = self.settings.risk.kill_file
        if kill_file is not None and Path(kill_file).exists():
            return f"manual: kill file {kill_file} exists"
        for w in self.watched:
            reason = position_breach(w.q, w.limits.max_position)
            if reason is not None:
                return f"{w.symbol}: {reason}"
            reason = stale_breach(w.silence(now), w.limits.stale_kill_after)
            if reason is not None:
                return f"{w.symbol}: {reason}"
        equity = self.equity()
        if equity is not None:
            reason = self.drawdown.update(equity) or loss_breach(equity, self.settings.risk.max_loss)
            if reason is not None:
                return reason
        return self.tripwires.error_rate(now)

    def check_drift(self, balance: dict[str, Any]) -> str | None:
        totals = balance.get("total") or {}
        for w in self.watched:
            baseline = w.baseline
            if baseline is None:
                continue
            venue = to_decimal(totals.get(w.base) or 0) - baseline
            reason = self.drift[w.symbol].update(float(venue), w.q)
            if reason is not None:
                return f"{w.symbol}: {reason}"
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
                    for w in self.watched:
                        mid = w.mid
                        equity = w.pnl(mid) if mid is not None else None
                        with contextlib.suppress(JournalWriteError):  # has tripped the kill; the triggers go on
                            self.journal.snapshot(w.symbol, w.q_exact, equity, mid)
                if reason is not None:
                    self.on_kill(reason)
                    return
        finally:
            if drift is not None and not drift.done():
                drift.cancel()

    def state(self) -> dict[str, Any]:
        """What the operator needs in the ``kill_switch`` event (and the kill latch): equity as money, each
        symbol's ``q`` as a position (:meth:`~bot.core.display.Steps.position`) and ``mid`` at its tick (a digit
        finer: a mid may fall between ticks)."""
        out: dict[str, Any] = {"equity": money(self.equity()), "peak_equity": money(self.drawdown.peak)}
        for w in self.watched:
            shown = Steps(w.rules.tick, w.rules.lot)
            out[w.symbol] = {"q": shown.position(w.q), "mid": shown.price(w.mid, extra=1),
                             "open_orders": w.open_orders, "pauses": sorted(w.pauses)}
        return out
