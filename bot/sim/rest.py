"""REST API under ``/api/v3`` with Binance's weights, signatures and error bodies.

Every handler runs inside ``_endpoint``: first the web-page guard (:func:`request_refusal`: the ``Host``
rule of the sim's WebSockets -> 421, against DNS rebinding; a foreign ``Origin`` on a non-GET -> 403; both
answered ``{"code": -1002, "msg"}``, which ccxt raises as ``AuthenticationError``), then injected faults,
request weight (``X-MBX-USED-WEIGHT-1M``, named after the weight window), signature and time checks, then
the handler; any ``SimError`` becomes ``{"code", "msg"}`` with its HTTP status (a weight 429/418 also
carries ``Retry-After``) and anything unexpected becomes -1000 with HTTP 500 — a request never crashes the
server.
"""

from __future__ import annotations

import asyncio
import functools
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from bot.logs import get_logger
from bot.ops.http import Refusal, origin_is_loopback
from bot.sim import protocol
from bot.sim.accounts import Account
from bot.sim.auth import BAD_KEY, BAD_KEY_FORMAT, check_rest
from bot.sim.engine import SymbolState
from bot.sim.events import SimError
from bot.sim.filters import missing, parse_int, parse_new_order
from bot.sim.ratelimit import weight_header
from bot.sim.wire import SIM, dumps
from bot.sim.ws_market import upgrade_refusal

Params = dict[str, str]
Handler = Callable[[Any, Params, Account | None], Awaitable[Any]]
Weight = Callable[[Params], int]

INTERNAL = SimError(-1000, "An unknown error occurred while processing the request.", 500)
UNKNOWN_FATE = SimError(
    -1007, "Timeout waiting for response from backend server. Send status unknown; execution status unknown.", 503
)
INJECTED_429 = SimError(-1003, "Too many requests (injected fault).", 429)
INJECTED_418 = SimError(-1003, "Way too many requests; IP banned (injected fault).", 418)
INJECTED: dict[int, SimError] = {429: INJECTED_429, 418: INJECTED_418}  # injected rate-limit status -> answer


def _const(n: int) -> Weight:
    return lambda _p: n


def _depth_weight(p: Params) -> int:
    try:
        limit = int(p.get("limit", "100"))
    except ValueError:
        return 5
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def _by_symbol(with_symbol: int, without: int) -> Weight:
    return lambda p: with_symbol if (p.get("symbol") or p.get("symbols")) else without


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(text=dumps(body), status=status, content_type="application/json")


SAFE_METHODS = frozenset({"GET", "HEAD"})
CROSS_ORIGIN = Refusal(403, "origin", "cross-origin requests are not allowed")


def request_refusal(method: str, host: str | None, origin: str | None, bind_host: str) -> Refusal | None:
    """None when a REST request with these ``Host`` and ``Origin`` headers (None: absent) may be served by
    a sim bound to ``bind_host``, else why not.

    ``Host`` follows the WebSockets' rule (:func:`bot.sim.ws_market.upgrade_refusal`: the sim's address or
    a loopback name, else 421; any name when the sim listens on every interface). A method other than GET
    and HEAD with an ``Origin`` that is not a loopback page -> 403 (a DNS-rebinding page is same-origin to
    the browser, so CORS does not stop it; the sim's default keys are public). ccxt sends no ``Origin``.
    """
    why = _host_refusal(host, bind_host)
    if why is None and origin is not None and method not in SAFE_METHODS and not origin_is_loopback(origin):
        return CROSS_ORIGIN
    return why


@functools.lru_cache(maxsize=64)
def _host_refusal(host: str | None, bind_host: str) -> Refusal | None:
    """The WebSockets' ``Host`` rule, memoized: a client sends the same ``Host`` on every request."""
    return upgrade_refusal(host, None, bind_host)


def _spot_market(sim: Any) -> Any:
    return sim


def _endpoint(
    fn: Handler,
    weight: Weight,
    signed: bool = False,
    order: bool = False,
    *,
    market: Callable[[Any], Any] = _spot_market,
    mutates: bool | None = None,
    keyed: bool = False,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``fn`` served with the guard, faults, weights and signature checks of ``market(sim)``: an object
    with ``faults``, ``limiter`` and ``now()`` (its clock; spot: the server itself; the perpetual: its
    venue). Accounts and keys are the server's (one API key serves both markets, as on Binance).
    ``keyed``: the API key alone authenticates (``X-MBX-APIKEY``, no signature: the listenKey endpoints)."""
    if mutates is None:
        mutates = fn in MUTATING

    async def handler(request: web.Request) -> web.Response:
        sim = request.app[SIM]
        venue = market(sim)
        headers = request.headers
        refused = request_refusal(request.method, headers.get("Host"), headers.get("Origin"), sim.host)
        if refused is not None:
            return _json({"code": -1002, "msg": refused.error}, refused.status)
        client = request.remote or "?"
        used = 0
        order_count = 0
        try:
            injected = venue.faults.http_status()
            if injected is not None:
                return _injected(injected)
            query_raw = request.rel_url.raw_query_string
            body_raw = ""
            if request.can_read_body:
                try:
                    body_raw = (await request.read()).decode("utf-8")
                except UnicodeDecodeError:
                    raise SimError(-1100, "Illegal characters found in a parameter.") from None
            params: Params = dict(parse_qsl(query_raw, keep_blank_values=True))
            if body_raw:
                params.update(parse_qsl(body_raw, keep_blank_values=True))
            now = venue.now()
            used = venue.limiter.charge(client, weight(params), now)
            account = None
            if keyed:
                account = _keyed_account(sim.exchange.ledger.by_key, headers.get("X-MBX-APIKEY"))
            elif signed:
                account = check_rest(
                    sim.exchange.ledger.by_key, request.headers.get("X-MBX-APIKEY"), query_raw, body_raw,
                    params, int(now * 1000), sim.settings.recv_window_max,
                )
            if order:
                order_count = venue.limiter.count_order(client, now)
            body = await fn(sim, params, account)
            if mutates and venue.faults.unknown_fate():
                raise UNKNOWN_FATE
            response = _json(body)
        except SimError as exc:
            response = _json({"code": exc.code, "msg": exc.msg}, exc.status)
            if exc.status in (418, 429) and exc.code == -1003:
                response.headers["Retry-After"] = str(venue.limiter.retry_after(client, venue.now()))
        except Exception as exc:  # a bug must not take the server down
            get_logger(component="sim").error("sim_rest_error", path=request.path, error=repr(exc))
            response = _json({"code": INTERNAL.code, "msg": INTERNAL.msg}, 500)
        header = weight_header(venue.limiter.settings.weight_window)
        response.headers[header] = str(used or venue.limiter.used(client, venue.now()))
        if order_count:
            response.headers["X-MBX-ORDER-COUNT-10S"] = str(order_count)
        return response

    return handler


def _keyed_account(by_key: Mapping[str, Account], api_key: str | None) -> Account:
    """The account of a request authenticated by its API key alone, or a SimError (-2014/-2015)."""
    if not api_key:
        raise BAD_KEY_FORMAT
    account = by_key.get(api_key)
    if account is None:
        raise BAD_KEY
    return account


def _injected(status: int) -> web.Response:
    err = INJECTED.get(status)
    if err is not None:
        return _json({"code": err.code, "msg": err.msg}, status)
    return _json({"msg": "Service Unavailable."}, status)


# -- helpers -------------------------------------------------------------------------------
def _symbol(sim: Any, params: Params) -> SymbolState:
    raw = params.get("symbol")
    if not raw:
        raise missing("symbol")
    return sim.exchange.symbol(raw)  # type: ignore[no-any-return]


def _optional_symbol(sim: Any, params: Params) -> SymbolState | None:
    return _symbol(sim, params) if params.get("symbol") else None


def _symbols(sim: Any, params: Params) -> list[SymbolState]:
    sym = _optional_symbol(sim, params)
    if sym is not None:
        return [sym]
    raw = params.get("symbols")
    if raw:
        try:
            names = json.loads(raw)
        except ValueError:
            raise SimError(-1100, "Illegal characters found in parameter 'symbols'.") from None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise SimError(-1100, "Illegal characters found in parameter 'symbols'.")
        return [sim.exchange.symbol(n) for n in names]
    return list(sim.exchange.symbols.values())


def _limit(params: Params, default: int, maximum: int) -> int:
    raw = params.get("limit")
    if not raw:
        return default
    value = parse_int("limit", raw)
    if value < 1:
        raise SimError(-1100, "Illegal characters found in parameter 'limit'.")
    return min(value, maximum)


def _order_ref(params: Params) -> tuple[int | None, str | None]:
    oid = params.get("orderId")
    cid = params.get("origClientOrderId")
    if not oid and not cid:
        raise SimError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
    return (parse_int("orderId", oid) if oid else None), (cid or None)


# -- public --------------------------------------------------------------------------------
async def ping(sim: Any, params: Params, _a: Account | None) -> Any:
    return {}


async def server_time(sim: Any, params: Params, _a: Account | None) -> Any:
    return {"serverTime": sim.now_ms()}


async def exchange_info(sim: Any, params: Params, _a: Account | None) -> Any:
    wanted = _symbols(sim, params) if (params.get("symbol") or params.get("symbols")) else None
    return protocol.exchange_info(sim.exchange, sim.now_ms(), wanted)


async def depth(sim: Any, params: Params, _a: Account | None) -> Any:
    sym = _symbol(sim, params)
    last, bids, asks = sim.exchange.depth(sym.id, _limit(params, 100, 5000))
    return protocol.depth(last, bids, asks)


async def trades(sim: Any, params: Params, _a: Account | None) -> Any:
    sym = _symbol(sim, params)
    limit = _limit(params, 500, 1000)
    rows = list(sym.trades)[-limit:]
    return [protocol.trade(t) for t in rows]


def _trade_window(rows: list[Any], params: Params) -> list[Any]:
    """Binance's trade-list paging: fromId / startTime / endTime filters, then ``limit`` (default 500,
    at most 1000) from the start of the window when it has a start, else the newest ``limit``."""
    if params.get("fromId"):
        from_id = parse_int("fromId", params["fromId"])
        rows = [r for r in rows if r.id >= from_id]
    if params.get("startTime"):
        start = parse_int("startTime", params["startTime"])
        rows = [r for r in rows if r.time >= start]
    if params.get("endTime"):
        end = parse_int("endTime", params["endTime"])
        rows = [r for r in rows if r.time <= end]
    limit = _limit(params, 500, 1000)
    return rows[:limit] if (params.get("fromId") or params.get("startTime")) else rows[-limit:]


async def agg_trades(sim: Any, params: Params, _a: Account | None) -> Any:
    """Every trade is its own aggregate (a = f = l = trade id)."""
    sym = _symbol(sim, params)
    rows = list(sym.trades)
    return [protocol.agg_trade(t) for t in _trade_window(rows, params)]


async def ticker_24hr(sym_: Any, params: Params, _a: Account | None) -> Any:
    now = sym_.now_ms()
    rows = [protocol.ticker_24hr(s, now) for s in _symbols(sym_, params)]
    return rows[0] if params.get("symbol") else rows


async def book_ticker(sim: Any, params: Params, _a: Account | None) -> Any:
    rows = [protocol.book_ticker(s) for s in _symbols(sim, params)]
    return rows[0] if params.get("symbol") else rows


async def ticker_price(sim: Any, params: Params, _a: Account | None) -> Any:
    rows = [{"symbol": s.id, "price": protocol.fmt_atoms(s.stats.last)} for s in _symbols(sim, params)]
    return rows[0] if params.get("symbol") else rows


# -- private -------------------------------------------------------------------------------
async def new_order(sim: Any, params: Params, account: Account | None) -> Any:
    assert account is not None
    sym = _symbol(sim, params)
    req = parse_new_order(sym, params)
    if sim.faults.reject_order():
        raise SimError(-2010, "Order was rejected by the venue (injected fault).")
    client_id = req.client_id or f"sim{uuid.uuid4().hex[:18]}"
    order, fills = sim.exchange.place_order(
        account, sym.id, req.side, req.type, req.lots, req.price, req.tif, client_id, sim.now_ms(),
        quote_qty=req.quote_qty,
    )
    sim.dispatch()
    await _slow_ack(sim)
    return protocol.new_order(order, sym, fills, req.resp_type)


async def cancel_order(sim: Any, params: Params, account: Account | None) -> Any:
    assert account is not None
    sym = _symbol(sim, params)
    oid, cid = _order_ref(params)
    order = sim.exchange.cancel_order(account, sym.id, oid, cid, sim.now_ms())
    sim.dispatch()
    await _slow_ack(sim)
    return protocol.canceled(order, sym)


async def get_order(sim: Any, params: Params, account: Account | None) -> Any:
    assert account is not None
    sym = _symbol(sim, params)
    oid, cid = _order_ref(params)
    return protocol.order(sim.exchange.find_order(account, sym.id, oid, cid), sym)


async def open_orders(sim: Any, params: Params, account: Account | None) -> Any:
    assert account is not None
    sym = _optional_symbol(sim, params)
    orders = sim.exchange.open_orders(account, sym.id if sym else None)
    return [protocol.order(o, sim.exchange.symbols[o.symbol]) for o in sorted(orders, key=lambda o: o.id)]


async def all_orders(sim: Any, params: Params, account: Account | None) -> Any:
    assert account is not None
    sym = _symbol(sim, params)
    rows = sorted(
        (o for o in sim.exchange.orders.values() if o.account == account.name and o.symbol == sym.id),
        key=lambda o: o.id,
    )
    if params.get("orderId"):
        from_id = parse_int("orderId", params["orderId"])
        rows = [o for o in rows if o.id >= from_id]
    if params.get("startTime"):
        start = parse_int("startTime", params["startTime"])
        rows = [o for o in rows if o.time >= start]
    if params.get("endTime"):
        end = parse_int("endTime", params["endTime"])
        rows = [o for o in rows if o.time <= end]
    limit = _limit(params, 500, 1000)
    rows = rows[:limit] if (params.get("orderId") or params.get("startTime")) else rows[-limit:]
    return [protocol.order(o, sym) for o in rows]


async def cancel_open_orders(sim: Any, params: Params, account: Account | None) -> Any:
    assert account is not None
    sym = _symbol(sim, params)
    orders = sim.exchange.cancel_all(account, sym.id, sim.now_ms())
    sim.dispatch()
    await _slow_ack(sim)
    return [protocol.canceled(o, sym) for o in orders]


async def my_trades(sim: Any, params: Params, account: Account | None) -> Any:
    assert account is not None
    sym = _symbol(sim, params)
    rows = sim.exchange.my_trades(account, sym.id)
    if params.get("orderId"):
        oid = parse_int("orderId", params["orderId"])
        rows = [f for f in rows if f.order_id == oid]
    return [protocol.my_trade(f) for f in _trade_window(rows, params)]


async def account_info(sim: Any, params: Params, account: Account | None) -> Any:
    assert account is not None
    body = protocol.account(account)
    if params.get("omitZeroBalances") == "true":
        body["balances"] = [b for b in body["balances"] if b["free"] != "0.00000000" or b["locked"] != "0.00000000"]
    return body


async def commission(sim: Any, params: Params, account: Account | None) -> Any:
    assert account is not None
    return protocol.commission(account, _symbol(sim, params))


async def _slow_ack(sim: Any) -> None:
    delay = sim.faults.settings.slow_ack_ms
    if delay:
        await asyncio.sleep(delay / 1000)


MUTATING: frozenset[Handler] = frozenset({new_order, cancel_order, cancel_open_orders})
"""Handlers that change the exchange: after one runs, an unknown-fate fault may replace its answer."""


def routes() -> list[web.RouteDef]:
    p = "/api/v3"
    return [
        web.get(f"{p}/ping", _endpoint(ping, _const(1))),
        web.get(f"{p}/time", _endpoint(server_time, _const(1))),
        web.get(f"{p}/exchangeInfo", _endpoint(exchange_info, _const(20))),
        web.get(f"{p}/depth", _endpoint(depth, _depth_weight)),
        web.get(f"{p}/trades", _endpoint(trades, _const(25))),
        web.get(f"{p}/aggTrades", _endpoint(agg_trades, _const(4))),
        web.get(f"{p}/ticker/24hr", _endpoint(ticker_24hr, _by_symbol(2, 80))),
        web.get(f"{p}/ticker/bookTicker", _endpoint(book_ticker, _by_symbol(2, 4))),
        web.get(f"{p}/ticker/price", _endpoint(ticker_price, _by_symbol(2, 4))),
        web.post(f"{p}/order", _endpoint(new_order, _const(1), signed=True, order=True)),
        web.delete(f"{p}/order", _endpoint(cancel_order, _const(1), signed=True)),
        web.get(f"{p}/order", _endpoint(get_order, _const(4), signed=True)),
        web.get(f"{p}/openOrders", _endpoint(open_orders, _by_symbol(6, 80), signed=True)),
        web.get(f"{p}/allOrders", _endpoint(all_orders, _const(20), signed=True)),
        web.delete(f"{p}/openOrders", _endpoint(cancel_open_orders, _const(1), signed=True)),
        web.get(f"{p}/myTrades", _endpoint(my_trades, _const(20), signed=True)),
        web.get(f"{p}/account", _endpoint(account_info, _const(20), signed=True)),
        web.get(f"{p}/account/commission", _endpoint(commission, _const(20), signed=True)),
    ]
