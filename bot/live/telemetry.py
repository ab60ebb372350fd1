"""The live service's ops side: the ops HTTP server, the scrape-time metrics, readiness and status.

The hot path reports events as they happen (quotes, fills, orders, back-offs, reconnects, reaction
time: see the ``metrics`` attribute of :class:`~bot.live.quoter.Quoter`, :class:`~bot.live.orders.OrderManager`,
:class:`~bot.live.fills.FillIntake` and the feeds). What only changes with time or is cheaper read when
asked — inventory and P&L marked to the current mid, feed ages, the kill state — is set by a
``before_scrape`` hook right before each ``/metrics`` answer, so a scrape always shows the state of now.

Readiness (``/readyz``): :func:`bot.ops.health.readiness` over every symbol's book age and its
``risk.stale_after``, not ready while killed or stopping. Status (``/status``): per symbol ``q``, the
limit, mid, the bid/ask the bot last decided to rest (after the risk gate; ``None`` = side not
quoted), P&L, fills and feed age, plus the kill state. ``POST /kill`` is the manual kill switch of
:func:`bot.ops.http.kill_routes`, behind the ops server's guard (``ops.token``, ``ops.allowed_hosts``:
see :mod:`bot.ops.http`).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Protocol

from bot.core.display import Steps, at_step, exact, money
from bot.errors import UserError
from bot.ops import Metrics, OpsServer, kill_routes, readiness, start_ops_server, status_document, symbol_status

if TYPE_CHECKING:
    from decimal import Decimal

    from bot.config import Settings
    from bot.core.inventory import Inventory
    from bot.live.gate import KillSwitch
    from bot.live.symbolrun import SymbolRun


class Observed(Protocol):
    """What the ops side reads of the live service (:class:`bot.live.service.Service` is one)."""

    settings: Settings
    runs: list[SymbolRun]
    kill: KillSwitch
    stop_event: asyncio.Event
    stop_reason: str
    endpoint: Any  # bot.live.endpoint.Endpoint once connected: its ``kind``
    log: Any

    def trip_kill(self, reason: str) -> None: ...


def quoted(run: SymbolRun) -> tuple[float | None, float | None]:
    """The bid and ask the quoter last wanted resting (None: side not quoted, or no decision yet)."""
    targets = run.quoter.last_targets if run.quoter is not None else None
    if not targets:
        return None, None
    buy, sell = targets.get("buy"), targets.get("sell")
    return (buy.price if buy is not None else None), (sell.price if sell is not None else None)


def balances(inv: Inventory, start_base: Decimal | None, lot: float) -> dict[str, dict[str, Any]]:
    """The symbol's two balances by the bot's accounting: ``change`` since start-up (base at the lot, to the
    satoshi where a base fee left dust below it; quote net of quote fees, 4 decimals) and, for the base,
    ``venue_at_start`` (the venue's balance at ``q`` = 0, read at start-up; None when it was not read) and
    ``expected`` (that plus ``q``; not read from the venue now)."""
    start = None if start_base is None else exact(start_base)
    expected = None if start_base is None else exact(start_base + inv.q_exact)
    return {inv.base: {"change": Steps(lot=lot).position(inv.q), "venue_at_start": start, "expected": expected},
            inv.quote: {"change": money(inv.cash)}}


class ServiceOps:
    """Metrics, readiness and status of one :class:`~bot.live.service.Service`."""

    def __init__(self, service: Observed, metrics: Metrics) -> None:
        self.service = service
        self.metrics = metrics
        self.server: OpsServer | None = None
        self.started = time.monotonic()
        metrics.before_scrape(self.refresh)

    # -- scrape-time metrics ----------------------------------------------------------------------
    def refresh(self) -> None:
        """Set the time-dependent metrics from the service's state (runs before each scrape)."""
        now = time.monotonic()
        svc, m = self.service, self.metrics
        m.set_killed(svc.kill.tripped)
        for run in svc.runs:
            m.set_feed_age(run.symbol, run.state.age(now))
            inv = run.inventory
            snap = inv.snapshot(run.state.mid)
            m.on_inventory(run.symbol, snap["q"], run.cfg.risk.max_position, snap["realized_pnl"],
                           snap["unrealized_pnl"], snap["fees"])
            m.on_attribution(run.symbol, inv.spread_captured, inv.skew_cost, snap["inventory_pnl"], inv.markouts)

    # -- /readyz and /status ----------------------------------------------------------------------
    def ready(self) -> tuple[bool, str]:
        svc = self.service
        if svc.kill.reason is None and svc.stop_event.is_set():
            return False, f"stopping ({svc.stop_reason or 'requested'})"
        now = time.monotonic()
        ages = {run.symbol: run.state.age(now) for run in svc.runs}
        stale = {run.symbol: run.cfg.risk.stale_after for run in svc.runs}
        return readiness(ages, stale, svc.kill.reason)

    def status(self) -> dict[str, Any]:
        svc = self.service
        now = time.monotonic()
        symbols = {}
        for run in svc.runs:
            mid, inv, tick = run.state.mid, run.inventory, run.rules.tick
            bid, ask = quoted(run)
            symbols[run.symbol] = symbol_status(
                inv.report(mid, tick, run.rules.lot), limit=run.cfg.risk.max_position, mid=at_step(mid, tick, 1),
                bid=at_step(bid, tick), ask=at_step(ask, tick), fills=inv.fills, feed_age=round(run.state.age(now), 3),
                balances=balances(inv, run.start_base, run.rules.lot), tick=tick, lot=run.rules.lot,
            )
        kind = svc.endpoint.kind if svc.endpoint is not None else svc.settings.venue.kind
        return status_document(
            symbols, svc.kill.reason, venue=kind, exchange=svc.settings.venue.exchange,
            uptime=round(now - self.started, 3), stopping=svc.stop_event.is_set(),
        )

    # -- the server -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Serve the ops routes per ``settings.ops``; a port that cannot be bound, or an address beyond
        loopback without ``ops.token``, is a one-line UserError."""
        cfg = self.service.settings.ops
        if not cfg.enabled:
            return
        try:
            self.server = await start_ops_server(
                self.metrics, self.ready, self.status, cfg.host, cfg.port, routes=kill_routes(self.service.trip_kill),
                token=cfg.token, allowed_hosts=cfg.allowed_hosts, log=self.service.log,
            )
        except OSError as exc:
            why = (exc.strerror or str(exc)).rsplit(": ", 1)[-1].lower()
            raise UserError(
                f"cannot serve the ops endpoint on {cfg.host}:{cfg.port}: {why}; set ops.port "
                "(MMBOT_OPS__PORT) to a free port (0 = any) or ops.enabled = false"
            ) from None
        self.service.log.info("ops_started", url=self.server.url, host=cfg.host, port=self.server.port)

    async def stop(self) -> None:
        if self.server is not None:
            server, self.server = self.server, None
            await server.stop()
