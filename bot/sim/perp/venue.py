"""The perpetual as the sim serves it: the engine plus what the server adds around it (its own faults,
request-weight counts, WebSocket hubs, listen keys, clock), and the publishing of its events.

:class:`PerpVenue` is created by :class:`bot.sim.server.SimServer` when ``settings.perps`` is non-empty and
stepped by the server's one clock task right after spot, on its own clock (the host's, shifted by
``perp_faults.clock_offset_ms``: the perpetual's timestamps and its signature checks). After each step (and
after each REST command) it publishes depth diffs (``pu`` = the previous diff's ``u``, so a gap breaks the
chain as at Binance), book tickers on a touch change, mark prices every second (``@markPrice@1s``) and three
seconds (``@markPrice``), public trades, and each account's ``ORDER_TRADE_UPDATE`` / ``ACCOUNT_UPDATE``.

Faults (``perp_faults``, independent of spot's): ``frozen`` stops the market streams, ``gap_next`` /
``gap_probability`` skip depth diffs, ``drop_now`` / ``drop_sockets_rate`` close the ``/fstream`` sockets,
``user_stream_silent`` sends no user event, ``position_lag_ms`` makes ``positionRisk``/``account`` answer the
engine's state of that long ago and delays every ``ACCOUNT_UPDATE`` by as long.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bot.logs import get_logger
from bot.sim.engine import HOUSE, SimExchange
from bot.sim.events import PublicTrade
from bot.sim.faults import Faults
from bot.sim.perp import wire
from bot.sim.perp.engine import PerpAccount, PerpExchange
from bot.sim.perp.records import AccountInfo, PerpAccountUpdate, PerpOrderReport, PerpPosition
from bot.sim.perp.ws import ListenKeys, UserStreams, new_market_hub
from bot.sim.ratelimit import RateLimiter
from bot.sim.settings import PerpFaultSettings, SimSettings
from bot.sim.wire import dumps


class PerpVenue:
    """The simulated perpetual's engine, faults, limits and streams (see the module docstring)."""

    def __init__(self, settings: SimSettings, spot: SimExchange) -> None:
        self.settings = settings
        self.faults = Faults(settings.perp_faults.model_copy(), settings.seed + 1)
        self.engine = PerpExchange(settings, spot, self.now_ms())
        self.limiter = RateLimiter(settings.rate_limits)
        self.market_hub = new_market_hub(self.engine.symbols)
        self.user_streams = UserStreams()
        self.listen_keys = ListenKeys()
        self.published_depth: dict[str, int] = {}  # symbol id -> ``u`` of the last depth diff sent
        self._touch: dict[str, tuple[Any, ...]] = {}
        self._next_mark_1s = 0
        self._next_mark_3s = 0
        self._log = get_logger(component="sim")

    # -- time --------------------------------------------------------------------------------
    def now(self) -> float:
        """The perpetual's clock: the host's, shifted by ``perp_faults.clock_offset_ms``."""
        return time.time() + self.faults.settings.clock_offset_ms / 1000.0

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.faults.settings.clock_offset_ms

    @property
    def perp_faults(self) -> PerpFaultSettings:
        return self.faults.settings  # type: ignore[return-value]

    # -- control -----------------------------------------------------------------------------
    def set_faults(self, gap_next: int = 0, drop_now: bool = False, **changes: Any) -> PerpFaultSettings:
        """Change the perpetual's faults at run time (as :meth:`SimServer.set_faults` does spot's)."""
        settings = self.faults.update(**changes) if changes else self.faults.settings
        self.faults.gap_next += gap_next
        if drop_now:
            self.faults.drop_now = True
        self._log.info("sim_perp_faults", **settings.model_dump(), gap_next=self.faults.gap_next,
                       drop_now=drop_now)
        return settings  # type: ignore[return-value]

    async def drop_sockets(self) -> None:
        """Close every ``/fstream`` WebSocket (market and user streams)."""
        for conn in list(self.market_hub.connections) + list(self.user_streams.connections):
            await conn.close(code=1001, message=b"going away")

    async def close_user_streams(self, key: str) -> None:
        for conn in self.user_streams.on_key(key):
            await conn.close(code=1000, message=b"listenKey closed")

    async def slow_ack(self) -> None:
        delay = self.perp_faults.slow_ack_ms
        if delay:
            await asyncio.sleep(delay / 1000)

    # -- the clock ---------------------------------------------------------------------------
    def step(self, dt: float, now_ms: int) -> bool:
        """One clock step after spot's: engine, events, market streams; True when the sockets should be
        dropped now (the drop fault)."""
        self.engine.step(dt, now_ms)
        self.dispatch()
        self.publish_market(now_ms)
        self._expire_streams(now_ms)
        return self.faults.drop(dt)

    def _expire_streams(self, now_ms: int) -> None:
        """Tell the streams of an expired listen key so (``listenKeyExpired``) and close them."""
        for key in self.user_streams.listen_keys():
            if self.listen_keys.account_of(key, now_ms) is None:
                event = dumps({"e": "listenKeyExpired", "E": now_ms, "listenKey": key})
                for conn in self.user_streams.on_key(key):
                    conn.send(event)
                    conn.end(1000, b"listenKey expired")

    def dispatch(self) -> None:
        """Publish the events the engine recorded since the last call."""
        faults = self.perp_faults
        hub = self.market_hub
        now = self.now_ms()
        for ev in self.engine.take_events():
            if isinstance(ev, PublicTrade):
                if not faults.frozen:
                    hub.publish_lazy(f"{ev.symbol}:trade", lambda ev=ev: wire.trade_event(ev, now))
                    hub.publish_lazy(f"{ev.symbol}:aggTrade", lambda ev=ev: wire.agg_trade_event(ev, now))
            elif faults.user_stream_silent:
                continue
            elif isinstance(ev, PerpOrderReport):
                self.user_streams.publish(ev.account, wire.order_trade_update(ev, now))
            elif isinstance(ev, PerpAccountUpdate):
                self._account_update(ev, now)

    def _account_update(self, ev: PerpAccountUpdate, now: int) -> None:
        if not self.user_streams.has(ev.account):
            return
        body = wire.account_update(ev, now)
        lag = self.perp_faults.position_lag_ms
        if not lag:
            self.user_streams.publish(ev.account, body)
            return
        loop = asyncio.get_running_loop()
        loop.call_later(lag / 1000, self._late_update, ev.account, body)

    def _late_update(self, account: str, body: dict[str, Any]) -> None:
        if not self.perp_faults.user_stream_silent:
            self.user_streams.publish(account, body)

    def publish_market(self, now_ms: int) -> None:
        """Depth diffs, book tickers and mark prices for every perpetual."""
        if self.perp_faults.frozen:
            return
        hub = self.market_hub
        ex = self.engine
        marks_1s = now_ms >= self._next_mark_1s
        marks_3s = now_ms >= self._next_mark_3s
        if marks_1s:
            self._next_mark_1s = now_ms + 1000
        if marks_3s:
            self._next_mark_3s = now_ms + 3000
        for sym_id, sym in ex.symbols.items():
            diff = ex.take_depth_diff(sym_id)
            channel = f"{sym_id}:depth"
            if diff is not None and hub.has(channel) and not self.faults.gap():
                hub.publish(channel, dumps(wire.depth_update(diff, now_ms)))
                self.published_depth[sym_id] = diff.last
            touch = wire.touch(sym)
            if touch != self._touch.get(sym_id):
                self._touch[sym_id] = touch
                hub.publish_lazy(f"{sym_id}:bookTicker", lambda sym=sym: wire.book_ticker_event(sym, now_ms))
            if marks_1s:
                hub.publish_lazy(f"{sym_id}:markPrice@1s",
                                 lambda sym=sym: wire.mark_price_event(ex, sym, now_ms))
            if marks_3s:
                hub.publish_lazy(f"{sym_id}:markPrice", lambda sym=sym: wire.mark_price_event(ex, sym, now_ms))

    # -- what an account is told -----------------------------------------------------------
    def report(self, acct: PerpAccount) -> tuple[list[PerpPosition], AccountInfo]:
        """The account's positions and balances as ``positionRisk`` and ``account`` answer them: the truth,
        or with ``position_lag_ms`` the engine's state of that long ago (valued at the current mark)."""
        lag = self.perp_faults.position_lag_ms
        return self.engine.positions(acct, lag), self.engine.account_info(acct, lag)

    def accounts(self) -> list[PerpAccount]:
        """The users' futures accounts (not the house)."""
        return [a for a in self.engine.accounts.values() if a.name != HOUSE]

    # -- admin actions -----------------------------------------------------------------------
    def shock_basis(self, bps: float) -> None:
        """Move every perpetual's basis by ``bps`` now (it then mean-reverts)."""
        self.engine.shock_basis(bps)
        self._log.info("sim_perp_basis_shock", bps=bps)

    def funding_now(self) -> None:
        """Settle funding on every perpetual now, at its current predicted rate; publish the updates."""
        now = self.now_ms()
        for sym_id in sorted(self.engine.symbols):
            self.engine.settle_funding(sym_id, now)
        self.dispatch()
        self._log.info("sim_perp_funding_now")

    def funding_history(self, symbol_id: str) -> list[dict[str, Any]]:
        return [wire.funding_row(r) for r in self.engine.funding_history(symbol_id)]
