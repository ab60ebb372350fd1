"""The perpetual's REST API under ``/fapi/v1``, ``/fapi/v2`` and ``/fapi/v3``, as Binance USDⓈ-M futures
answers it (field names, weights, error codes and messages; every body is JSON).

Each handler runs inside the spot API's wrapper (:func:`bot.sim.rest._endpoint`) with the perpetual's own
faults (``[sim.perp_faults]``: 429/418/5xx, unknown fate on the mutating calls, slow acks, rejects) and its own
request-weight counts; keys and signatures are the spot API's (one key pair serves both markets, as at
Binance); the listenKey calls authenticate by the key alone. ``positionRisk`` and ``account`` answer the
state of ``position_lag_ms`` ago when that fault is on (:meth:`bot.sim.perp.venue.PerpVenue.report`). Times are
the perpetual's clock (:meth:`PerpVenue.now_ms`: the host's, shifted by ``perp_faults.clock_offset_ms``), which
also judges the signatures' timestamps (-1021).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aiohttp import web

from bot.sim.accounts import Account
from bot.sim.events import SimError
from bot.sim.filters import missing, not_required, parse_decimal, parse_int
from bot.sim.perp import wire
from bot.sim.perp.engine import PerpAccount, PerpSymbol
from bot.sim.perp.venue import PerpVenue
from bot.sim.rest import Params, _by_symbol, _const, _endpoint, _limit, _order_ref

TYPES = ("LIMIT", "MARKET")
TIFS = ("GTC", "IOC", "FOK", "GTX")
POSITION_SIDES = ("BOTH", "LONG", "SHORT")
MAX_QTY = Decimal(1000000)
MAX_PRICE = Decimal(10000000)
OK = {"code": 200, "msg": "success"}


def _venue(sim: Any) -> PerpVenue:
    return sim.perp  # type: ignore[no-any-return]


def _acct(sim: Any, account: Account | None) -> PerpAccount:
    """The futures account of the (already authenticated) key."""
    assert account is not None
    acct = _venue(sim).engine.account_by_key(account.api_key)
    if acct is None:  # pragma: no cover - every spot account has a futures account
        raise SimError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    return acct


def _symbol(sim: Any, params: Params) -> PerpSymbol:
    raw = params.get("symbol")
    if not raw:
        raise missing("symbol")
    sym = _venue(sim).engine.symbols.get(raw)
    if sym is None:
        raise SimError(-1121, "Invalid symbol.")
    return sym


def _symbols(sim: Any, params: Params) -> list[PerpSymbol]:
    if params.get("symbol"):
        return [_symbol(sim, params)]
    return list(_venue(sim).engine.symbols.values())


def _one_or_all(params: Params, rows: list[Any]) -> Any:
    return rows[0] if params.get("symbol") else rows


def _bool(name: str, raw: str | None) -> bool:
    if raw is None or raw == "":
        return False
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise SimError(-1100, f"Illegal characters found in parameter '{name}'; legal range is 'true, false'.")


def _time_window(rows: list[Any], params: Params, time_of: Any) -> list[Any]:
    if params.get("startTime"):
        start = parse_int("startTime", params["startTime"])
        rows = [r for r in rows if time_of(r) >= start]
    if params.get("endTime"):
        end = parse_int("endTime", params["endTime"])
        rows = [r for r in rows if time_of(r) <= end]
    return rows


# -- orders --------------------------------------------------------------------------------
@dataclass(slots=True, frozen=True)
class NewOrder:
    side: str
    type: str
    tif: str
    lots: int
    ticks: int
    client_id: str | None
    reduce_only: bool
    position_side: str
    resp_type: str


def _ticks(sym: PerpSymbol, price: Decimal) -> int:
    tick = sym.spec.tick_size
    if price < tick:
        raise SimError(-4013, "Price less than min price.")
    if price > MAX_PRICE:
        raise SimError(-4016, "Price is higher than mark price multiplier cap.")
    if price % tick != 0:
        raise SimError(-4014, "Price not increased by tick size.")
    return int(price / tick)


def _lots(sym: PerpSymbol, qty: Decimal) -> int:
    step = sym.spec.step_size
    if qty <= 0:
        raise SimError(-4003, "Quantity less than or equal to zero.")
    if qty % step != 0:
        raise SimError(-1111, "Precision is over the maximum defined for this asset.")
    if qty > MAX_QTY:
        raise SimError(-4005, "Quantity greater than max quantity.")
    return int(qty / step)


def parse_new_order(sym: PerpSymbol, params: Params) -> NewOrder:
    """Check a ``POST /fapi/v1/order`` request's parameters the way Binance USDⓈ-M does (the engine checks
    the rest: position mode, reduce-only, minimum notional, margin, post-only)."""
    side = params.get("side")
    if not side:
        raise missing("side")
    if side not in ("BUY", "SELL"):
        raise SimError(-1117, "Invalid side.")
    type_ = params.get("type")
    if not type_:
        raise missing("type")
    if type_ not in TYPES:
        raise SimError(-1116, "Invalid orderType.")
    client_id = params.get("newClientOrderId") or None
    if client_id is not None and not wire.CLIENT_ID.match(client_id):
        raise SimError(-4015, "Client order id is not valid.")
    resp_type = params.get("newOrderRespType") or "ACK"
    if resp_type not in ("ACK", "RESULT"):
        raise SimError(-1100, "Illegal characters found in parameter 'newOrderRespType'.")
    position_side = params.get("positionSide") or "BOTH"
    if position_side not in POSITION_SIDES:
        raise SimError(-4060, "Invalid position side.")
    try:
        reduce_only = _bool("reduceOnly", params.get("reduceOnly"))
    except SimError:
        raise SimError(-4062, "Invalid or improper reduceOnly value.") from None
    qty_s = params.get("quantity")
    if not qty_s:
        raise missing("quantity")
    lots = _lots(sym, parse_decimal("quantity", qty_s))
    tif = params.get("timeInForce")
    price_s = params.get("price")
    if type_ == "MARKET":
        if price_s:
            raise not_required("price")
        if tif:
            raise not_required("timeInForce")
        ticks, tif = 0, "GTC"
    else:
        if not tif:
            raise missing("timeInForce")
        if tif not in TIFS:
            raise SimError(-1115, "Invalid timeInForce.")
        if not price_s:
            raise missing("price")
        ticks = _ticks(sym, parse_decimal("price", price_s))
    return NewOrder(side, type_, tif, lots, ticks, client_id, reduce_only, position_side, resp_type)


async def new_order(sim: Any, params: Params, account: Account | None) -> Any:
    venue = _venue(sim)
    acct = _acct(sim, account)
    sym = _symbol(sim, params)
    req = parse_new_order(sym, params)
    if venue.faults.reject_order():
        raise SimError(-2010, "Order was rejected by the venue (injected fault).")
    client_id = req.client_id or f"sim{uuid.uuid4().hex[:18]}"
    order, _fills = venue.engine.place_order(
        acct, sym.id, req.side, req.type, req.lots, req.ticks, req.tif, client_id, _venue(sim).now_ms(),
        reduce_only=req.reduce_only, position_side=req.position_side,
    )
    venue.dispatch()
    await venue.slow_ack()
    return wire.order(order, sym, with_time=False) if req.resp_type == "RESULT" else wire.acked(order, sym)


async def cancel_order(sim: Any, params: Params, account: Account | None) -> Any:
    venue = _venue(sim)
    acct = _acct(sim, account)
    sym = _symbol(sim, params)
    oid, cid = _order_ref(params)
    order = venue.engine.cancel_order(acct, sym.id, oid, cid, _venue(sim).now_ms())
    venue.dispatch()
    await venue.slow_ack()
    return wire.order(order, sym, with_time=False)


async def get_order(sim: Any, params: Params, account: Account | None) -> Any:
    venue = _venue(sim)
    sym = _symbol(sim, params)
    oid, cid = _order_ref(params)
    return wire.order(venue.engine.find_order(_acct(sim, account), sym.id, oid, cid), sym)


async def open_orders(sim: Any, params: Params, account: Account | None) -> Any:
    venue = _venue(sim)
    sym = _symbol(sim, params) if params.get("symbol") else None
    orders = venue.engine.open_orders(_acct(sim, account), sym.id if sym else None)
    return [wire.order(o, venue.engine.symbols[o.symbol]) for o in sorted(orders, key=lambda o: o.id)]


async def all_orders(sim: Any, params: Params, account: Account | None) -> Any:
    """``GET /fapi/v1/allOrders``: the account's orders on the symbol (open and the finished ones kept),
    from ``orderId``/``startTime`` on when given, else the newest ``limit`` (500, at most 1000)."""
    venue = _venue(sim)
    acct = _acct(sim, account)
    sym = _symbol(sim, params)
    rows = sorted((o for o in venue.engine.orders.values() if o.account == acct.name and o.symbol == sym.id),
                  key=lambda o: o.id)
    if params.get("orderId"):
        from_id = parse_int("orderId", params["orderId"])
        rows = [o for o in rows if o.id >= from_id]
    rows = _time_window(rows, params, lambda o: o.time)
    limit = _limit(params, 500, 1000)
    rows = rows[:limit] if (params.get("orderId") or params.get("startTime")) else rows[-limit:]
    return [wire.order(o, sym) for o in rows]


async def cancel_all(sim: Any, params: Params, account: Account | None) -> Any:
    venue = _venue(sim)
    sym = _symbol(sim, params)
    venue.engine.cancel_all(_acct(sim, account), sym.id, _venue(sim).now_ms())
    venue.dispatch()
    await venue.slow_ack()
    return {"code": 200, "msg": "The operation of cancel all open order is done."}


async def countdown_cancel_all(sim: Any, params: Params, account: Account | None) -> Any:
    venue = _venue(sim)
    sym = _symbol(sim, params)
    raw = params.get("countdownTime")
    if not raw:
        raise missing("countdownTime")
    ms = parse_int("countdownTime", raw)
    venue.engine.arm_countdown(_acct(sim, account), sym.id, ms, _venue(sim).now_ms())
    return {"symbol": sym.id, "countdownTime": str(ms)}


async def user_trades(sim: Any, params: Params, account: Account | None) -> Any:
    venue = _venue(sim)
    sym = _symbol(sim, params)
    rows = list(venue.engine.my_trades(_acct(sim, account), sym.id))
    if params.get("orderId"):
        oid = parse_int("orderId", params["orderId"])
        rows = [f for f in rows if f.order_id == oid]
    if params.get("fromId"):
        from_id = parse_int("fromId", params["fromId"])
        rows = [f for f in rows if f.id >= from_id]
    rows = _time_window(rows, params, lambda f: f.time)
    limit = _limit(params, 500, 1000)
    windowed = params.get("fromId") or params.get("startTime")
    rows = rows[:limit] if windowed else rows[-limit:]
    return [wire.user_trade(f) for f in rows]


async def income(sim: Any, params: Params, account: Account | None) -> Any:
    venue = _venue(sim)
    sym = _symbol(sim, params) if params.get("symbol") else None
    start = parse_int("startTime", params["startTime"]) if params.get("startTime") else None
    end = parse_int("endTime", params["endTime"]) if params.get("endTime") else None
    kind = params.get("incomeType") or None
    rows = list(venue.engine.income(_acct(sim, account), sym.id if sym else None, kind, start, end))
    limit = _limit(params, 100, 1000)
    rows = rows[:limit] if start is not None else rows[-limit:]
    return [wire.income(r) for r in rows]


# -- account -------------------------------------------------------------------------------
async def position_risk_v2(sim: Any, params: Params, account: Account | None) -> Any:
    positions, _info = _venue(sim).report(_acct(sim, account))
    wanted = params.get("symbol")
    return wire.position_risk_v2([p for p in positions if not wanted or p.symbol == wanted])


async def position_risk_v3(sim: Any, params: Params, account: Account | None) -> Any:
    positions, _info = _venue(sim).report(_acct(sim, account))
    wanted = params.get("symbol")
    return wire.position_risk_v3([p for p in positions if not wanted or p.symbol == wanted])


async def account_v2(sim: Any, params: Params, account: Account | None) -> Any:
    positions, info = _venue(sim).report(_acct(sim, account))
    return wire.account_v2(info, positions)


async def account_v3(sim: Any, params: Params, account: Account | None) -> Any:
    positions, info = _venue(sim).report(_acct(sim, account))
    return wire.account_v3(info, positions)


async def leverage_bracket(sim: Any, params: Params, account: Account | None) -> Any:
    _acct(sim, account)
    return _one_or_all(params, [wire.leverage_bracket(s) for s in _symbols(sim, params)])


async def set_leverage(sim: Any, params: Params, account: Account | None) -> Any:
    venue = _venue(sim)
    sym = _symbol(sim, params)
    raw = params.get("leverage")
    if not raw:
        raise missing("leverage")
    leverage = parse_int("leverage", raw)
    if not 1 <= leverage <= sym.spec.max_leverage:
        raise SimError(-4028, f"Leverage {leverage} is not valid")
    venue.engine.set_leverage(_acct(sim, account), sym.id, leverage)
    return {"leverage": leverage, "maxNotionalValue": wire.MAX_NOTIONAL, "symbol": sym.id}


async def set_margin_type(sim: Any, params: Params, account: Account | None) -> Any:
    venue = _venue(sim)
    sym = _symbol(sim, params)
    kind = params.get("marginType")
    if not kind:
        raise missing("marginType")
    if kind not in ("ISOLATED", "CROSSED"):
        raise SimError(-1100, "Illegal characters found in parameter 'marginType'; legal range is 'ISOLATED, CROSSED'.")
    venue.engine.set_margin_type(_acct(sim, account), sym.id, kind)
    return dict(OK)


async def get_dual(sim: Any, params: Params, account: Account | None) -> Any:
    return {"dualSidePosition": bool(_venue(sim).engine.dual_side(_acct(sim, account)))}


async def set_dual(sim: Any, params: Params, account: Account | None) -> Any:
    raw = params.get("dualSidePosition")
    if not raw:
        raise missing("dualSidePosition")
    _venue(sim).engine.set_dual_side(_acct(sim, account), _bool("dualSidePosition", raw))
    return dict(OK)


async def commission_rate(sim: Any, params: Params, account: Account | None) -> Any:
    sym = _symbol(sim, params)
    acct = _acct(sim, account)
    return wire.commission(acct.maker_fee, acct.taker_fee, sym)


async def listen_key_new(sim: Any, params: Params, account: Account | None) -> Any:
    assert account is not None
    return {"listenKey": _venue(sim).listen_keys.issue(account.name, _venue(sim).now_ms())}


async def listen_key_keep(sim: Any, params: Params, account: Account | None) -> Any:
    assert account is not None
    key = _venue(sim).listen_keys.extend(account.name, params.get("listenKey"), _venue(sim).now_ms())
    return {"listenKey": key}


async def listen_key_close(sim: Any, params: Params, account: Account | None) -> Any:
    assert account is not None
    venue = _venue(sim)
    key = venue.listen_keys.close(account.name, params.get("listenKey"))
    if key is not None:
        await venue.close_user_streams(key)
    return {}


# -- market data ---------------------------------------------------------------------------
async def ping(sim: Any, params: Params, _a: Account | None) -> Any:
    return {}


async def server_time(sim: Any, params: Params, _a: Account | None) -> Any:
    return {"serverTime": _venue(sim).now_ms()}


async def exchange_info(sim: Any, params: Params, _a: Account | None) -> Any:
    venue = _venue(sim)
    return wire.exchange_info(list(venue.engine.symbols.values()), venue.limiter.settings, _venue(sim).now_ms())


async def depth(sim: Any, params: Params, _a: Account | None) -> Any:
    venue = _venue(sim)
    sym = _symbol(sim, params)
    limit = _limit(params, 500, 1000)
    last, bids, asks = venue.engine.depth(sym.id, limit)
    return wire.depth(last, bids, asks, _venue(sim).now_ms())


async def book_ticker(sim: Any, params: Params, _a: Account | None) -> Any:
    now = _venue(sim).now_ms()
    return _one_or_all(params, [wire.book_ticker(s, now) for s in _symbols(sim, params)])


async def ticker_24hr(sim: Any, params: Params, _a: Account | None) -> Any:
    now = _venue(sim).now_ms()
    return _one_or_all(params, [wire.ticker_24hr(s, now) for s in _symbols(sim, params)])


async def premium_index(sim: Any, params: Params, _a: Account | None) -> Any:
    venue = _venue(sim)
    now = _venue(sim).now_ms()
    return _one_or_all(params, [wire.premium_index(venue.engine, s, now) for s in _symbols(sim, params)])


async def funding_rate(sim: Any, params: Params, _a: Account | None) -> Any:
    venue = _venue(sim)
    rows = [r for s in _symbols(sim, params) for r in venue.funding_history(s.id)]
    rows = _time_window(sorted(rows, key=lambda r: r["fundingTime"]), params, lambda r: r["fundingTime"])
    limit = _limit(params, 100, 1000)
    return rows[:limit] if params.get("startTime") else rows[-limit:]


async def agg_trades(sim: Any, params: Params, _a: Account | None) -> Any:
    sym = _symbol(sim, params)
    rows = _time_window(list(sym.trades), params, lambda t: t.time)
    if params.get("fromId"):
        from_id = parse_int("fromId", params["fromId"])
        rows = [t for t in rows if t.id >= from_id]
    limit = _limit(params, 500, 1000)
    rows = rows[:limit] if (params.get("fromId") or params.get("startTime")) else rows[-limit:]
    return [wire.agg_trade(t) for t in rows]


def _depth_weight(p: Params) -> int:
    try:
        limit = int(p.get("limit", "500"))
    except ValueError:
        return 10
    return 2 if limit < 100 else 5 if limit < 500 else 10 if limit <= 500 else 20


MUTATING = frozenset({new_order, cancel_order, cancel_all})


def routes() -> list[web.RouteDef]:
    """Every ``/fapi`` route the sim serves (see the module docstring)."""

    def ep(fn: Any, weight: Any, signed: bool = False, order: bool = False, keyed: bool = False) -> Any:
        return _endpoint(fn, weight, signed, order, market=_venue, mutates=fn in MUTATING, keyed=keyed)

    one = _const(1)
    v1, v2, v3 = "/fapi/v1", "/fapi/v2", "/fapi/v3"
    return [
        web.get(f"{v1}/ping", ep(ping, one)),
        web.get(f"{v1}/time", ep(server_time, one)),
        web.get(f"{v1}/exchangeInfo", ep(exchange_info, one)),
        web.get(f"{v1}/depth", ep(depth, _depth_weight)),
        web.get(f"{v1}/aggTrades", ep(agg_trades, _const(20))),
        web.get(f"{v1}/ticker/bookTicker", ep(book_ticker, _by_symbol(2, 5))),
        web.get(f"{v1}/ticker/24hr", ep(ticker_24hr, _by_symbol(1, 40))),
        web.get(f"{v1}/premiumIndex", ep(premium_index, one)),
        web.get(f"{v1}/fundingRate", ep(funding_rate, one)),
        web.post(f"{v1}/order", ep(new_order, one, signed=True, order=True)),
        web.delete(f"{v1}/order", ep(cancel_order, one, signed=True)),
        web.get(f"{v1}/order", ep(get_order, one, signed=True)),
        web.get(f"{v1}/openOrders", ep(open_orders, _by_symbol(1, 40), signed=True)),
        web.get(f"{v1}/allOrders", ep(all_orders, _const(5), signed=True)),
        web.delete(f"{v1}/allOpenOrders", ep(cancel_all, one, signed=True)),
        web.post(f"{v1}/countdownCancelAll", ep(countdown_cancel_all, _const(10), signed=True)),
        web.get(f"{v1}/userTrades", ep(user_trades, _const(5), signed=True)),
        web.get(f"{v1}/income", ep(income, _const(30), signed=True)),
        web.get(f"{v1}/leverageBracket", ep(leverage_bracket, one, signed=True)),
        web.post(f"{v1}/leverage", ep(set_leverage, one, signed=True)),
        web.post(f"{v1}/marginType", ep(set_margin_type, one, signed=True)),
        web.get(f"{v1}/positionSide/dual", ep(get_dual, _const(30), signed=True)),
        web.post(f"{v1}/positionSide/dual", ep(set_dual, one, signed=True)),
        web.get(f"{v1}/commissionRate", ep(commission_rate, _const(20), signed=True)),
        web.post(f"{v1}/listenKey", ep(listen_key_new, one, keyed=True)),
        web.put(f"{v1}/listenKey", ep(listen_key_keep, one, keyed=True)),
        web.delete(f"{v1}/listenKey", ep(listen_key_close, one, keyed=True)),
        web.get(f"{v2}/positionRisk", ep(position_risk_v2, _const(5), signed=True)),
        web.get(f"{v3}/positionRisk", ep(position_risk_v3, _const(5), signed=True)),
        web.get(f"{v2}/account", ep(account_v2, _const(5), signed=True)),
        web.get(f"{v3}/account", ep(account_v3, _const(5), signed=True)),
    ]

