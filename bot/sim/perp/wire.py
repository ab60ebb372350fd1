"""Binance USDⓈ-M futures JSON shapes (REST bodies and WebSocket events) built from the perpetual engine's
objects (``bot.sim.perp.records``; amounts in integer atoms, leaving as 8-decimal strings).

Shapes follow what ccxt's ``binanceusdm`` reads (../shared/reference/ccxt-binance-usdm.md): a contract
market needs ``contractType``/``marginAsset`` and no ``underlying``; ``positionRisk`` rows carry a signed
``notional`` and an ``entryPrice`` (ccxt drops rows whose entry price is 0); order events carry ``ps``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction
from typing import Any

from bot.sim.accounts import ATOMS, fmt_atoms
from bot.sim.events import PublicTrade
from bot.sim.perp.engine import PerpExchange, PerpOrder, PerpSymbol
from bot.sim.perp.records import (
    AccountInfo,
    FundingRow,
    IncomeRow,
    PerpAccountUpdate,
    PerpDepthDiff,
    PerpFill,
    PerpOrderReport,
    PerpPosition,
)
from bot.sim.protocol import levels, rate_limits
from bot.sim.settings import RateLimitSettings

CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
MAX_NOTIONAL = "1000000000"
PERPETUAL_DELIVERY = 4133404800000  # Binance's delivery date of a perpetual (2100-12-25)
ORDER_TYPES = ["LIMIT", "MARKET"]
TIME_IN_FORCE = ["GTC", "IOC", "FOK", "GTX"]


def _dec(value: Decimal | Fraction | float | int) -> str:
    """A price or rate as an 8-decimal string."""
    if isinstance(value, Fraction):
        return fmt_atoms(round(value * ATOMS))
    return f"{Decimal(value):.8f}"


def _places(step: Decimal) -> int:
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 8


def _price(sym: PerpSymbol, ticks: int) -> str:
    return fmt_atoms(ticks * sym.tick_atoms)


def _qty(sym: PerpSymbol, lots: int) -> str:
    return fmt_atoms(lots * sym.step_atoms)


# -- market data ---------------------------------------------------------------------------
def symbol_info(sym: PerpSymbol) -> dict[str, Any]:
    s = sym.spec
    return {
        "symbol": sym.id,
        "pair": sym.id,
        "contractType": "PERPETUAL",
        "deliveryDate": PERPETUAL_DELIVERY,
        "onboardDate": 1569398400000,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": s.base,
        "quoteAsset": s.quote,
        "marginAsset": s.quote,
        "pricePrecision": _places(s.tick_size),
        "quantityPrecision": _places(s.step_size),
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "settlePlan": 0,
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": _dec(s.tick_size), "maxPrice": "10000000",
             "tickSize": _dec(s.tick_size)},
            {"filterType": "LOT_SIZE", "minQty": _dec(s.step_size), "maxQty": "1000000",
             "stepSize": _dec(s.step_size)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": _dec(s.step_size), "maxQty": "1000000",
             "stepSize": _dec(s.step_size)},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": f"{s.min_notional.normalize():f}"},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
             "multiplierDecimal": "4"},
        ],
        "orderTypes": ORDER_TYPES,
        "timeInForce": TIME_IN_FORCE,
    }


def exchange_info(symbols: list[PerpSymbol], limits: RateLimitSettings, now_ms: int) -> dict[str, Any]:
    return {
        "timezone": "UTC",
        "serverTime": now_ms,
        "futuresType": "U_MARGINED",
        "rateLimits": rate_limits(limits),
        "exchangeFilters": [],
        "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
        "symbols": [symbol_info(s) for s in symbols],
    }


def depth(last_id: int, bids: list[tuple[int, int]], asks: list[tuple[int, int]], now_ms: int) -> dict[str, Any]:
    return {"lastUpdateId": last_id, "E": now_ms, "T": now_ms, "bids": levels(bids), "asks": levels(asks)}


def touch(sym: PerpSymbol) -> tuple[int, int, int, int]:
    """Best bid, its size, best ask, its size (atoms; 0 when a side is empty)."""
    book = sym.book
    (bid, bq), (ask, aq) = (book.depth("BUY", 1) or [(0, 0)])[0], (book.depth("SELL", 1) or [(0, 0)])[0]
    return bid * sym.tick_atoms, bq * sym.step_atoms, ask * sym.tick_atoms, aq * sym.step_atoms


def book_ticker(sym: PerpSymbol, now_ms: int) -> dict[str, Any]:
    bid, bq, ask, aq = touch(sym)
    return {"symbol": sym.id, "bidPrice": fmt_atoms(bid), "bidQty": fmt_atoms(bq), "askPrice": fmt_atoms(ask),
            "askQty": fmt_atoms(aq), "time": now_ms, "lastUpdateId": sym.update_id}


def ticker_24hr(sym: PerpSymbol, now_ms: int) -> dict[str, Any]:
    st = sym.stats
    change = st.last - st.open
    pct = f"{(change / st.open * 100) if st.open else 0:.3f}"
    weighted = (st.quote_volume * 10**8 // st.volume) if st.volume else st.last
    return {
        "symbol": sym.id, "priceChange": fmt_atoms(change), "priceChangePercent": pct,
        "weightedAvgPrice": fmt_atoms(weighted), "lastPrice": fmt_atoms(st.last), "lastQty": fmt_atoms(st.last_qty),
        "openPrice": fmt_atoms(st.open), "highPrice": fmt_atoms(st.high), "lowPrice": fmt_atoms(st.low),
        "volume": fmt_atoms(st.volume), "quoteVolume": fmt_atoms(st.quote_volume), "openTime": st.open_time,
        "closeTime": now_ms, "firstId": st.first_id, "lastId": st.last_id, "count": st.count,
    }


def premium_index(ex: PerpExchange, sym: PerpSymbol, now_ms: int) -> dict[str, Any]:
    index = ex.index_price(sym.id)
    return {
        "symbol": sym.id,
        "markPrice": fmt_atoms(ex.mark_price(sym.id)),
        "indexPrice": fmt_atoms(index),
        "estimatedSettlePrice": fmt_atoms(index),
        "lastFundingRate": _dec(ex.funding_rate(sym.id)),
        "interestRate": _dec(sym.spec.interest_rate),
        "nextFundingTime": ex.next_funding_time(sym.id),
        "time": now_ms,
    }


def funding_row(r: FundingRow) -> dict[str, Any]:
    return {"symbol": r.symbol, "fundingRate": _dec(r.rate), "fundingTime": r.time, "markPrice": fmt_atoms(r.mark)}


def agg_trade(t: PublicTrade) -> dict[str, Any]:
    return {"a": t.id, "p": fmt_atoms(t.price), "q": fmt_atoms(t.qty), "f": t.id, "l": t.id, "T": t.time,
            "m": t.buyer_is_maker}


def leverage_bracket(sym: PerpSymbol) -> dict[str, Any]:
    spec = sym.spec
    return {"symbol": sym.id, "notionalCoef": 1.0, "brackets": [
        {"bracket": 1, "initialLeverage": spec.max_leverage, "notionalCap": int(MAX_NOTIONAL), "notionalFloor": 0,
         "maintMarginRatio": float(spec.maint_margin_rate), "cum": 0.0}]}


# -- orders and trades ---------------------------------------------------------------------
def order(o: PerpOrder, sym: PerpSymbol, with_time: bool = True) -> dict[str, Any]:
    """An order as ``GET /fapi/v1/order`` answers it (``with_time=False``: the POST/DELETE reply, which has
    ``updateTime`` but no ``time``)."""
    executed = o.executed * sym.step_atoms
    body: dict[str, Any] = {
        "orderId": o.id,
        "symbol": o.symbol,
        "status": o.status,
        "clientOrderId": o.client_id,
        "price": _price(sym, o.price),
        "avgPrice": _dec(Fraction(o.cum_quote, executed)) if executed else "0.00000000",
        "origQty": _qty(sym, o.orig),
        "executedQty": fmt_atoms(executed),
        "cumQty": fmt_atoms(executed),
        "cumQuote": fmt_atoms(o.cum_quote),
        "timeInForce": o.tif,
        "type": o.type,
        "reduceOnly": o.reduce_only,
        "closePosition": False,
        "side": o.side,
        "positionSide": o.position_side,
        "stopPrice": "0.00000000",
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "origType": o.type,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "NONE",
        "goodTillDate": 0,
        "updateTime": o.update_time or o.time,
    }
    if with_time:
        body["time"] = o.time
    return body


def acked(o: PerpOrder, sym: PerpSymbol) -> dict[str, Any]:
    """The ``newOrderRespType=ACK`` reply (Binance's default): the order as accepted, before matching
    (``NEW``, nothing executed), whatever happened to it since."""
    body = order(o, sym, with_time=False)
    zero = "0.00000000"
    body.update(status="NEW", executedQty=zero, cumQty=zero, cumQuote=zero, avgPrice=zero, updateTime=o.time)
    return body


def user_trade(f: PerpFill) -> dict[str, Any]:
    return {
        "buyer": f.side == "BUY",
        "commission": fmt_atoms(f.commission),
        "commissionAsset": f.commission_asset,
        "id": f.id,
        "maker": f.is_maker,
        "orderId": f.order_id,
        "price": fmt_atoms(f.price),
        "qty": fmt_atoms(f.qty),
        "quoteQty": fmt_atoms(f.quote),
        "realizedPnl": fmt_atoms(f.realized_pnl),
        "side": f.side,
        "positionSide": f.position_side,
        "symbol": f.symbol,
        "time": f.time,
    }


def income(r: IncomeRow) -> dict[str, Any]:
    return {
        "symbol": r.symbol,
        "incomeType": r.type,
        "income": fmt_atoms(r.amount),
        "asset": r.asset,
        "info": r.type,
        "time": r.time,
        "tranId": r.id,
        "tradeId": str(r.trade_id) if r.trade_id else "",
    }


def commission(maker: Fraction | Decimal, taker: Fraction | Decimal, sym: PerpSymbol) -> dict[str, Any]:
    return {"symbol": sym.id, "makerCommissionRate": _dec(maker), "takerCommissionRate": _dec(taker)}


# -- positions and account -----------------------------------------------------------------
def position_v3(p: PerpPosition) -> dict[str, Any]:
    return {
        "symbol": p.symbol,
        "positionSide": p.position_side,
        "positionAmt": fmt_atoms(p.amount),
        "entryPrice": _dec(p.entry_price),
        "breakEvenPrice": _dec(p.entry_price),
        "markPrice": fmt_atoms(p.mark),
        "unRealizedProfit": fmt_atoms(p.unrealized),
        "liquidationPrice": _dec(p.liquidation_price),
        "isolatedMargin": "0",
        "notional": fmt_atoms(p.notional),
        "marginAsset": "USDT",
        "isolatedWallet": "0",
        "initialMargin": fmt_atoms(p.initial_margin + p.open_order_initial_margin),
        "maintMargin": fmt_atoms(p.maint_margin),
        "positionInitialMargin": fmt_atoms(p.initial_margin),
        "openOrderInitialMargin": fmt_atoms(p.open_order_initial_margin),
        "adl": 0,
        "bidNotional": fmt_atoms(p.bid_notional),
        "askNotional": fmt_atoms(p.ask_notional),
        "updateTime": p.update_time,
    }


def position_v2(p: PerpPosition) -> dict[str, Any]:
    return {
        "symbol": p.symbol,
        "positionAmt": fmt_atoms(p.amount),
        "entryPrice": _dec(p.entry_price),
        "breakEvenPrice": _dec(p.entry_price),
        "markPrice": fmt_atoms(p.mark),
        "unRealizedProfit": fmt_atoms(p.unrealized),
        "liquidationPrice": _dec(p.liquidation_price),
        "leverage": str(p.leverage),
        "maxNotionalValue": MAX_NOTIONAL,
        "marginType": "cross",
        "isolatedMargin": "0.00000000",
        "isAutoAddMargin": "false",
        "positionSide": p.position_side,
        "notional": fmt_atoms(p.notional),
        "isolatedWallet": "0",
        "updateTime": p.update_time,
    }


def _live(p: PerpPosition) -> bool:
    return bool(p.amount or p.bid_notional or p.ask_notional)


def position_risk_v3(positions: list[PerpPosition]) -> list[dict[str, Any]]:
    """v3 lists only the positions that are open or have open orders (as Binance's v3 does)."""
    return [position_v3(p) for p in positions if _live(p)]


def position_risk_v2(positions: list[PerpPosition]) -> list[dict[str, Any]]:
    """v2 lists every position the engine reports, flat ones included."""
    return [position_v2(p) for p in positions]


def _asset(info: AccountInfo) -> dict[str, Any]:
    return {
        "asset": "USDT",
        "walletBalance": fmt_atoms(info.wallet),
        "unrealizedProfit": fmt_atoms(info.unrealized),
        "marginBalance": fmt_atoms(info.margin_balance),
        "maintMargin": fmt_atoms(info.maint_margin),
        "initialMargin": fmt_atoms(info.initial_margin),
        "positionInitialMargin": fmt_atoms(info.position_initial_margin),
        "openOrderInitialMargin": fmt_atoms(info.open_order_initial_margin),
        "crossWalletBalance": fmt_atoms(info.wallet),
        "crossUnPnl": fmt_atoms(info.unrealized),
        "availableBalance": fmt_atoms(info.available),
        "maxWithdrawAmount": fmt_atoms(info.available),
        "marginAvailable": True,
        "updateTime": info.update_time or 1,
    }


def _totals(info: AccountInfo) -> dict[str, Any]:
    return {
        "totalInitialMargin": fmt_atoms(info.initial_margin),
        "totalMaintMargin": fmt_atoms(info.maint_margin),
        "totalWalletBalance": fmt_atoms(info.wallet),
        "totalUnrealizedProfit": fmt_atoms(info.unrealized),
        "totalMarginBalance": fmt_atoms(info.margin_balance),
        "totalPositionInitialMargin": fmt_atoms(info.position_initial_margin),
        "totalOpenOrderInitialMargin": fmt_atoms(info.open_order_initial_margin),
        "totalCrossWalletBalance": fmt_atoms(info.wallet),
        "totalCrossUnPnl": fmt_atoms(info.unrealized),
        "availableBalance": fmt_atoms(info.available),
        "maxWithdrawAmount": fmt_atoms(info.available),
    }


def account_v3(info: AccountInfo, positions: list[PerpPosition]) -> dict[str, Any]:
    rows = [
        {"symbol": p.symbol, "positionSide": p.position_side, "positionAmt": fmt_atoms(p.amount),
         "unrealizedProfit": fmt_atoms(p.unrealized), "isolatedMargin": "0", "notional": fmt_atoms(p.notional),
         "isolatedWallet": "0", "initialMargin": fmt_atoms(p.initial_margin + p.open_order_initial_margin),
         "maintMargin": fmt_atoms(p.maint_margin), "updateTime": p.update_time}
        for p in positions if _live(p)
    ]
    return {**_totals(info), "assets": [_asset(info)], "positions": rows}


def account_v2(info: AccountInfo, positions: list[PerpPosition], fee_tier: int = 0) -> dict[str, Any]:
    rows = [
        {"symbol": p.symbol, "initialMargin": fmt_atoms(p.initial_margin + p.open_order_initial_margin),
         "maintMargin": fmt_atoms(p.maint_margin), "unrealizedProfit": fmt_atoms(p.unrealized),
         "positionInitialMargin": fmt_atoms(p.initial_margin),
         "openOrderInitialMargin": fmt_atoms(p.open_order_initial_margin), "leverage": str(p.leverage),
         "isolated": False, "entryPrice": _dec(p.entry_price), "breakEvenPrice": _dec(p.entry_price),
         "maxNotional": MAX_NOTIONAL, "bidNotional": fmt_atoms(p.bid_notional),
         "askNotional": fmt_atoms(p.ask_notional), "positionSide": p.position_side,
         "positionAmt": fmt_atoms(p.amount), "updateTime": p.update_time}
        for p in positions
    ]
    return {"feeTier": fee_tier, "feeBurn": False, "canTrade": True, "canDeposit": True, "canWithdraw": True,
            "updateTime": 0, "multiAssetsMargin": False, "tradeGroupId": -1, **_totals(info),
            "assets": [_asset(info)], "positions": rows}


# -- WebSocket events ----------------------------------------------------------------------
def depth_update(d: PerpDepthDiff, now_ms: int) -> dict[str, Any]:
    return {"e": "depthUpdate", "E": now_ms, "T": d.time, "s": d.symbol, "U": d.first, "u": d.last,
            "pu": d.prev_last, "b": levels(d.bids), "a": levels(d.asks)}


def book_ticker_event(sym: PerpSymbol, now_ms: int) -> dict[str, Any]:
    bid, bq, ask, aq = touch(sym)
    return {"e": "bookTicker", "u": sym.update_id, "E": now_ms, "T": now_ms, "s": sym.id, "b": fmt_atoms(bid),
            "B": fmt_atoms(bq), "a": fmt_atoms(ask), "A": fmt_atoms(aq)}


def mark_price_event(ex: PerpExchange, sym: PerpSymbol, now_ms: int) -> dict[str, Any]:
    index = ex.index_price(sym.id)
    return {"e": "markPriceUpdate", "E": now_ms, "s": sym.id, "p": fmt_atoms(ex.mark_price(sym.id)),
            "i": fmt_atoms(index), "P": fmt_atoms(index), "r": _dec(ex.funding_rate(sym.id)),
            "T": ex.next_funding_time(sym.id)}


def trade_event(t: PublicTrade, now_ms: int) -> dict[str, Any]:
    return {"e": "trade", "E": now_ms, "T": t.time, "s": t.symbol, "t": t.id, "p": fmt_atoms(t.price),
            "q": fmt_atoms(t.qty), "X": "MARKET", "m": t.buyer_is_maker}


def agg_trade_event(t: PublicTrade, now_ms: int) -> dict[str, Any]:
    return {"e": "aggTrade", "E": now_ms, "s": t.symbol, "a": t.id, "p": fmt_atoms(t.price), "q": fmt_atoms(t.qty),
            "f": t.id, "l": t.id, "T": t.time, "m": t.buyer_is_maker}


def order_trade_update(r: PerpOrderReport, now_ms: int) -> dict[str, Any]:
    f = r.fill
    return {
        "e": "ORDER_TRADE_UPDATE",
        "E": now_ms,
        "T": r.time,
        "o": {
            "s": r.symbol,
            "c": r.client_id,
            "S": r.side,
            "o": r.type,
            "f": r.tif,
            "q": fmt_atoms(r.qty),
            "p": fmt_atoms(r.price),
            "ap": _dec(r.avg_price),
            "sp": "0",
            "x": r.exec_type,
            "X": r.status,
            "i": r.order_id,
            "l": fmt_atoms(f.qty if f else 0),
            "z": fmt_atoms(r.executed),
            "L": fmt_atoms(f.price if f else 0),
            "N": f.commission_asset if f else "USDT",
            "n": fmt_atoms(f.commission if f else 0),
            "T": r.time,
            "t": f.id if f else 0,
            "b": "0",
            "a": "0",
            "m": f.is_maker if f else False,
            "R": r.reduce_only,
            "wt": "CONTRACT_PRICE",
            "ot": r.type,
            "ps": r.position_side,
            "cp": False,
            "rp": fmt_atoms(f.realized_pnl if f else 0),
            "pP": False,
            "si": 0,
            "ss": 0,
            "V": "NONE",
            "pm": "NONE",
            "gtd": 0,
        },
    }


def account_update(u: PerpAccountUpdate, now_ms: int) -> dict[str, Any]:
    return {
        "e": "ACCOUNT_UPDATE",
        "E": now_ms,
        "T": u.time,
        "a": {
            "m": u.reason,
            "B": [{"a": "USDT", "wb": fmt_atoms(u.wallet), "cw": fmt_atoms(u.wallet), "bc": fmt_atoms(u.change)}],
            "P": [
                {"s": p.symbol, "pa": fmt_atoms(p.amount), "ep": _dec(p.entry_price), "bep": _dec(p.entry_price),
                 "cr": fmt_atoms(p.realized), "up": fmt_atoms(p.unrealized), "mt": "cross", "iw": "0",
                 "ps": p.position_side}
                for p in u.positions
            ],
        },
    }
