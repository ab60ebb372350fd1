"""Venue adapters turn ccxt payloads into neutral records; the generic live path reads nothing else."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.venue.adapters import BinanceSpotAdapter, CcxtAdapter, PaperAdapter, adapter_for
from bot.venue.records import OrderStatus, TradeUpdate

ROOT = Path(__file__).resolve().parents[2]
SPOT = BinanceSpotAdapter()


def _ccxt_trade(**info: Any) -> dict[str, Any]:
    # ccxt parsed the amount into a float that lost digits Binance sent
    return {"id": 77, "order": 42, "clientOrderId": None, "symbol": "BTC/USDT", "side": "sell", "price": 100.1,
            "amount": 0.30000000000000004, "timestamp": 1_700_000_000_123,
            "fee": {"cost": 0.0003, "currency": "USDT"}, "info": info}


def test_binance_trades_carry_the_venues_exact_decimal_and_raw_client_id() -> None:
    rest = SPOT.trade(_ccxt_trade(qty="0.30000000"), "rest")
    ws = SPOT.trade(_ccxt_trade(l="0.30000000", c="mmbot-x-1"), "ws")
    assert rest is not None and ws is not None
    assert rest.amount == ws.amount == Decimal("0.3") and str(rest.amount) == "0.30000000"
    assert (rest.trade_id, rest.order_id, rest.client_id) == ("77", "42", None)
    assert ws.client_id == "mmbot-x-1" and ws.source == "ws" and rest.source == "rest"
    assert (ws.side, ws.price, ws.fee, ws.fee_currency, ws.timestamp_ms) == ("sell", 100.1, 0.0003, "USDT",
                                                                              1_700_000_000_123)


def test_binance_trade_without_the_raw_field_falls_back_to_ccxts_amount() -> None:
    trade = SPOT.trade(_ccxt_trade(), "ws")
    assert trade is not None and trade.amount == Decimal("0.30000000000000004")


def test_a_payload_that_is_not_a_trade_is_none() -> None:
    assert SPOT.trade({"id": None, "side": "buy", "price": 1.0, "amount": 1.0}, "rest") is None
    assert SPOT.trade({"id": 1, "side": None, "price": 1.0, "amount": 1.0}, "rest") is None


@pytest.mark.parametrize(("info", "expected"), [
    ({"C": "mmbot-orig", "c": "cancel-own-id"}, "mmbot-orig"),  # a stream cancel: C is the original id
    ({"c": "mmbot-x"}, "mmbot-x"),
    ({"clientOrderId": "mmbot-y"}, "mmbot-y"),
    ({"origClientOrderId": "mmbot-z"}, "mmbot-z"),  # a REST cancel's answer
    ({}, None),
])
def test_binance_client_id_from_ccxts_field_or_binances_raw_fields(info: dict[str, Any], expected: str | None) -> None:
    assert SPOT.order({"id": "1", "status": "open", "info": info}).client_id == expected
    assert SPOT.order({"id": "1", "clientOrderId": "ccxt-wins", "info": info}).client_id == "ccxt-wins"


@pytest.mark.parametrize(("status", "expected"), [
    ("open", OrderStatus.OPEN), ("closed", OrderStatus.DONE), ("canceled", OrderStatus.DONE),
    ("cancelled", OrderStatus.DONE), ("expired", OrderStatus.DONE), ("rejected", OrderStatus.DONE),
    (None, None), ("weird", None),
])
def test_order_statuses(status: str | None, expected: OrderStatus | None) -> None:
    update = CcxtAdapter().order({"id": 5, "status": status, "filled": 0.1})
    assert update.status is expected and update.venue_status == status and update.order_id == "5"
    assert update.done is (expected is OrderStatus.DONE)


def test_binance_order_filled_is_the_exact_executed_quantity() -> None:
    rest = SPOT.order({"id": "1", "status": "canceled", "filled": 0.30000000000000004,
                       "info": {"executedQty": "0.30000000"}})
    ws = SPOT.order({"id": "1", "status": "closed", "filled": 0.30000000000000004, "info": {"z": "0.30000000"}})
    assert rest.filled == ws.filled == Decimal("0.3")
    assert SPOT.order({"id": "1", "status": "open", "info": {}}).filled is None


def test_request_parameters_name_orders_the_venues_way() -> None:
    assert SPOT.create_params("mmbot-1", post_only=True) == {"clientOrderId": "mmbot-1", "postOnly": True}
    assert SPOT.create_params("mmbot-1", post_only=False) == {"clientOrderId": "mmbot-1"}
    assert SPOT.by_client_id("mmbot-1") == {"origClientOrderId": "mmbot-1"}
    assert CcxtAdapter().by_client_id("mmbot-1") == {"clientOrderId": "mmbot-1"}


def test_the_adapter_is_picked_from_the_venue() -> None:
    from bot.paper.venue import PaperExchange

    class Binance:
        id = "binance"

    class Kraken:
        id = "kraken"

    assert isinstance(adapter_for(Binance()), BinanceSpotAdapter)
    assert type(adapter_for(Kraken())) is CcxtAdapter
    assert isinstance(adapter_for(PaperExchange(Kraken())), PaperAdapter)


def test_the_paper_adapter_hands_on_the_record_the_venue_built() -> None:
    record = TradeUpdate("p-1", "P1", "mmbot-1", "BTC/USDT", "buy", 100.0, Decimal("0.002"), 0.0, "USDT",
                         1000, "ws")
    assert PaperAdapter().trade({"info": record}, "ws") is record
    assert PaperAdapter().trade({"info": record}, "rest") == TradeUpdate(
        "p-1", "P1", "mmbot-1", "BTC/USDT", "buy", 100.0, Decimal("0.002"), 0.0, "USDT", 1000, "rest")


# -- the rule: the generic live path reads no venue-specific field ------------------------------------------

GENERIC = ["bot/live/orders.py", "bot/live/fills.py", "bot/live/service.py", "bot/live/recovery.py",
           "bot/live/order_state.py", "bot/live/quoter.py", "bot/live/guard.py", "bot/research/livereplay.py"]
#: fields of a venue's order or trade payload (ccxt's, Binance's raw ones) and Binance's request parameters
VENUE_FIELDS = {"info", "C", "c", "l", "z", "qty", "executedQty", "origClientOrderId", "clientOrderId", "status",
                "filled", "order", "fromId", "endTime", "orderId"}


def venue_field_reads(source: str) -> list[str]:
    """``x["field"]``, ``x.get("field")`` and ``{"field": ...}`` with a venue field, as ``line: field``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        keys: list[ast.expr] = []
        if isinstance(node, ast.Subscript):
            keys = [node.slice]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
                "get", "pop", "setdefault") and node.args:
            keys = [node.args[0]]
        elif isinstance(node, ast.Dict):
            keys = [k for k in node.keys if k is not None]
        found += [f"{k.lineno}: {k.value}" for k in keys
                  if isinstance(k, ast.Constant) and k.value in VENUE_FIELDS]
    return found


def test_the_rule_finds_what_it_forbids() -> None:
    sample = 'a = t["info"]["qty"]\nb = o.get("status")\nc = {"origClientOrderId": cid}\nd = t["side"]\n'
    assert sorted(venue_field_reads(sample)) == ["1: info", "1: qty", "2: status", "3: origClientOrderId"]


@pytest.mark.parametrize("path", GENERIC)
def test_the_generic_live_path_reads_no_venue_field(path: str) -> None:
    file = ROOT / path
    if not file.exists():
        pytest.skip(f"{path} does not exist (yet)")
    assert venue_field_reads(file.read_text()) == [], f"{path} reads a venue's field: go through bot.venue.adapters"
