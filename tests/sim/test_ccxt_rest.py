"""Unmodified ccxt (async) against the simulator over loopback: markets, book, orders, errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ccxt
import pytest

from bot.sim.server import SimServer, start_sim
from bot.sim.settings import RateLimitSettings

from .conftest import SECOND_KEY, SECOND_SECRET, fast_settings


async def test_load_markets_parses_filters_and_precision(client: Any) -> None:
    btc, eth = client.markets["BTC/USDT"], client.markets["ETH/USDT"]
    assert btc["id"] == "BTCUSDT" and btc["spot"] and btc["active"]
    assert btc["precision"]["amount"] == 1e-05 and btc["precision"]["price"] == 0.01
    assert btc["limits"]["amount"]["min"] == 1e-05
    assert btc["limits"]["price"]["min"] == 0.01
    assert btc["limits"]["cost"]["min"] == 5.0
    assert eth["precision"]["amount"] == 0.0001
    assert client.amount_to_precision("BTC/USDT", 0.123456789) == "0.12345"
    with pytest.raises(ccxt.InvalidOrder):
        client.amount_to_precision("BTC/USDT", 0.000001)


async def test_fetch_order_book_and_public_data(client: Any, sim: SimServer) -> None:
    ob = await client.fetch_order_book("BTC/USDT", 5)
    assert len(ob["bids"]) == 5 and len(ob["asks"]) == 5
    assert ob["bids"][0][0] < ob["asks"][0][0]
    assert ob["bids"] == sorted(ob["bids"], reverse=True)
    assert isinstance(ob["nonce"], int) and ob["nonce"] > 0
    ticker = await client.fetch_ticker("BTC/USDT")
    assert ticker["symbol"] == "BTC/USDT" and ticker["bid"] < ticker["ask"]
    assert (await client.fetch_time()) > 0
    trades = await client.fetch_trades("BTC/USDT", limit=5)
    assert all(t["side"] in ("buy", "sell") for t in trades)


async def test_order_lifecycle(client: Any, sim: SimServer) -> None:
    ob = await client.fetch_order_book("BTC/USDT", 5)
    bid = ob["bids"][0][0] - 1.0  # well behind the touch: it will rest
    balance = await client.fetch_balance()
    assert balance["free"]["USDT"] == 100000 and balance["total"]["BTC"] == 2
    placed = await client.create_order("BTC/USDT", "limit", "buy", 0.001, bid, {"postOnly": True,
                                                                                  "clientOrderId": "mm-1"})
    assert placed["status"] == "open" and placed["clientOrderId"] == "mm-1"
    second = await client.create_order("BTC/USDT", "limit", "buy", 0.002, bid - 1, {"clientOrderId": "mm-2"})
    fetched = await client.fetch_order(placed["id"], "BTC/USDT")
    assert fetched["price"] == bid and fetched["amount"] == 0.001 and fetched["status"] == "open"
    open_ids = {o["id"] for o in await client.fetch_open_orders("BTC/USDT")}
    assert open_ids == {placed["id"], second["id"]}
    balance = await client.fetch_balance()
    assert balance["used"]["USDT"] == pytest.approx(0.001 * bid + 0.002 * (bid - 1))
    canceled = await client.cancel_order(placed["id"], "BTC/USDT")
    assert canceled["status"] == "canceled"
    with pytest.raises(ccxt.OrderNotFound):
        await client.cancel_order(placed["id"], "BTC/USDT")
    await client.cancel_all_orders("BTC/USDT")
    assert await client.fetch_open_orders("BTC/USDT") == []
    assert (await client.fetch_order(second["id"], "BTC/USDT"))["status"] == "canceled"
    history = await client.fetch_orders("BTC/USDT")
    assert [(o["id"], o["status"]) for o in history] == [(placed["id"], "canceled"), (second["id"], "canceled")]
    with pytest.raises(ccxt.OrderNotFound):
        await client.cancel_all_orders("BTC/USDT")  # nothing open: -2011 like Binance
    balance = await client.fetch_balance()
    assert balance["used"]["USDT"] == 0 and balance["free"]["USDT"] == 100000


async def test_market_order_fills_and_shows_in_my_trades(client: Any) -> None:
    order = await client.create_order("BTC/USDT", "market", "buy", 0.001)
    assert order["status"] == "closed" and order["filled"] == 0.001
    assert order["trades"] and order["fee"]["currency"] == "BTC"
    trades = await client.fetch_my_trades("BTC/USDT")
    assert {t["order"] for t in trades} == {order["id"]}
    assert sum(t["amount"] for t in trades) == pytest.approx(0.001)
    assert all(t["takerOrMaker"] == "taker" for t in trades)
    balance = await client.fetch_balance()
    assert balance["total"]["BTC"] == pytest.approx(2 + 0.001 * 0.999)


async def test_post_only_that_would_cross_is_rejected(client: Any) -> None:
    ob = await client.fetch_order_book("BTC/USDT", 5)
    with pytest.raises(ccxt.OrderImmediatelyFillable):
        await client.create_order("BTC/USDT", "limit", "buy", 0.001, ob["asks"][0][0] + 5, {"postOnly": True})


async def test_insufficient_funds(client: Any) -> None:
    ob = await client.fetch_order_book("BTC/USDT", 5)
    with pytest.raises(ccxt.InsufficientFunds):
        await client.create_order("BTC/USDT", "limit", "sell", 3, ob["asks"][0][0] + 100)


async def test_filter_failures(client: Any) -> None:
    with pytest.raises(ccxt.BadRequest, match="NOTIONAL"):  # below 5 USDT: ccxt maps -1013 to BadRequest
        await client.create_order("BTC/USDT", "limit", "buy", 0.0001, 10000)
    with pytest.raises(ccxt.InvalidOrder, match="LOT_SIZE"):  # a raw request ccxt would not round
        await client.private_post_order({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                         "timeInForce": "GTC", "quantity": "0.000015", "price": "20000"})
    with pytest.raises(ccxt.InvalidOrder, match="PRICE_FILTER"):
        await client.private_post_order({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                         "timeInForce": "GTC", "quantity": "0.001", "price": "20000.005"})
    with pytest.raises(ccxt.BadRequest):  # missing mandatory parameter -> -1102
        await client.private_post_order({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT"})
    with pytest.raises(ccxt.BadSymbol):
        await client.fetch_order_book("NOPE/USDT")


async def test_bad_signature_and_bad_key(make_client: Callable[..., Any], sim: SimServer) -> None:
    wrong_secret = make_client(sim.api_key, "not-the-secret")
    await wrong_secret.load_markets()
    with pytest.raises(ccxt.AuthenticationError):
        await wrong_secret.fetch_balance()
    wrong_key = make_client("no-such-key", "whatever")
    await wrong_key.load_markets()
    with pytest.raises(ccxt.AuthenticationError):
        await wrong_key.fetch_balance()


async def test_timestamp_outside_recv_window(client: Any) -> None:
    client.options["recvWindow"] = 1000
    client.nonce = lambda: client.milliseconds() - 5000  # a client clock 5 s behind
    with pytest.raises(ccxt.InvalidNonce):
        await client.fetch_balance()


async def test_weight_exceeded_is_ddos_protection(make_client: Callable[..., Any]) -> None:
    settings = fast_settings(rate_limits=RateLimitSettings(weight_per_minute=60, ban_after=1, ban_seconds=60))
    async with await start_sim(settings) as small:
        ex = make_client(server=small)
        ex.enableRateLimit = False
        await ex.load_markets()  # exchangeInfo: 20
        with pytest.raises(ccxt.DDoSProtection):
            for _ in range(20):
                await ex.fetch_order_book("BTC/USDT", 5)  # 5 each
        with pytest.raises(ccxt.DDoSProtection):  # still over: 429 again, then banned (418)
            await ex.fetch_order_book("BTC/USDT", 5)
        with pytest.raises(ccxt.DDoSProtection) as banned:
            await ex.fetch_order_book("BTC/USDT", 5)
        assert "418" in str(banned.value)
        assert int(ex.last_response_headers["Retry-After"]) >= 1


async def test_used_weight_header(sim: SimServer, client: Any) -> None:
    await client.fetch_order_book("BTC/USDT", 5)
    used = int(client.last_response_headers["X-MBX-USED-WEIGHT-1M"])
    assert used >= 25  # exchangeInfo 20 + depth 5


async def test_two_accounts_trade_with_each_other(make_client: Callable[..., Any], sim: SimServer) -> None:
    maker = make_client()
    taker = make_client(SECOND_KEY, SECOND_SECRET)
    await maker.load_markets()
    await taker.load_markets()
    sim.paused = True  # freeze the background so the maker's order is the best bid
    ob = await maker.fetch_order_book("BTC/USDT", 5)
    price = float(maker.price_to_precision("BTC/USDT", ob["asks"][0][0] - 0.01))
    placed = await maker.create_order("BTC/USDT", "limit", "buy", 0.002, price, {"postOnly": True})
    taken = await taker.create_order("BTC/USDT", "market", "sell", 0.002)
    assert taken["filled"] == 0.002 and taken["average"] == price
    assert (await maker.fetch_order(placed["id"], "BTC/USDT"))["status"] == "closed"
    (mt,) = await maker.fetch_my_trades("BTC/USDT")
    assert mt["takerOrMaker"] == "maker" and mt["price"] == price and mt["side"] == "buy"
    assert mt["fee"]["cost"] == pytest.approx(0.002 * 0.001)


async def test_plain_async_ccxt_works_too(sim: SimServer) -> None:
    """ccxt.async_support (not pro) with the same URL overrides trades against the simulator."""
    import ccxt.async_support as ccxt_async

    ex = ccxt_async.binance({"apiKey": sim.api_key, "secret": sim.api_secret,
                             "options": {"defaultType": "spot", "fetchMarkets": {"types": ["spot"]}}})
    ex.set_sandbox_mode(True)
    ex.urls["api"]["public"] = ex.urls["api"]["private"] = f"{sim.url}/api/v3"
    try:
        await ex.load_markets()
        order = await ex.create_order("ETH/USDT", "limit", "sell", 0.01, 3000)
        assert order["status"] == "open"
        assert (await ex.cancel_order(order["id"], "ETH/USDT"))["status"] == "canceled"
    finally:
        await ex.close()
