"""Binance spot JSON shapes (REST bodies and WebSocket events) built from engine objects.

Amounts arrive as integer atoms and leave as Binance's 8-decimal strings.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from bot.sim.accounts import ATOMS, Account, fmt_atoms
from bot.sim.book import Order
from bot.sim.engine import SimExchange, SymbolState
from bot.sim.events import BalanceUpdate, DepthDiff, ExecReport, Execution, PublicTrade
from bot.sim.filters import MAX_PRICE, MAX_QTY
from bot.sim.ratelimit import interval
from bot.sim.settings import RateLimitSettings


def _dec(value: Any) -> str:
    return f"{value:.8f}"


def rate_limits(limits: RateLimitSettings) -> list[dict[str, Any]]:
    return [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": interval(limits.weight_window)[1],
         "intervalNum": interval(limits.weight_window)[0], "limit": limits.weight_per_minute},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": limits.orders_per_10s},
    ]


def symbol_info(sym: SymbolState) -> dict[str, Any]:
    s = sym.spec
    return {
        "symbol": sym.id,
        "status": "TRADING",
        "baseAsset": s.base,
        "baseAssetPrecision": 8,
        "quoteAsset": s.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
        "icebergAllowed": False,
        "ocoAllowed": False,
        "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": _dec(s.tick_size), "maxPrice": _dec(MAX_PRICE),
             "tickSize": _dec(s.tick_size)},
            {"filterType": "LOT_SIZE", "minQty": _dec(s.step_size), "maxQty": _dec(MAX_QTY),
             "stepSize": _dec(s.step_size)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": _dec(0), "maxQty": _dec(MAX_QTY),
             "stepSize": _dec(0)},
            {"filterType": "NOTIONAL", "minNotional": _dec(s.min_notional), "applyMinToMarket": True,
             "maxNotional": _dec(9000000), "applyMaxToMarket": False, "avgPriceMins": 5},
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "NONE",
        "allowedSelfTradePreventionModes": ["NONE"],
    }


def exchange_info(ex: SimExchange, now_ms: int, symbols: list[SymbolState] | None = None) -> dict[str, Any]:
    return {
        "timezone": "UTC",
        "serverTime": now_ms,
        "rateLimits": rate_limits(ex.settings.rate_limits),
        "exchangeFilters": [],
        "symbols": [symbol_info(s) for s in (symbols if symbols is not None else ex.symbols.values())],
    }


def levels(rows: list[tuple[int, int]]) -> list[list[str]]:
    return [[fmt_atoms(p), fmt_atoms(q)] for p, q in rows]


def depth(last_id: int, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> dict[str, Any]:
    return {"lastUpdateId": last_id, "bids": levels(bids), "asks": levels(asks)}


def trade(t: PublicTrade) -> dict[str, Any]:
    return {
        "id": t.id,
        "price": fmt_atoms(t.price),
        "qty": fmt_atoms(t.qty),
        "quoteQty": fmt_atoms(t.quote),
        "time": t.time,
        "isBuyerMaker": t.buyer_is_maker,
        "isBestMatch": True,
    }


def agg_trade(t: PublicTrade) -> dict[str, Any]:
    return {"a": t.id, "p": fmt_atoms(t.price), "q": fmt_atoms(t.qty), "f": t.id, "l": t.id, "T": t.time,
            "m": t.buyer_is_maker, "M": True}


def _touch(sym: SymbolState) -> tuple[int, int, int, int]:
    book = sym.book
    (bid, bq), (ask, aq) = (book.depth("BUY", 1) or [(0, 0)])[0], (book.depth("SELL", 1) or [(0, 0)])[0]
    return bid * sym.tick_atoms, bq * sym.step_atoms, ask * sym.tick_atoms, aq * sym.step_atoms


def book_ticker(sym: SymbolState) -> dict[str, Any]:
    bid, bq, ask, aq = _touch(sym)
    return {"symbol": sym.id, "bidPrice": fmt_atoms(bid), "bidQty": fmt_atoms(bq),
            "askPrice": fmt_atoms(ask), "askQty": fmt_atoms(aq)}


def ticker_24hr(sym: SymbolState, now_ms: int) -> dict[str, Any]:
    st = sym.stats
    bid, bq, ask, aq = _touch(sym)
    change = st.last - st.open
    pct = f"{(change / st.open * 100) if st.open else 0:.3f}"
    weighted = (st.quote_volume * 10**8 // st.volume) if st.volume else st.last
    return {
        "symbol": sym.id,
        "priceChange": fmt_atoms(change),
        "priceChangePercent": pct,
        "weightedAvgPrice": fmt_atoms(weighted),
        "prevClosePrice": fmt_atoms(st.open),
        "lastPrice": fmt_atoms(st.last),
        "lastQty": fmt_atoms(st.last_qty),
        "bidPrice": fmt_atoms(bid),
        "bidQty": fmt_atoms(bq),
        "askPrice": fmt_atoms(ask),
        "askQty": fmt_atoms(aq),
        "openPrice": fmt_atoms(st.open),
        "highPrice": fmt_atoms(st.high),
        "lowPrice": fmt_atoms(st.low),
        "volume": fmt_atoms(st.volume),
        "quoteVolume": fmt_atoms(st.quote_volume),
        "openTime": st.open_time,
        "closeTime": now_ms,
        "firstId": st.first_id,
        "lastId": st.last_id,
        "count": st.count,
    }


def order(o: Order, sym: SymbolState) -> dict[str, Any]:
    """The RESULT shape of an order (also GET /order and openOrders rows)."""
    return {
        "symbol": o.symbol,
        "orderId": o.id,
        "orderListId": -1,
        "clientOrderId": o.client_id,
        "price": fmt_atoms(o.price * sym.tick_atoms),
        "origQty": fmt_atoms(o.orig * sym.step_atoms),
        "executedQty": fmt_atoms(o.executed * sym.step_atoms),
        "cummulativeQuoteQty": fmt_atoms(o.cum_quote),
        "status": o.status,
        "timeInForce": o.tif,
        "type": o.type,
        "side": o.side,
        "stopPrice": fmt_atoms(0),
        "icebergQty": fmt_atoms(0),
        "time": o.time,
        "updateTime": o.update_time,
        "isWorking": o.is_open,
        "workingTime": o.time,
        "origQuoteOrderQty": fmt_atoms(o.quote_limit),
        "selfTradePreventionMode": "NONE",
    }


def new_order(o: Order, sym: SymbolState, fills: list[Execution], resp_type: str) -> dict[str, Any]:
    if resp_type == "ACK":
        return {"symbol": o.symbol, "orderId": o.id, "orderListId": -1, "clientOrderId": o.client_id,
                "transactTime": o.time}
    body = order(o, sym)
    for key in ("stopPrice", "icebergQty", "time", "updateTime", "isWorking"):
        body.pop(key)
    body["transactTime"] = o.time
    if resp_type == "FULL":
        body["fills"] = [
            {"price": fmt_atoms(f.price), "qty": fmt_atoms(f.qty), "commission": fmt_atoms(f.commission),
             "commissionAsset": f.commission_asset, "tradeId": f.id}
            for f in fills
        ]
    return body


def canceled(o: Order, sym: SymbolState) -> dict[str, Any]:
    body = order(o, sym)
    for key in ("stopPrice", "icebergQty", "time", "updateTime", "isWorking", "workingTime"):
        body.pop(key)
    body["origClientOrderId"] = o.client_id
    body["transactTime"] = o.update_time
    return body


def my_trade(f: Execution) -> dict[str, Any]:
    return {
        "symbol": f.symbol,
        "id": f.id,
        "orderId": f.order_id,
        "orderListId": -1,
        "price": fmt_atoms(f.price),
        "qty": fmt_atoms(f.qty),
        "quoteQty": fmt_atoms(f.quote),
        "commission": fmt_atoms(f.commission),
        "commissionAsset": f.commission_asset,
        "time": f.time,
        "isBuyer": f.is_buyer,
        "isMaker": f.is_maker,
        "isBestMatch": True,
    }


def account(acct: Account) -> dict[str, Any]:
    assets = sorted(set(acct.free) | set(acct.locked))
    return {
        "makerCommission": int(acct.maker_fee * 10000),
        "takerCommission": int(acct.taker_fee * 10000),
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {"maker": _dec(float(acct.maker_fee)), "taker": _dec(float(acct.taker_fee)),
                            "buyer": _dec(0), "seller": _dec(0)},
        "canTrade": True,
        "canWithdraw": False,
        "canDeposit": False,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": acct.update_time,
        "accountType": "SPOT",
        "balances": [
            {"asset": a, "free": fmt_atoms(acct.free.get(a, 0)), "locked": fmt_atoms(acct.locked.get(a, 0))}
            for a in assets
        ],
        "permissions": ["SPOT"],
        "uid": 1,
    }


def _rate(rate: Fraction) -> str:
    """A fee rate as Binance's 8-decimal string (0.001 -> '0.00100000')."""
    return fmt_atoms(round(rate * ATOMS))


def commission(acct: Account, sym: SymbolState) -> dict[str, Any]:
    """``GET /api/v3/account/commission``: the account's maker/taker rates for ``sym`` as the standard
    commission; the sim charges no tax and offers no BNB discount."""
    zero = _rate(Fraction(0))
    return {
        "symbol": sym.id,
        "standardCommission": {"maker": _rate(acct.maker_fee), "taker": _rate(acct.taker_fee),
                               "buyer": zero, "seller": zero},
        "taxCommission": {"maker": zero, "taker": zero, "buyer": zero, "seller": zero},
        "discount": {"enabledForAccount": False, "enabledForSymbol": False, "discountAsset": "BNB",
                     "discount": zero},
    }


# -- WebSocket events ----------------------------------------------------------------------
def depth_update(d: DepthDiff) -> dict[str, Any]:
    return {"e": "depthUpdate", "E": d.time, "s": d.symbol, "U": d.first, "u": d.last,
            "b": levels(d.bids), "a": levels(d.asks)}


def trade_event(t: PublicTrade, now_ms: int) -> dict[str, Any]:
    return {"e": "trade", "E": now_ms, "s": t.symbol, "t": t.id, "p": fmt_atoms(t.price),
            "q": fmt_atoms(t.qty), "T": t.time, "m": t.buyer_is_maker, "M": True}


def book_ticker_event(sym: SymbolState) -> dict[str, Any]:
    bid, bq, ask, aq = _touch(sym)
    return {"u": sym.update_id, "s": sym.id, "b": fmt_atoms(bid), "B": fmt_atoms(bq),
            "a": fmt_atoms(ask), "A": fmt_atoms(aq)}


def ticker_event(sym: SymbolState, now_ms: int) -> dict[str, Any]:
    t = ticker_24hr(sym, now_ms)
    return {
        "e": "24hrTicker", "E": now_ms, "s": sym.id, "p": t["priceChange"], "P": t["priceChangePercent"],
        "w": t["weightedAvgPrice"], "x": t["prevClosePrice"], "c": t["lastPrice"], "Q": t["lastQty"],
        "b": t["bidPrice"], "B": t["bidQty"], "a": t["askPrice"], "A": t["askQty"], "o": t["openPrice"],
        "h": t["highPrice"], "l": t["lowPrice"], "v": t["volume"], "q": t["quoteVolume"],
        "O": t["openTime"], "C": now_ms, "F": t["firstId"], "L": t["lastId"], "n": t["count"],
    }


def mini_ticker_event(sym: SymbolState, now_ms: int) -> dict[str, Any]:
    st = sym.stats
    return {"e": "24hrMiniTicker", "E": now_ms, "s": sym.id, "c": fmt_atoms(st.last), "o": fmt_atoms(st.open),
            "h": fmt_atoms(st.high), "l": fmt_atoms(st.low), "v": fmt_atoms(st.volume),
            "q": fmt_atoms(st.quote_volume)}


def execution_report(r: ExecReport) -> dict[str, Any]:
    f = r.fill
    return {
        "e": "executionReport",
        "E": r.time,
        "s": r.symbol,
        "c": r.client_id if r.exec_type != "CANCELED" else f"cancel-{r.order_id}",
        "S": r.side,
        "o": r.type,
        "f": r.tif,
        "q": fmt_atoms(r.qty),
        "p": fmt_atoms(r.price),
        "P": fmt_atoms(0),
        "F": fmt_atoms(0),
        "g": -1,
        "C": r.orig_client_id,
        "x": r.exec_type,
        "X": r.status,
        "r": r.reject_reason,
        "i": r.order_id,
        "l": fmt_atoms(f.qty if f else 0),
        "z": fmt_atoms(r.executed),
        "L": fmt_atoms(f.price if f else 0),
        "n": fmt_atoms(f.commission if f else 0),
        "N": f.commission_asset if f else None,
        "T": r.time,
        "t": f.id if f else -1,
        "v": 0,
        "I": 0,
        "w": r.status in ("NEW", "PARTIALLY_FILLED"),
        "m": f.is_maker if f else False,
        "M": False,
        "O": r.order_time,
        "Z": fmt_atoms(r.cum_quote),
        "Y": fmt_atoms(f.quote if f else 0),
        "Q": fmt_atoms(r.quote_order_qty),
        "W": r.order_time,
        "V": "NONE",
    }


def account_position(b: BalanceUpdate) -> dict[str, Any]:
    return {"e": "outboundAccountPosition", "E": b.time, "u": b.time,
            "B": [{"a": a, "f": fmt_atoms(f), "l": fmt_atoms(lk)} for a, f, lk in b.balances]}
