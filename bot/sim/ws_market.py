"""Market-data WebSocket (``/stream/ws`` and ``/stream/ws/<n>``): SUBSCRIBE/UNSUBSCRIBE with
``{"result": null, "id": id}`` acks, and raw (unwrapped) events per stream.

Streams: ``<sym>@depth`` and ``<sym>@depth@100ms`` (diffs), ``<sym>@trade``, ``<sym>@bookTicker``,
``<sym>@ticker``, ``<sym>@miniTicker``. Each event is serialized once and the same text is queued to
every subscriber.

Both WebSocket endpoints (this one and ``/ws-api/v3``) refuse an upgrade from a web page
(:func:`refuse_upgrade`, once per connection): an ``Origin`` that is not a loopback page -> 403, and, when
the sim listens on a specific address, a ``Host`` that is neither that address nor a loopback name -> 421
(against DNS rebinding). Browsers apply no CORS to WebSockets and the sim's default keys are public, so
without this any page open on the host could trade on a running sim. ccxt sends no ``Origin``.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Collection, Mapping
from typing import Any

from aiohttp import WSMsgType, web

from bot.ops.http import Refusal, address, allowed_host_names, host_name, origin_is_loopback
from bot.sim.wire import SIM, Connection, dumps, request_id

CHANNELS = {"depth": "depth", "depth@100ms": "depth", "trade": "trade", "bookTicker": "bookTicker",
            "ticker": "ticker", "miniTicker": "miniTicker"}


def _error(code: int, msg: str, req_id: Any) -> str:
    return dumps({"error": {"code": code, "msg": msg}, "id": req_id})


def _wildcard(bind_host: str) -> bool:
    """True when ``bind_host`` is an unspecified address (``0.0.0.0``, ``::``, empty): every interface."""
    name = address(bind_host)
    try:
        return not name or ipaddress.ip_address(name).is_unspecified
    except ValueError:
        return False


def upgrade_refusal(host: str | None, origin: str | None, bind_host: str) -> Refusal | None:
    """None when a WebSocket upgrade with these ``Host`` and ``Origin`` headers (None: absent) may be
    served by a sim bound to ``bind_host``, else why not.

    ``Origin``, when present, must be a loopback page (else 403). ``Host`` must be ``bind_host`` or a
    loopback name (else 421) unless the sim listens on every interface (``0.0.0.0``: reachable by any name,
    e.g. ``exchange-sim`` in docker-compose, and by any host on the network anyway).
    """
    if not _wildcard(bind_host):
        name = host_name(host) if host is not None else None
        if name is None or name not in allowed_host_names(bind_host):
            return Refusal(421, "host", "Host not allowed: connect to the sim's address, 127.0.0.1 or localhost")
    if origin is not None and not origin_is_loopback(origin):
        return Refusal(403, "origin", "cross-origin WebSocket connections are not allowed")
    return None


def refuse_upgrade(request: web.Request) -> web.Response | None:
    """The HTTP response refusing ``request``'s WebSocket upgrade (see :func:`upgrade_refusal`), else None."""
    why = upgrade_refusal(request.headers.get("Host"), request.headers.get("Origin"), request.app[SIM].host)
    return None if why is None else web.json_response({"error": why.error}, status=why.status)


class MarketHub:
    """Who listens to which channel (``BTCUSDT:depth``)."""

    def __init__(self, symbols: Collection[str], channels: Mapping[str, str] = CHANNELS) -> None:
        self.symbols = set(symbols)
        self.kinds = channels  # stream kind (after ``<sym>@``) -> channel name
        self.channels: dict[str, set[Connection]] = {}
        self.connections: set[Connection] = set()

    def channel_of(self, stream: str) -> str | None:
        sym, _, kind = stream.partition("@")
        channel = self.kinds.get(kind)
        if channel is None or sym.upper() not in self.symbols or sym != sym.lower():
            return None
        return f"{sym.upper()}:{channel}"

    def has(self, channel: str) -> bool:
        return bool(self.channels.get(channel))

    def publish(self, channel: str, text: str) -> None:
        for conn in self.channels.get(channel, ()):
            conn.send(text)

    def publish_lazy(self, channel: str, make: Callable[[], dict[str, Any]]) -> None:
        subs = self.channels.get(channel)
        if subs:
            text = dumps(make())
            for conn in subs:
                conn.send(text)

    def subscribe(self, conn: Connection, streams: list[str]) -> None:
        for stream in streams:
            conn.streams.add(stream)
            channel = self.channel_of(stream)
            if channel is not None:
                self.channels.setdefault(channel, set()).add(conn)

    def unsubscribe(self, conn: Connection, streams: list[str]) -> None:
        for stream in streams:
            conn.streams.discard(stream)
            channel = self.channel_of(stream)
            if channel is not None and not any(self.channel_of(s) == channel for s in conn.streams):
                self.channels.get(channel, set()).discard(conn)

    def drop(self, conn: Connection) -> None:
        for subs in self.channels.values():
            subs.discard(conn)
        self.connections.discard(conn)

    def handle_text(self, conn: Connection, text: str) -> str:
        """One client message -> the reply text (an ack or an error)."""
        try:
            msg = json.loads(text)
        except ValueError:
            return _error(3, "Invalid JSON: expected value at line 1 column 1", None)
        if not isinstance(msg, dict):
            return _error(3, "Invalid request: request must be an object", None)
        req_id = request_id(msg.get("id"))
        if req_id is None and msg.get("id") is not None:
            return _error(3, "Invalid request: 'id' must be an int64 or a string of up to 36 characters", None)
        method = msg.get("method")
        params = msg.get("params", [])
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                return _error(2, "Invalid request: 'params' must be an array of strings", req_id)
            bad = [p for p in params if self.channel_of(p) is None]
            if bad:
                return _error(2, f"Invalid request: unknown stream '{bad[0]}'", req_id)
            (self.subscribe if method == "SUBSCRIBE" else self.unsubscribe)(conn, params)
            return dumps({"result": None, "id": req_id})
        if method == "LIST_SUBSCRIPTIONS":
            return dumps({"result": sorted(conn.streams), "id": req_id})
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            return dumps({"result": None if method == "SET_PROPERTY" else False, "id": req_id})
        return _error(2, "Invalid request: unknown method", req_id)


async def handle(request: web.Request) -> web.StreamResponse:
    return await serve(request, request.app[SIM].market_hub)


async def serve(request: web.Request, hub: MarketHub) -> web.StreamResponse:
    """Serve one market-data WebSocket from ``hub`` (spot's, or the perpetual's on ``/fstream``)."""
    refused = refuse_upgrade(request)
    if refused is not None:
        return refused
    ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 20)
    await ws.prepare(request)
    conn = Connection(ws)
    hub.connections.add(conn)
    tail = request.match_info.get("tail", "")
    if "@" in tail:  # raw stream URL: /stream/ws/btcusdt@trade/ethusdt@trade
        streams = [s for s in tail.split("/") if hub.channel_of(s) is not None]
        hub.subscribe(conn, streams)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                try:
                    conn.send(hub.handle_text(conn, msg.data))
                except Exception:  # never drop the connection over one bad message
                    conn.send(_error(3, "Invalid request", None))
            elif msg.type == WSMsgType.BINARY:
                conn.send(_error(3, "Invalid request: binary frames are not supported", None))
    finally:
        hub.drop(conn)
        await conn.close()
    return ws
