"""The live service's ops side: the ops HTTP server, the scrape-time metrics, readiness and status.

The hot path reports events as they happen (quotes, fills, orders, back-offs, reconnects, reaction
time: see the ``metrics`` attribute of :class:`~bot.live.quoter.Quoter`, :class:`~bot.live.orders.OrderManager`,
:class:`~bot.live.fills.FillIntake` and the feeds). What only changes with time or is cheaper read when
asked — inventory and P&L marked to the current mid, feed ages, the kill state — is set by a
``before_scrape`` hook right before each ``/metrics`` answer, so a scrape always shows the state of now.

Readiness (``/readyz``): :func:`bot.ops.health.readiness` over every symbol's book age and its
``risk.stale_after``, not ready while killed or stopping. Status (``/status``): per symbol ``q``, the
limit, mid, the bid/ask the bot last decided to rest (after the risk gate; ``None`` = side not
quoted), P&L, fills and feed age, the pauses, plus the kill state. ``POST /kill`` is the manual kill switch of
:func:`bot.ops.http.kill_routes`; ``POST /pause`` and ``POST /resume`` set and clear the operator's pause
(:data:`bot.live.gate.MANUAL`: quotes withdrawn, fills and the journal still managed; a restart quotes again). All
three are behind the ops server's guard with a token: ``ops.token``, else one generated per run, written to
``<risk.state_dir>/ops-token`` (0600, removed at stop) and announced with the console's URL (``announce``), never
logged. The console (:mod:`bot.ops.console`, ``ops.console``) reads :meth:`ServiceOps.frame`,
:meth:`ServiceOps.describe` and :meth:`ServiceOps.explore`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web
from pydantic import SecretStr

from bot.core.display import Steps, at_step, bps, exact, money
from bot.errors import UserError
from bot.logs import redactor
from bot.ops import Metrics, OpsServer, kill_routes, readiness, start_ops_server, status_document, symbol_status
from bot.ops.console import PNL_SERIES, Console, cancel_quietly, percentiles, wall_time
from bot.ops.explore import Live, explore
from bot.ops.hedgeview import hedge_frame
from bot.ops.http import TOKEN_FILE, is_loopback

if TYPE_CHECKING:
    from decimal import Decimal

    from bot.config import Settings
    from bot.core.inventory import Inventory
    from bot.live.gate import KillSwitch
    from bot.live.ratelimit import RateGate
    from bot.live.symbolrun import SymbolRun


class Observed(Protocol):
    """What the ops side reads of the live service (:class:`bot.live.service.Service` is one)."""

    settings: Settings
    runs: list[SymbolRun]
    kill: KillSwitch
    stop_event: asyncio.Event
    stop_reason: str
    endpoint: Any  # bot.live.endpoint.Endpoint once connected: its ``kind``
    rate: RateGate
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


def order_row(side: str, price: float, amount: float, mid: float | None, shown: Steps) -> dict[str, Any]:
    """One open order for the console: price at the tick, size at the lot, its distance from ``mid`` in ticks
    (one decimal) and bps (None without a mid)."""
    away = None if mid is None else abs(price - mid)
    return {"side": side, "price": shown.price(price), "amount": shown.size(amount),
            "ticks": None if away is None else round(away / shown.tick, 1),
            "bps": None if away is None or not mid else bps(away / mid)}


class ServiceOps:
    """Metrics, readiness, status, the console and the operator's controls of one
    :class:`~bot.live.service.Service`; ``announce(line)`` tells the operator the console's URL."""

    def __init__(self, service: Observed, metrics: Metrics, announce: Callable[[str], None] | None = None) -> None:
        self.service = service
        self.metrics = metrics
        self.announce = announce
        self.server: OpsServer | None = None
        self.console: Console | None = None
        self.started = time.monotonic()
        self.token_file: Path | None = None  # the generated token's file while it exists
        self._token: str | None = None
        self._fills_seen: dict[str, int] = {}
        self._console_task: asyncio.Task[None] | None = None
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
            if run.hedge is not None:
                m.on_hedge(run.symbol, run.hedge.state())

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
            entry = symbol_status(
                inv.report(mid, tick, run.rules.lot), limit=run.cfg.risk.max_position, mid=at_step(mid, tick, 1),
                bid=at_step(bid, tick), ask=at_step(ask, tick), fills=inv.fills, feed_age=round(run.state.age(now), 3),
                balances=balances(inv, run.start_base, run.rules.lot), tick=tick, lot=run.rules.lot,
            )
            entry["pauses"] = dict(run.gate.pauses)
            entry["paused"] = run.gate.held
            entry["open_orders"] = len(run.orders.tracker.open)
            entry["hedge"] = hedge_frame(run.hedge.state()) if run.hedge is not None else None
            symbols[run.symbol] = entry
        kind = svc.endpoint.kind if svc.endpoint is not None else svc.settings.venue.kind
        return status_document(
            symbols, svc.kill.reason, venue=kind, exchange=svc.settings.venue.exchange,
            uptime=round(now - self.started, 3), stopping=svc.stop_event.is_set(),
        )

    # -- the console ------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """The ``hello``'s fixed part: the venue and each symbol's market and settings."""
        svc = self.service
        symbols = []
        for run in svc.runs:
            cfg = run.cfg
            st = cfg.strategy
            symbols.append({
                "symbol": run.symbol, "base": run.market["base"], "quote": run.market["quote"],
                "tick": run.rules.tick, "lot": run.rules.lot, "limit": cfg.risk.max_position,
                "target_q": st.target_q, "order_size": cfg.execution.order_size,
                "strategy": {"model": st.model, "half_spread": st.half_spread, "skew": st.skew, "gamma": st.gamma,
                             "sigma": st.sigma, "kappa": st.kappa, "A": st.A, "horizon": st.horizon,
                             "min_spread": st.min_spread, "min_edge": st.min_edge, "maker_fee": run.maker_fee.bps},
            })
        kind = svc.endpoint.kind if svc.endpoint is not None else svc.settings.venue.kind
        return {"venue": kind, "exchange": svc.settings.venue.exchange, "symbols": symbols}

    def frame(self) -> dict[str, Any]:
        """The state now, as the console draws it (prices at the tick, sizes at the lot, money to 4 decimals;
        ``fills``: those booked since the previous frame)."""
        svc = self.service
        now = time.monotonic()
        symbols: dict[str, Any] = {}
        totals: dict[str, dict[str, float]] = {}
        for run in svc.runs:
            state, inv, shown = run.state, run.inventory, run.orders.shown
            mid = state.mid
            bid, ask = quoted(run)
            quote = run.quoter.last_quote if run.quoter is not None else None
            report = inv.report(mid, shown.tick, shown.lot)
            seen = self._fills_seen.get(run.symbol, 0)
            self._fills_seen[run.symbol] = run.tape.seq
            symbols[run.symbol] = {
                "mid": shown.price(mid, 1), "reservation": shown.price(quote.reservation, 2) if quote else None,
                "bid": shown.price(bid), "ask": shown.price(ask),
                "best_bid": shown.price(state.best_bid), "best_ask": shown.price(state.best_ask),
                "q": report["q"], "limit": run.cfg.risk.max_position, "target_q": run.cfg.strategy.target_q,
                "pnl": {k: v for k, v in report.items() if k != "q"},
                "balances": balances(inv, run.start_base, shown.lot),
                "orders": [order_row(o.side, o.price, o.remaining, mid, shown)
                           for o in run.orders.tracker.open.values()],
                "fills": run.tape.since(seen),
                "feed_age": _seconds(state.age(now)), "pauses": dict(run.gate.pauses),
                "paused": run.gate.held,
                "hedge": hedge_frame(run.hedge.state()) if run.hedge is not None else None,
            }
            total = totals.setdefault(str(run.market["quote"]), dict.fromkeys(PNL_SERIES, 0.0))
            for key in PNL_SERIES:
                total[key] += float(report[key] or 0.0)
        p50, p99 = percentiles(self.metrics.recent_reactions)
        return {
            "t": wall_time(), "killed": svc.kill.tripped, "kill_reason": svc.kill.reason,
            "stopping": svc.stop_event.is_set(), "uptime": round(now - self.started, 3),
            "reaction": {"p50": p50, "p99": p99, "count": len(self.metrics.recent_reactions)},
            "rate_limit_hits": svc.rate.hits, "rate_limited": svc.rate.blocked(),
            "totals": {ccy: {k: money(v) for k, v in t.items()} for ccy, t in totals.items()},
            "symbols": symbols,
        }

    def explore(self, symbol: str, query: Mapping[str, str]) -> dict[str, Any]:
        """The explorer's answer for ``symbol`` (:func:`bot.ops.explore.explore` over its running settings, live
        market, ``q``, resolved maker fee and, where the quoter reads them, live estimates). KeyError: no such
        symbol."""
        run = {r.symbol: r for r in self.service.runs}[symbol]
        running: dict[str, Any] = {"maker_fee": run.maker_fee.bps}
        if run.quoter is not None and run.quoter.use_estimators:
            sigma, A, kappa = run.quoter.estimates(time.monotonic())
            running.update({k: v for k, v in (("sigma", sigma), ("A", A), ("kappa", kappa)) if v is not None})
        cfg, state = run.cfg, run.state
        live = Live(cfg.strategy, cfg.risk, cfg.execution, run.rules, state.mid, run.inventory.q,
                    state.best_bid, state.best_ask, running)
        return {"symbol": symbol, **explore(live, query)}

    # -- the operator's controls ------------------------------------------------------------------
    def set_pause(self, symbol: str | None, on: bool) -> dict[str, Any]:
        """Hold (``on``) or release the operator's pause on ``symbol`` (None: every symbol); each quoter wakes at
        once. The answer says which symbols are paused now; the venue's cancels follow (not yet confirmed)."""
        svc = self.service
        runs = [r for r in svc.runs if symbol is None or r.symbol == symbol]
        if symbol is not None and not runs:
            raise KeyError(symbol)
        changed = []
        for run in runs:
            if run.gate.hold("operator: POST /pause") if on else run.gate.release():
                changed.append(run.symbol)
            run.wake.set()
        named = [r.symbol for r in runs]
        if on:
            svc.log.warning("operator_pause", symbols=named, changed=changed)
        else:
            svc.log.warning("operator_resume", symbols=named, changed=changed)
        paused = [r.symbol for r in svc.runs if r.gate.held]
        if svc.kill.tripped:
            note = "the kill switch has tripped: nothing quotes in this process"
        elif on:
            note = ("quotes are being withdrawn (the bot keeps managing fills and the journal); the venue has not "
                    "confirmed the cancels yet: see open_orders in /status")
        else:
            note = "quoting resumes where no other pause holds (see pauses in /status)"
        return {"paused": paused, "note": note}

    def control_routes(self) -> list[web.RouteDef]:
        """``POST /pause`` and ``POST /resume`` (body ``{}`` or ``{"symbol": S}``) and ``POST /kill``."""

        def route(on: bool) -> Callable[[web.Request], Any]:
            async def handler(request: web.Request) -> web.Response:
                symbol = await _symbol_of(request)
                if isinstance(symbol, web.Response):
                    return symbol
                try:
                    return web.json_response(self.set_pause(symbol, on))
                except KeyError:
                    return web.json_response({"error": f"unknown symbol {str(symbol)[:40]!r}"}, status=404)

            return handler

        return [web.post("/pause", route(True)), web.post("/resume", route(False)),
                *kill_routes(self.service.trip_kill)]

    # -- the server -------------------------------------------------------------------------------
    def _token_for(self, host: str, configured: SecretStr | None) -> SecretStr | None:
        """The token the controls need: ``ops.token``, else (on loopback) one generated now and written to
        ``<state_dir>/ops-token`` (0600) for the command line. Beyond loopback without one the server refuses
        to start (:func:`bot.ops.http.check_binding`)."""
        if configured is not None or not is_loopback(host):
            return configured
        token = secrets.token_urlsafe(32)
        redactor.add(token)
        path = Path(self.service.settings.risk.state_dir) / TOKEN_FILE
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(token + "\n")
        except OSError as exc:
            raise UserError(f"cannot write the ops token file {path}: {exc.strerror or exc}; set ops.token "
                            "(MMBOT_OPS__TOKEN) or make risk.state_dir writable") from None
        self.token_file, self._token = path, token
        return SecretStr(token)

    async def start(self) -> None:
        """Serve the ops routes (and, with ``ops.console``, the console) per ``settings.ops``; a port that cannot
        be bound, or an address beyond loopback without ``ops.token``, is a one-line UserError."""
        cfg = self.service.settings.ops
        if not cfg.enabled:
            return
        token = self._token_for(cfg.host, cfg.token)
        routes = self.control_routes()
        if cfg.console:
            self.console = Console(self.frame, self.describe, self.explore, interval=cfg.console_interval,
                                   window=cfg.console_window, max_clients=cfg.console_clients, log=self.service.log)
            routes += self.console.routes()
        try:
            self.server = await start_ops_server(
                self.metrics, self.ready, self.status, cfg.host, cfg.port, routes=routes,
                token=token, allowed_hosts=cfg.allowed_hosts, log=self.service.log,
            )
        except OSError as exc:
            self._remove_token_file()
            why = (exc.strerror or str(exc)).rsplit(": ", 1)[-1].lower()
            raise UserError(
                f"cannot serve the ops endpoint on {cfg.host}:{cfg.port}: {why}; set ops.port "
                "(MMBOT_OPS__PORT) to a free port (0 = any) or ops.enabled = false"
            ) from None
        except BaseException:
            self._remove_token_file()
            raise
        url = self.server.url
        self.service.log.info("ops_started", url=url, host=cfg.host, port=self.server.port,
                              console=f"{url}/console" if cfg.console else None,
                              token="generated" if self._token else "ops.token",
                              token_file=str(self.token_file) if self.token_file else None)
        if self.console is not None:
            self._console_task = asyncio.create_task(self.console.run(), name="console_feed")

    def announce_console(self) -> None:
        """Tell the operator the console's URL (with the generated token in its fragment) once quoting has begun,
        so a start that fails says only why."""
        if self.console is not None and self.server is not None and self.announce is not None:
            where = f"#token={self._token}" if self._token else " (token: ops.token)"
            self.announce(f"console at {self.server.url}/console{where}")

    def _remove_token_file(self) -> None:
        path, self.token_file = self.token_file, None
        if path is None:
            return
        with contextlib.suppress(OSError):
            if path.read_text().strip() == self._token:  # not one a later run wrote meanwhile
                path.unlink()

    async def stop(self) -> None:
        await cancel_quietly(self._console_task)
        self._console_task = None
        if self.console is not None:
            self.console.close()
        if self.server is not None:
            server, self.server = self.server, None
            await server.stop()
        self._remove_token_file()


def _seconds(age: float) -> float | None:
    """An age in seconds to the millisecond; None before the first update (infinite)."""
    return round(age, 3) if math.isfinite(age) else None


async def _symbol_of(request: web.Request) -> str | web.Response | None:
    """The ``symbol`` of a control's JSON body (None: every symbol), or the 400 answer to a bad body."""
    raw = await request.content.read(4096)
    if not raw.strip():
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        return web.json_response({"error": "the body is not JSON (send {} or {\"symbol\": \"BTC/USDT\"})"},
                                 status=400)
    symbol = body.get("symbol") if isinstance(body, dict) else None
    if symbol is not None and not isinstance(symbol, str):
        return web.json_response({"error": "symbol must be a string"}, status=400)
    return symbol
