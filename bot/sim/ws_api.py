"""WebSocket API (``/ws-api/v3``): ``userDataStream.subscribe.signature`` and the user data stream.

After a signed subscribe, the connection receives ``{"subscriptionId": n, "event": {...}}`` for every
``executionReport`` and ``outboundAccountPosition`` of that account. Also answers ``ping``, ``time``,
``userDataStream.unsubscribe`` and ``session.subscriptions``, and the signed trading requests
``order.place``, ``order.cancel``, ``order.status``, ``openOrders.status``, ``openOrders.cancelAll``,
``account.status``, ``myTrades`` and ``allOrders``: each runs the REST handler, as its own task (replies
may come out of order), with REST's weights, signature and time checks, and faults answered the way
Binance's WebSocket API answers them:

- an injected 429 or 418 -> that ``status`` with -1003, drawn before the request is processed, with no
  hint (as REST's injected ones carry no ``Retry-After``); the limiter's own -1003 answers carry
  ``error.data = {"serverTime", "retryAfter"}`` (ms epoch), as REST's carry ``Retry-After``;
- an injected 5xx -> ``status`` 503, -1008 "Server is currently overloaded ...", not executed;
- unknown fate (``order.place``, ``order.cancel``, ``openOrders.cancelAll``: REST's mutating handlers)
  -> executed, then answered like REST: ``status`` 503, -1007 "... execution status unknown.".

Every bad message gets an error reply. An upgrade from a web page (a foreign ``Origin`` or ``Host``) is
refused before it happens, as on the market streams (:func:`bot.sim.ws_market.refuse_upgrade`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from aiohttp import WSMsgType, web

from bot.sim import rest
from bot.sim.accounts import Account
from bot.sim.auth import check_ws, ws_value
from bot.sim.events import SimError
from bot.sim.wire import SIM, Connection, dumps, request_id
from bot.sim.ws_market import refuse_upgrade


def _reply(req_id: Any, result: Any) -> str:
    return dumps({"id": req_id, "status": 200, "result": result, "rateLimits": []})


def _error(req_id: Any, code: int, msg: str, status: int = 400, data: dict[str, Any] | None = None) -> str:
    error: dict[str, Any] = {"code": code, "msg": msg}
    if data is not None:
        error["data"] = data
    return dumps({"id": req_id, "status": status, "error": error})


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


class Method(NamedTuple):
    """A signed trading request: its REST handler, weight, and whether it counts as a new order."""

    fn: rest.Handler
    weight: rest.Weight
    order: bool = False


TRADING: dict[str, Method] = {
    "order.place": Method(rest.new_order, rest._const(1), order=True),
    "order.cancel": Method(rest.cancel_order, rest._const(1)),
    "order.status": Method(rest.get_order, rest._const(4)),
    "openOrders.status": Method(rest.open_orders, rest._by_symbol(6, 80)),
    "openOrders.cancelAll": Method(rest.cancel_open_orders, rest._const(1)),
    "account.status": Method(rest.account_info, rest._const(20)),
    "myTrades": Method(rest.my_trades, rest._const(20)),
    "allOrders": Method(rest.all_orders, rest._const(20)),
}
SERVER_BUSY = SimError(
    -1008, "Server is currently overloaded with other requests. Please try again in a few minutes.", 503
)
_NOT_PARAMS = frozenset({"apiKey", "signature", "timestamp", "recvWindow", "returnRateLimits"})


def _trading_request(text: str) -> dict[str, Any] | None:
    try:
        msg = json.loads(text)
    except ValueError:
        return None
    if isinstance(msg, dict) and msg.get("method") in TRADING and isinstance(msg.get("params"), dict):
        return msg
    return None


async def _trade(sim: Any, conn: Connection, client: str, msg: dict[str, Any]) -> None:
    """Run one signed trading request through the REST handler, with REST's faults; reply on ``conn``."""
    req_id = request_id(msg.get("id"))
    method = TRADING[msg["method"]]
    params: dict[str, Any] = msg["params"]
    try:
        injected = sim.faults.http_status()
        if injected is not None:
            raise rest.INJECTED.get(injected, SERVER_BUSY)  # a 5xx: overloaded, not executed
        now = sim.now()
        plain = {k: ws_value(v) for k, v in params.items() if k not in _NOT_PARAMS and v is not None}
        sim.limiter.charge(client, method.weight(plain), now)
        account = check_ws(sim.exchange.ledger.by_key, params, int(now * 1000), sim.settings.recv_window_max)
        if method.order:
            sim.limiter.count_order(client, now)
        result = await method.fn(sim, plain, account)
        if method.fn in rest.MUTATING and sim.faults.unknown_fate():
            raise rest.UNKNOWN_FATE
        reply = _reply(req_id, result)
    except SimError as exc:
        data = None
        if exc.status in (418, 429) and exc.code == -1003 and exc not in rest.INJECTED.values():
            now = sim.now()
            data = {"serverTime": int(now * 1000),
                    "retryAfter": int((now + sim.limiter.retry_after(client, now)) * 1000)}
        reply = _error(req_id, exc.code, exc.msg, exc.status, data)
    except Exception:  # a bug must not take the connection down
        reply = _error(req_id, -1000, "An unknown error occurred while processing the request.", 500)
    conn.send(reply)


async def handle(request: web.Request) -> web.StreamResponse:
    refused = refuse_upgrade(request)
    if refused is not None:
        return refused
    sim = request.app[SIM]
    hub: UserHub = sim.user_hub
    ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 20)
    await ws.prepare(request)
    conn = Connection(ws)
    hub.connections.add(conn)
    client = request.remote or "?"
    pending: set[asyncio.Task[None]] = set()
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                trading = _trading_request(msg.data)
                if trading is not None:
                    task = asyncio.get_running_loop().create_task(_trade(sim, conn, client, trading))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                    continue
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
        for task in list(pending):
            task.cancel()
        hub.drop(conn)
        await conn.close()
    return ws
