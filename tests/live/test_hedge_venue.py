"""The hedge leg's venue: the USDⓈ-M client (create_futures_exchange), adapter and endpoint."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt
import pytest

from bot.config import load_settings
from bot.errors import UserError
from bot.live.endpoint import Endpoint, hedge_endpoint, require_keys
from bot.venue.adapters import BinanceUsdmAdapter, adapter_for
from bot.venue.answers import Answer, classify
from bot.venue.connect import create_futures_exchange

USDM = BinanceUsdmAdapter()


def test_sim_client_points_every_futures_url_at_the_simulator() -> None:
    ex = create_futures_exchange("sim", "binanceusdm", "http://127.0.0.1:8123", "k", "s")
    api = ex.urls["api"]
    assert [api[k] for k in ("fapiPublic", "fapiPrivate", "fapiPublicV2", "fapiPrivateV2", "fapiPublicV3",
                             "fapiPrivateV3")] == [f"http://127.0.0.1:8123/fapi/{v}" for v in
                                                   ("v1", "v1", "v2", "v2", "v3", "v3")]
    assert api["ws"]["linear"] == "ws://127.0.0.1:8123/fstream/ws"
    assert api["ws"]["ws-api"]["linear"] == "ws://127.0.0.1:8123/ws-fapi/v1"
    assert ex.options["fetchCurrencies"] is False and ex.id == "binanceusdm"
    assert adapter_for(ex) is not None and adapter_for(ex).name == "binance-usdm"


def test_sim_client_reads_futures_error_codes_as_binance_does() -> None:
    """ccxt applies the futures error table to Binance's hosts only; the sim client gets it too."""
    ex = create_futures_exchange("sim", "binanceusdm", "http://127.0.0.1:8123", "k", "s")
    body = '{"code":-2019,"msg":"Margin is insufficient."}'
    with pytest.raises(ccxt.InsufficientFunds):
        ex.handle_errors(400, "Bad Request", "http://127.0.0.1:8123/fapi/v1/order", "POST", {}, body,
                         ex.parse_json(body), {}, "")
    assert classify(ccxt.InsufficientFunds("binanceusdm " + body)) is Answer.NO_FUNDS
    plain = ccxt.pro.binanceusdm()  # the class's table is untouched
    assert "-2019" not in plain.exceptions["exact"]


def test_demo_client_is_binances_futures_demo() -> None:
    ex = create_futures_exchange("demo", "binanceusdm", None, "k", "s")
    assert ex.urls["api"]["fapiPrivate"].startswith("https://demo-fapi.binance.com")


@pytest.mark.parametrize(("kind", "exchange_id", "url", "words"), [
    ("live", "binanceusdm", None, "hedge.kind"),
    ("sim", "bybit", "http://127.0.0.1:1", "hedge.exchange"),
    ("sim", "binanceusdm", None, "hedge.url"),
    ("sim", "binanceusdm", "ftp://x", "hedge.url"),
])
def test_bad_futures_venue_is_one_line(kind: str, exchange_id: str, url: str | None, words: str) -> None:
    with pytest.raises(UserError, match=words):
        create_futures_exchange(kind, exchange_id, url, None, None)


def _stream_trade(**info: Any) -> dict[str, Any]:
    # ccxt's watch_my_trades entry of an ORDER_TRADE_UPDATE: info is the event's "o"
    return {"id": "9", "order": "42", "clientOrderId": None, "symbol": "BTC/USDT:USDT", "side": "sell",
            "price": 30000.1, "amount": 0.30000000000000004, "timestamp": 1_700_000_000_123,
            "fee": {"cost": 0.45, "currency": "USDT"}, "info": info}


def test_usdm_trades_and_orders_carry_exact_decimals_and_raw_client_id() -> None:
    ws = USDM.trade(_stream_trade(l="0.300", z="0.300", c="mmbot-h-btcusdt-1", ps="BOTH"), "ws")
    rest = USDM.trade(_stream_trade(qty="0.300"), "rest")
    assert ws is not None and rest is not None
    assert ws.amount == rest.amount == Decimal("0.3") and ws.client_id == "mmbot-h-btcusdt-1"
    order = USDM.order({"id": "42", "status": "closed", "filled": 0.30000000000000004,
                        "info": {"executedQty": "0.300", "clientOrderId": "mmbot-h-btcusdt-1"}})
    assert order.filled == Decimal("0.3") and order.done and order.client_id == "mmbot-h-btcusdt-1"
    update = USDM.order({"id": "42", "status": "open", "info": {"z": "0.100", "c": "mmbot-h-btcusdt-2"}})
    assert update.filled == Decimal("0.1") and update.client_id == "mmbot-h-btcusdt-2"


def test_usdm_order_params() -> None:
    assert USDM.order_params("c1", post_only=True) == {"clientOrderId": "c1", "timeInForce": "GTX"}
    assert USDM.order_params("c1", ioc=True, reduce_only=True) == {"clientOrderId": "c1", "timeInForce": "IOC",
                                                                   "reduceOnly": True}
    assert USDM.order_params("c1", ioc=True, position_side="SHORT") == {"clientOrderId": "c1",
                                                                        "timeInForce": "IOC", "positionSide": "SHORT"}
    assert USDM.create_params("c1", post_only=True) == USDM.order_params("c1", post_only=True)
    with pytest.raises(ValueError):
        USDM.order_params("c1", post_only=True, ioc=True)


async def test_usdm_maker_fee_from_commission_rate() -> None:
    class Ex:
        async def fapiprivate_get_commissionrate(self, params: dict[str, Any]) -> dict[str, Any]:
            assert params == {"symbol": "BTCUSDT"}
            return {"symbol": "BTCUSDT", "makerCommissionRate": "0.000200", "takerCommissionRate": "0.000500"}

    assert await USDM.maker_fee(Ex(), "BTC/USDT:USDT", {"id": "BTCUSDT"}) == 0.0002

    class Bad:
        async def fapiprivate_get_commissionrate(self, params: dict[str, Any]) -> dict[str, Any]:
            return {"symbol": "BTCUSDT"}

    with pytest.raises(ValueError):
        await USDM.maker_fee(Bad(), "BTC/USDT:USDT", {"id": "BTCUSDT"})


class _Sim:
    url = "http://127.0.0.1:7001"
    api_key = "simkey"
    api_secret = "simsecret"


def _settings(**hedge: Any) -> Any:
    venue = hedge.pop("venue", {"kind": "sim"})
    return load_settings(None, {"venue": venue, "hedge": {"enabled": True, **hedge}})


def test_hedge_endpoint_sim_defaults_to_the_in_process_sim_and_its_account() -> None:
    spot = Endpoint("sim", "binance", _Sim.url, "simkey", "simsecret", sim=_Sim())
    end = hedge_endpoint(_settings(), spot)
    assert (end.kind, end.exchange_id, end.url, end.api_key, end.api_secret) == (
        "sim", "binanceusdm", _Sim.url, "simkey", "simsecret")


def test_hedge_endpoint_sim_url_order_and_keys() -> None:
    spot = Endpoint("sim", "binance", "http://127.0.0.1:7002", "k", "s")
    end = hedge_endpoint(_settings(venue={"kind": "sim", "url": "http://127.0.0.1:7002"}), spot)
    assert end.url == "http://127.0.0.1:7002" and end.api_key  # the sim's first account
    end = hedge_endpoint(_settings(url="http://127.0.0.1:7003", api_key="hk", api_secret="hs"), spot)
    assert (end.url, end.api_key, end.api_secret) == ("http://127.0.0.1:7003", "hk", "hs")


def test_hedge_endpoint_demo_needs_keys_in_one_line() -> None:
    settings = _settings(kind="demo")
    with pytest.raises(UserError, match="MMBOT_HEDGE__API_KEY"):
        require_keys(settings)
    with pytest.raises(UserError, match="MMBOT_HEDGE__API_KEY"):
        hedge_endpoint(settings, Endpoint("sim", "binance", None, None, None))
    bare = Endpoint("sim", "binance", None, None, None)
    end = hedge_endpoint(_settings(kind="demo", api_key="a", api_secret="b"), bare)
    assert (end.kind, end.url, end.api_key) == ("demo", None, "a")
