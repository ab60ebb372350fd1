"""WebSocket API (``/ws-api/v3``): ``userDataStream.subscribe.signature`` and the user data stream.

After a signed subscribe, the connection receives ``{"subscriptionId": n, "event": {...}}`` for every
``executionReport`` and ``outboundAccountPosition`` of that account. Also answers ``ping``, ``time``,
``userDataStream.unsubscribe`` and ``session.subscriptions``. Every bad message gets an error reply.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import WSMsgType, web

from bot.sim.accounts import Account
from bot.sim.auth import check_ws
from bot.sim.events import SimError
from bot.sim.wire import SIM, Connection, dumps, request_id


def _reply(req_id: Any, result: Any) -> str:
    return dumps({"id": req_id, "status": 200, "result": result, "rateLimits": []})


def _error(req_id: Any, code: int, msg: str, status: int = 400) -> str:
    return dumps({"id": req_id, "status": status, "error": {"code": code, "msg": msg}})


class UserHub:
    """Which connections listen to which account, by subscription id."""

    def __init__(self) -> None:
        self.connections: set[Connection] = set()
        self._listeners: dict[str, set[tuple[Connection, int]]] = {}
        self._next_id = 0

    def has(self, account: str) -> bool:
        return bool(self._listeners.get(account))

    def publish(self, account: str, event: dict[str, Any]) -> None:
        listeners = self._listeners.get(account)
        if not listeners:
            return
        body = dumps(event)
        for conn, sid in listeners:
            conn.send(f'{{"subscriptionId":{sid},"event":{body}}}')

    def subscribe(self, conn: Connection, account: str) -> int:
        sid = self._next_id
        self._next_id += 1
        conn.subscriptions[sid] = account
        self._listeners.setdefault(account, set()).add((conn, sid))
        return sid

    def unsubscribe(self, conn: Connection, sid: int | None) -> list[int]:
        ids = list(conn.subscriptions) if sid is None else [sid] if sid in conn.subscriptions else []
        for i in ids:
            account = conn.subscriptions.pop(i)
            self._listeners.get(account, set()).discard((conn, i))
        return ids

    def drop(self, conn: Connection) -> None:
        self.unsubscribe(conn, None)
        self.connections.discard(conn)

    def handle_text(
        self,
        conn: Connection,
        text: str,
        accounts: Mapping[str, Account],
        now_ms: Callable[[], int],
        recv_window_max: int,
    ) -> str:
        try:
            msg = json.loads(text)
        except ValueError:
            return _error(None, -1100, "Malformed request: invalid JSON.")
        if not isinstance(msg, dict):
            return _error(None, -1100, "Malformed request: expected a JSON object.")
        req_id = request_id(msg.get("id"))
        if req_id is None and msg.get("id") is not None:
            return _error(None, -1100, "Malformed request: 'id' must be an int64 or a string of up to 36 characters.")
        method = msg.get("method")
        params = msg.get("params", {})
        if not isinstance(params, dict):
            return _error(req_id, -1100, "Malformed request: 'params' must be an object.")
        try:
            if method == "ping":
                return _reply(req_id, {})
            if method == "time":
                return _reply(req_id, {"serverTime": now_ms()})
            if method == "userDataStream.subscribe.signature":
                account = check_ws(accounts, params, now_ms(), recv_window_max)
                return _reply(req_id, {"subscriptionId": self.subscribe(conn, account.name)})
            if method == "userDataStream.unsubscribe":
                raw = params.get("subscriptionId")
                sid = None if raw is None else int(raw)
                if sid is not None and sid not in conn.subscriptions:
                    raise SimError(-2, "Invalid subscriptionId.")
                self.unsubscribe(conn, sid)
                return _reply(req_id, {})
            if method == "session.subscriptions":
                return _reply(req_id, [{"subscriptionId": s} for s in sorted(conn.subscriptions)])
            return _error(req_id, -1100, f"Unknown method: {method!r}.")
        except SimError as exc:
            return _error(req_id, exc.code, exc.msg, 400 if exc.status >= 500 else exc.status)
        except (TypeError, ValueError):
            return _error(req_id, -1100, "Malformed request: bad parameter value.")


async def handle(request: web.Request) -> web.WebSocketResponse:
    sim = request.app[SIM]
    hub: UserHub = sim.user_hub
    ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 20)
    await ws.prepare(request)
    conn = Connection(ws)
    hub.connections.add(conn)
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                try:
                    reply = hub.handle_text(
                        conn, msg.data, sim.exchange.ledger.by_key, sim.now_ms, sim.settings.recv_window_max
                    )
                except Exception:  # never drop the connection over one bad message
                    reply = _error(None, -1000, "An unknown error occurred while processing the request.", 500)
                conn.send(reply)
            elif msg.type == WSMsgType.BINARY:
                conn.send(_error(None, -1100, "Malformed request: binary frames are not supported."))
    finally:
        hub.drop(conn)
        await conn.close()
    return ws
