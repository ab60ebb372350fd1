"""The perpetual's WebSockets under ``/fstream`` (Binance USDⓈ-M's ``fstream`` host, as ccxt.pro reaches it
when ``urls['api']['ws']['linear']`` is ``ws://HOST:PORT/fstream/ws``).

- ``/fstream/public/ws/<n>`` and ``/fstream/market/ws/<n>`` (also ``/fstream/ws[/<n>]``): market streams
  by SUBSCRIBE (``{"result": null, "id": id}`` acks, duplicates accepted): ``<sym>@depth@100ms`` /
  ``<sym>@depth`` (diffs with ``pu``), ``<sym>@bookTicker``, ``<sym>@markPrice@1s`` / ``<sym>@markPrice``
  (every 1 s / 3 s), ``<sym>@trade``, ``<sym>@aggTrade``. Both paths serve every stream (Binance splits
  them between hosts; a client that asks the "wrong" one still gets an answer).
- ``/fstream/private/ws?listenKey=K`` (also ``/fstream/ws/<K>``): the user data stream of the key's account,
  pushed raw (``ORDER_TRADE_UPDATE``, ``ACCOUNT_UPDATE``); the client sends nothing. An unknown or expired
  key is refused (HTTP 400, ``-1125``) before the upgrade.

Listen keys (:class:`ListenKeys`, pure): ``POST /fapi/v1/listenKey`` returns the account's live key (the
same one while it lives, as Binance does) and extends it; ``PUT`` extends it; ``DELETE`` closes it. A key
lives ``LISTEN_KEY_TTL_MS`` (60 minutes) after its last POST/PUT; when it expires, its streams get
``{"e": "listenKeyExpired", "E", "listenKey"}`` and are closed, as at Binance. Every WebSocket here refuses an
upgrade from a web page, as the spot streams do (:func:`bot.sim.ws_market.refuse_upgrade`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from bot.sim.events import SimError
from bot.sim.wire import SIM, Connection, dumps
from bot.sim.ws_market import MarketHub, refuse_upgrade, serve

LISTEN_KEY_TTL_MS = 60 * 60 * 1000
NO_LISTEN_KEY = SimError(-1125, "This listenKey does not exist.")

PERP_CHANNELS = {
    "depth": "depth",
    "depth@100ms": "depth",
    "depth@500ms": "depth",
    "bookTicker": "bookTicker",
    "markPrice@1s": "markPrice@1s",
    "markPrice": "markPrice",
    "trade": "trade",
    "aggTrade": "aggTrade",
}


@dataclass(slots=True)
class _Key:
    account: str
    expires_ms: int


class ListenKeys:
    """Listen keys of the user data stream: at most one live key per account."""

    def __init__(self) -> None:
        self._keys: dict[str, _Key] = {}
        self._by_account: dict[str, str] = {}

    def issue(self, account: str, now_ms: int) -> str:
        """The account's live key (extended), or a new one when it has none."""
        key = self._by_account.get(account)
        if key is not None and self.account_of(key, now_ms) is not None:
            self._keys[key].expires_ms = now_ms + LISTEN_KEY_TTL_MS
            return key
        key = secrets.token_urlsafe(48)[:64]
        self._keys[key] = _Key(account, now_ms + LISTEN_KEY_TTL_MS)
        self._by_account[account] = key
        return key

    def extend(self, account: str, key: str | None, now_ms: int) -> str:
        """Keep ``key`` (or, without one, the account's key) alive another TTL; -1125 when it is not live."""
        key = key or self._by_account.get(account)
        entry = self._keys.get(key) if key else None
        if key is None or entry is None or entry.account != account or entry.expires_ms < now_ms:
            raise NO_LISTEN_KEY
        entry.expires_ms = now_ms + LISTEN_KEY_TTL_MS
        return key

    def close(self, account: str, key: str | None) -> str | None:
        """Close ``key`` (or the account's key); returns the key closed, None when there was none."""
        key = key or self._by_account.get(account)
        entry = self._keys.get(key) if key else None
        if key is None or entry is None or entry.account != account:
            return None
        del self._keys[key]
        self._by_account.pop(account, None)
        return key

    def account_of(self, key: str, now_ms: int) -> str | None:
        """The account a live ``key`` belongs to, else None (unknown or expired)."""
        entry = self._keys.get(key)
        return entry.account if entry is not None and entry.expires_ms >= now_ms else None


class UserStreams:
    """Which connections listen to which account's user data stream (and through which key)."""

    def __init__(self) -> None:
        self.connections: set[Connection] = set()
        self._listeners: dict[str, set[Connection]] = {}
        self._keys: dict[Connection, tuple[str, str]] = {}  # connection -> (account, key)

    def has(self, account: str) -> bool:
        return bool(self._listeners.get(account))

    def add(self, conn: Connection, account: str, key: str) -> None:
        self.connections.add(conn)
        self._listeners.setdefault(account, set()).add(conn)
        self._keys[conn] = (account, key)

    def drop(self, conn: Connection) -> None:
        account, _key = self._keys.pop(conn, ("", ""))
        self._listeners.get(account, set()).discard(conn)
        self.connections.discard(conn)

    def on_key(self, key: str) -> list[Connection]:
        return [c for c, (_a, k) in self._keys.items() if k == key]

    def listen_keys(self) -> set[str]:
        """The listen keys that have a stream open."""
        return {k for _a, k in self._keys.values()}

    def publish(self, account: str, event: dict[str, Any]) -> None:
        listeners = self._listeners.get(account)
        if listeners:
            text = dumps(event)
            for conn in listeners:
                conn.send(text)


def _venue(request: web.Request) -> Any:
    venue = request.app[SIM].perp
    if venue is None:  # pragma: no cover - the routes exist only when perpetuals are served
        raise web.HTTPNotFound()
    return venue


async def market(request: web.Request) -> web.StreamResponse:
    """``/fstream/public/ws/<n>``, ``/fstream/market/ws/<n>``, ``/fstream/ws``: market streams."""
    tail = request.match_info.get("tail", "")
    if tail and "@" not in tail and "/" not in tail and not tail.isdigit():
        return await _private(request, tail)  # ``/fstream/ws/<listenKey>``: Binance's older private URL
    return await serve(request, _venue(request).market_hub)


async def private(request: web.Request) -> web.StreamResponse:
    """``/fstream/private/ws?listenKey=K``: the user data stream of K's account."""
    return await _private(request, request.query.get("listenKey", ""))


async def _private(request: web.Request, key: str) -> web.StreamResponse:
    refused = refuse_upgrade(request)
    if refused is not None:
        return refused
    venue = _venue(request)
    account = venue.listen_keys.account_of(key, venue.now_ms()) if key else None
    if account is None:
        return web.json_response({"code": NO_LISTEN_KEY.code, "msg": NO_LISTEN_KEY.msg}, status=400)
    ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 20)
    await ws.prepare(request)
    conn = Connection(ws)
    streams: UserStreams = venue.user_streams
    streams.add(conn, account, key)
    try:
        async for msg in ws:
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):  # the user stream takes no requests
                conn.send(dumps({"error": {"code": 2, "msg": "Invalid request: the user data stream is "
                                           "read-only"}, "id": None}))
    finally:
        streams.drop(conn)
        await conn.close()
    return ws


def new_market_hub(symbols: Any) -> MarketHub:
    return MarketHub(symbols, PERP_CHANNELS)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/fstream/public/ws", market),
        web.get("/fstream/public/ws/{tail:.*}", market),
        web.get("/fstream/market/ws", market),
        web.get("/fstream/market/ws/{tail:.*}", market),
        web.get("/fstream/ws", market),
        web.get("/fstream/ws/{tail:.*}", market),
        web.get("/fstream/private/ws", private),
    ]
