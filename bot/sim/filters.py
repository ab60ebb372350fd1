"""Request parameters -> engine arguments, with Binance's filter checks and error codes.

PRICE_FILTER: price is a multiple of tickSize within [minPrice, maxPrice]. LOT_SIZE: quantity is a
multiple of stepSize within [minQty, maxQty]. NOTIONAL: price * quantity >= minNotional (MARKET
orders use the last trade price). Failures raise ``SimError(-1013, "Filter failure: ...")``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bot.sim.engine import SymbolState
from bot.sim.events import SimError

MAX_PRICE = Decimal(1000000)
MAX_QTY = Decimal(9000)
_DECIMAL = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
SIDES = ("BUY", "SELL")
TYPES = ("LIMIT", "LIMIT_MAKER", "MARKET")
TIFS = ("GTC", "IOC", "FOK")


def missing(name: str) -> SimError:
    return SimError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def not_required(name: str) -> SimError:
    return SimError(-1106, f"Parameter '{name}' sent when not required.")


def parse_decimal(name: str, value: str) -> Decimal:
    if not _DECIMAL.match(value):
        raise SimError(
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is "
            "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
        )
    try:
        return Decimal(value)
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        raise missing(name) from None


def parse_int(name: str, value: str) -> int:
    if not value.isdigit() or len(value) > 19:
        raise SimError(-1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.")
    return int(value)


def to_ticks(sym: SymbolState, price: Decimal) -> int:
    tick = sym.spec.tick_size
    if price < tick or price > MAX_PRICE or price % tick != 0:
        raise SimError(-1013, "Filter failure: PRICE_FILTER")
    return int(price / tick)


def to_lots(sym: SymbolState, qty: Decimal) -> int:
    step = sym.spec.step_size
    if qty < step or qty > MAX_QTY or qty % step != 0:
        raise SimError(-1013, "Filter failure: LOT_SIZE")
    return int(qty / step)


def check_notional(sym: SymbolState, price_atoms: int, lots: int) -> None:
    notional = Decimal(price_atoms * lots * sym.step_atoms) / Decimal(10**16)
    if notional < sym.spec.min_notional:
        raise SimError(-1013, "Filter failure: NOTIONAL")


@dataclass(slots=True, frozen=True)
class NewOrder:
    side: str
    type: str
    tif: str
    lots: int
    price: int
    quote_qty: int
    client_id: str | None
    resp_type: str


def parse_new_order(sym: SymbolState, params: dict[str, str]) -> NewOrder:
    """Check a POST /api/v3/order request the way Binance does."""
    side = params.get("side")
    if not side:
        raise missing("side")
    if side not in SIDES:
        raise SimError(-1117, "Invalid side.")
    type_ = params.get("type")
    if not type_:
        raise missing("type")
    if type_ not in TYPES:
        raise SimError(-1116, "Invalid orderType.")
    client_id = params.get("newClientOrderId") or None
    if client_id is not None and not _CLIENT_ID.match(client_id):
        raise SimError(
            -1100,
            "Illegal characters found in parameter 'newClientOrderId'; legal range is "
            "'^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.",
        )
    resp_type = params.get("newOrderRespType") or "FULL"
    if resp_type not in ("ACK", "RESULT", "FULL"):
        raise SimError(-1100, "Illegal characters found in parameter 'newOrderRespType'.")
    tif = params.get("timeInForce")
    if type_ == "LIMIT":
        if not tif:
            raise missing("timeInForce")
        if tif not in TIFS:
            raise SimError(-1115, "Invalid timeInForce.")
    elif tif:
        raise not_required("timeInForce")
    else:
        tif = "GTC"
    price_s = params.get("price")
    qty_s = params.get("quantity")
    quote_s = params.get("quoteOrderQty")
    if type_ == "MARKET":
        if price_s:
            raise not_required("price")
        if qty_s and quote_s:
            raise SimError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
        if not qty_s and not quote_s:
            raise SimError(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!")
        if quote_s:
            if side != "BUY":
                raise SimError(-1013, "Quote order qty market orders are only supported for BUY orders.")
            quote = parse_decimal("quoteOrderQty", quote_s)
            quote_atoms = int(quote * 10**8)
            if quote < sym.spec.min_notional or quote_atoms <= 0:
                raise SimError(-1013, "Filter failure: NOTIONAL")
            return NewOrder(side, type_, "GTC", 0, 0, quote_atoms, client_id, resp_type)
        lots = to_lots(sym, parse_decimal("quantity", qty_s or ""))
        check_notional(sym, sym.stats.last, lots)
        return NewOrder(side, type_, "GTC", lots, 0, 0, client_id, resp_type)
    if not price_s:
        raise missing("price")
    if not qty_s:
        raise missing("quantity")
    if quote_s:
        raise not_required("quoteOrderQty")
    ticks = to_ticks(sym, parse_decimal("price", price_s))
    lots = to_lots(sym, parse_decimal("quantity", qty_s))
    check_notional(sym, ticks * sym.tick_atoms, lots)
    return NewOrder(side, type_, tif, lots, ticks, 0, client_id, resp_type)
