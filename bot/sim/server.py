"""The simulated exchange as an aiohttp server, and its in-process API.

    async with await start_sim(settings, port=0) as sim:
        exchange = create_exchange("sim", "binance", sim.url, sim.api_key, sim.api_secret)

A clock task steps the engine every ``step_interval`` seconds of simulated time (catching up if it
falls behind, so the market does not depend on scheduling jitter), then publishes depth diffs,
book tickers and (once a second) tickers. Trades and user events are published right after the
command or step that produced them. With the ``crossed_book`` fault each depth diff also carries a
phantom bid of one lot at the best ask (a stale level a broken feed failed to remove), so every
subscriber's local book reads crossed; when the best ask moves or the fault ends, the next diff restores
that price to the book's real bid quantity. REST snapshots always show the real book.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from types import TracebackType
from typing import Any

from aiohttp import web

from bot.logs import get_logger
from bot.sim import admin, protocol, rest, ws_api, ws_market
from bot.sim.engine import SimExchange, SymbolState
from bot.sim.events import BalanceUpdate, DepthDiff, ExecReport, PublicTrade
from bot.sim.faults import Faults
from bot.sim.perp import rest as perp_rest
from bot.sim.perp import ws as perp_ws
from bot.sim.perp.venue import PerpVenue
from bot.sim.ratelimit import RateLimiter
from bot.sim.settings import FaultSettings, RateLimitSettings, SimSettings
from bot.sim.wire import SIM, dumps


class SimServer:
    """A running simulated exchange. ``url`` is ``http://host:port``; the REST API is ``url + '/api/v3'``."""

    def __init__(self, settings: SimSettings, host: str) -> None:
        self.settings = settings
        self.host = host
        self.port = 0
        self.faults = Faults(settings.faults.model_copy(), settings.seed)
        self.exchange = SimExchange(settings, self.now_ms())
        self.limiter = RateLimiter(settings.rate_limits)
        self.market_hub = ws_market.MarketHub(self.exchange.symbols)
        self.user_hub = ws_api.UserHub()
        account = settings.accounts[0]
        self.api_key = account.api_key
        self.api_secret = account.api_secret.get_secret_value()
        self.paused = False
        self._runner: web.AppRunner | None = None
        self._clock: asyncio.Task[None] | None = None
        self._touch: dict[str, tuple[int | None, int | None, int, int]] = {}
        self.published_depth: dict[str, int] = {}  # symbol id -> ``u`` of the last depth diff sent
        self._phantoms: dict[str, int] = {}  # symbol id -> tick price of the phantom bid last published
        self._next_ticker = 0.0
        self._log = get_logger(component="sim")
        self.perp: PerpVenue | None = None  # the perpetuals (/fapi, /fstream), when settings.perps lists any
        if settings.perps:
            self.perp = PerpVenue(settings, self.exchange)

    # -- time --------------------------------------------------------------------------------
    def now(self) -> float:
        """The sim's clock (the host's, shifted by the ``clock_offset_ms`` fault)."""
        return time.time() + self.faults.settings.clock_offset_ms / 1000.0

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.faults.settings.clock_offset_ms

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/stream/ws"

    @property
    def ws_api_url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws-api/v3"

    @property
    def futures_urls(self) -> dict[str, str] | None:
        """Where a futures client points (ccxt ``binanceusdm``'s URL keys), None without perpetuals."""
        if self.perp is None:
            return None
        ws = f"ws://{self.host}:{self.port}"
        return {"rest": f"{self.url}/fapi/v1", "rest_v2": f"{self.url}/fapi/v2", "rest_v3": f"{self.url}/fapi/v3",
                "ws": f"{ws}/fstream/ws"}

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self, port: int) -> None:
        app = web.Application()
        app[SIM] = self
        app.add_routes(rest.routes())
        app.add_routes(
            [
                web.get("/stream/ws", ws_market.handle),
                web.get("/stream/ws/{tail:.*}", ws_market.handle),
                web.get("/ws", ws_market.handle),
                web.get("/ws/{tail:.*}", ws_market.handle),
                web.get("/ws-api/v3", ws_api.handle),
            ]
        )
        if self.perp is not None:
            app.add_routes(perp_rest.routes())
            app.add_routes(perp_ws.routes())
        if self.settings.admin:
            app.add_routes(admin.routes())
        app.router.add_route("*", "/{tail:.*}", _not_found)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await self._runner.cleanup()
            self._runner = None
            raise
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        self._clock = asyncio.get_running_loop().create_task(self._run_clock())
        self._log.info("sim_started", url=self.url, symbols=sorted(self.exchange.by_name))

    async def stop(self) -> None:
        if self._clock is not None:
            self._clock.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock
            self._clock = None
        await self.drop_sockets()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._log.info("sim_stopped", url=self.url)

    async def __aenter__(self) -> SimServer:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- control -----------------------------------------------------------------------------
    def set_faults(self, gap_next: int = 0, drop_now: bool = False, **changes: Any) -> FaultSettings:
        """Change fault settings at run time. ``gap_next`` skips that many of the next depth diffs
        that have subscribers (a sequence gap); ``drop_now`` closes every WebSocket at the next tick."""
        settings = self.faults.update(**changes) if changes else self.faults.settings
        self.faults.gap_next += gap_next
        if drop_now:
            self.faults.drop_now = True
        self._log.info("sim_faults", **settings.model_dump(), gap_next=self.faults.gap_next, drop_now=drop_now)
        return settings

    def set_rate_limits(self, **changes: Any) -> RateLimitSettings:
        """Change the rate limits at run time (validated; exchangeInfo shows them), of spot and the
        perpetuals alike (each market counts its own weight). A new ``weight_window`` starts every client's
        weight count afresh; bans in force stay."""
        limits = RateLimitSettings.model_validate(self.limiter.settings.model_dump() | changes)
        self.settings.rate_limits = self.limiter.settings = limits
        if self.perp is not None:
            self.perp.limiter.settings = limits
        self._log.info("sim_rate_limits", **limits.model_dump())
        return limits

    async def drop_sockets(self) -> None:
        """Close every market-data and user-stream WebSocket (spot's and the perpetual's)."""
        await self._drop_spot_sockets()
        if self.perp is not None:
            await self.perp.drop_sockets()

    async def _drop_spot_sockets(self) -> None:
        conns = list(self.market_hub.connections) + list(self.user_hub.connections)
        for conn in conns:
            await conn.close(code=1001, message=b"going away")

    # -- publishing --------------------------------------------------------------------------
    def dispatch(self) -> None:
        """Publish the events the engine recorded since the last call."""
        frozen = self.faults.settings.frozen
        now = self.now_ms()
        hub, users = self.market_hub, self.user_hub
        for ev in self.exchange.take_events():
            if isinstance(ev, PublicTrade):
                if not frozen:
                    hub.publish_lazy(f"{ev.symbol}:trade", lambda ev=ev: protocol.trade_event(ev, now))
            elif isinstance(ev, ExecReport):
                users.publish(ev.account, protocol.execution_report(ev))
            elif isinstance(ev, BalanceUpdate):
                users.publish(ev.account, protocol.account_position(ev))

    def publish_market(self) -> None:
        """Depth diffs, book tickers and (each second) tickers for every symbol."""
        if self.faults.settings.frozen:
            return
        hub = self.market_hub
        now_s = self.now()
        tickers = now_s >= self._next_ticker
        if tickers:
            self._next_ticker = now_s + 1.0
        for sym_id, sym in self.exchange.symbols.items():
            diff = self.exchange.take_depth_diff(sym_id)
            channel = f"{sym_id}:depth"
            if diff is not None and hub.has(channel) and not self.faults.gap():
                hub.publish(channel, dumps(protocol.depth_update(self._crossing(sym, diff))))
                self.published_depth[sym_id] = diff.last
            book = sym.book
            touch = (book.best("BUY"), book.best("SELL"), book.qty["BUY"].get(book.best("BUY") or 0, 0),
                     book.qty["SELL"].get(book.best("SELL") or 0, 0))
            if touch != self._touch.get(sym_id):
                self._touch[sym_id] = touch
                hub.publish_lazy(f"{sym_id}:bookTicker", lambda sym=sym: protocol.book_ticker_event(sym))
            if tickers:
                ms = int(now_s * 1000)
                hub.publish_lazy(f"{sym_id}:ticker", lambda sym=sym, ms=ms: protocol.ticker_event(sym, ms))
                hub.publish_lazy(
                    f"{sym_id}:miniTicker", lambda sym=sym, ms=ms: protocol.mini_ticker_event(sym, ms)
                )

    def _crossing(self, sym: SymbolState, diff: DepthDiff) -> DepthDiff:
        """``diff`` with the ``crossed_book`` fault applied: the phantom bid set, moved or removed."""
        old = self._phantoms.pop(sym.id, None)
        ask = sym.book.best("SELL") if self.faults.settings.crossed_book else None
        if old is None and ask is None:
            return diff
        bids = dict(diff.bids)
        if old is not None and old != ask:  # the subscribers hold a phantom here: back to the real level
            bids[old * sym.tick_atoms] = sym.book.qty["BUY"].get(old, 0) * sym.step_atoms
        if ask is not None:
            bids[ask * sym.tick_atoms] = sym.step_atoms
            self._phantoms[sym.id] = ask
        return dataclasses.replace(diff, bids=sorted(bids.items(), reverse=True))

    async def _run_clock(self) -> None:
        dt = self.settings.step_interval
        loop = asyncio.get_running_loop()
        next_due = loop.time() + dt
        while True:
            now = loop.time()
            if now < next_due:
                await asyncio.sleep(next_due - now)
                continue
            steps = 0
            drop_perp = False
            while next_due <= loop.time() and steps < 1000:
                if not self.paused:
                    try:
                        self.exchange.step(dt, self.now_ms())
                        self.dispatch()
                        self.publish_market()
                        if self.perp is not None:
                            drop_perp = self.perp.step(dt, self.perp.now_ms()) or drop_perp
                    except Exception as exc:  # keep the clock alive whatever happens
                        self._log.error("sim_clock_error", error=repr(exc))
                next_due += dt
                steps += 1
            if steps >= 1000:  # hopelessly behind: skip ahead rather than spin
                next_due = loop.time() + dt
            if self.faults.drop(dt * steps):
                await self._drop_spot_sockets()
            if drop_perp and self.perp is not None:
                await self.perp.drop_sockets()
            await asyncio.sleep(0)


async def _not_found(request: web.Request) -> web.Response:
    return web.Response(
        text=dumps({"code": -1000, "msg": f"Unknown endpoint: {request.method} {request.path}"}),
        status=404,
        content_type="application/json",
    )


async def start_sim(settings: SimSettings | None = None, host: str = "127.0.0.1", port: int = 0) -> SimServer:
    """Start a simulated exchange on ``host:port`` (0 = a free port) and return it running."""
    server = SimServer(settings or SimSettings(), host)
    await server.start(port)
    return server
