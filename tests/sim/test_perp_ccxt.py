"""Unmodified ccxt ``binanceusdm`` (REST) against the simulated perpetual, built exactly as the hedge leg
builds it (``bot.venue.connect.create_futures_exchange``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import ccxt
import pytest
from pydantic import SecretStr

from bot.sim.server import SimServer, start_sim
from bot.sim.settings import DEFAULT_API_KEY, DEFAULT_API_SECRET, AccountSpec, PerpSpec, SimSettings
from bot.venue.connect import create_futures_exchange

SECOND_KEY, SECOND_SECRET = "taker-key", "taker-secret"
PERP = "BTC/USDT:USDT"
WAIT = 10


def perp_settings(**kw: Any) -> SimSettings:
    """The default spot market, a fast clock, two accounts, and BTC/USDT:USDT tracking BTC/USDT."""
    accounts = [
        AccountSpec(api_key=DEFAULT_API_KEY, api_secret=SecretStr(DEFAULT_API_SECRET)),
        AccountSpec(api_key=SECOND_KEY, api_secret=SecretStr(SECOND_SECRET)),
    ]
    perps = {PERP: PerpSpec(base="BTC", quote="USDT", spot="BTC/USDT", mid=Decimal(30000), step_size=Decimal("0.001"),
                            tick_size=Decimal("0.1"))}
    return SimSettings(step_interval=0.02, accounts=accounts, perps=perps, **kw)


@pytest.fixture
async def psim() -> AsyncIterator[SimServer]:
    server = await start_sim(perp_settings())
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def make_futures(psim: SimServer) -> AsyncIterator[Callable[..., Any]]:
    clients: list[Any] = []

    def make(key: str = DEFAULT_API_KEY, secret: str = DEFAULT_API_SECRET) -> Any:
        ex = create_futures_exchange("sim", "binanceusdm", psim.url, key, secret)
        clients.append(ex)
        return ex

    yield make
    for ex in clients:
        await ex.close()


@pytest.fixture
async def fut(make_futures: Callable[..., Any]) -> Any:
    ex = make_futures()
    await ex.load_markets()
    return ex


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110 - polls state owned by the sim
            await asyncio.sleep(0.01)


async def touch(fut: Any) -> tuple[float, float]:
    ob = await fut.fetch_order_book(PERP, 5)
    return ob["bids"][0][0], ob["asks"][0][0]


async def test_load_markets_reads_a_linear_perpetual(fut: Any) -> None:
    m = fut.market(PERP)
    assert m["swap"] and m["linear"] and m["contract"] and m["settle"] == "USDT"
    assert m["id"] == "BTCUSDT" and m["active"]
    assert m["precision"]["price"] == 0.1 and m["precision"]["amount"] == 0.001
    assert m["limits"]["cost"]["min"] == 5
    assert fut.market("BTC/USDT")["symbol"] == PERP


async def test_market_data(fut: Any, psim: SimServer) -> None:
    await until(lambda: psim.perp is not None and psim.perp.engine.symbols["BTCUSDT"].update_id > 3)
    ob = await fut.fetch_order_book(PERP)
    assert ob["bids"][0][0] < ob["asks"][0][0] and ob["nonce"] > 0 and ob["timestamp"]
    bid_ask = (await fut.fetch_bids_asks([PERP]))[PERP]
    assert bid_ask["bid"] < bid_ask["ask"]
    rate = await fut.fetch_funding_rate(PERP)
    assert abs(rate["fundingRate"]) <= 0.0075 and rate["markPrice"] > 0 and rate["indexPrice"] > 0
    assert rate["interestRate"] == 0.0001
    assert rate["fundingTimestamp"] > fut.milliseconds()
    assert abs(await fut.fetch_time() - fut.milliseconds()) < 5000
    ticker = await fut.fetch_ticker(PERP)
    assert ticker["last"] > 0


async def test_limit_order_lifecycle(fut: Any) -> None:
    bid, _ask = await touch(fut)
    price = round(bid - 50, 1)
    order = await fut.create_order(PERP, "limit", "buy", 0.01, price, {"clientOrderId": "mmbot-h-1"})
    assert order["status"] == "open" and order["clientOrderId"] == "mmbot-h-1"
    got = await fut.fetch_order(order["id"], PERP)
    assert got["price"] == price and got["amount"] == 0.01 and got["timestamp"]
    assert [o["id"] for o in await fut.fetch_open_orders(PERP)] == [order["id"]]
    canceled = await fut.cancel_order(order["id"], PERP)
    assert canceled["status"] == "canceled"
    assert await fut.fetch_open_orders(PERP) == []
    with pytest.raises(ccxt.OrderNotFound):
        await fut.cancel_order(order["id"], PERP)
    closed = await fut.fetch_orders(PERP)  # GET allOrders
    assert [(o["id"], o["status"]) for o in closed] == [(order["id"], "canceled")]


async def test_post_only_that_would_take_is_rejected(fut: Any) -> None:
    _bid, ask = await touch(fut)
    with pytest.raises(ccxt.InvalidOrder):
        await fut.create_order(PERP, "limit", "buy", 0.01, ask, {"postOnly": True})
    bid, _ask = await touch(fut)
    resting = await fut.create_order(PERP, "limit", "buy", 0.01, bid, {"postOnly": True})
    assert resting["postOnly"] and resting["timeInForce"] == "PO"


async def test_fills_positions_balance_and_reduce_only(fut: Any, psim: SimServer) -> None:
    _bid, ask = await touch(fut)
    ioc = await fut.create_order(PERP, "limit", "buy", 0.01, round(ask + 20, 1), {"timeInForce": "IOC"})
    assert ioc["status"] in ("closed", "expired") and ioc["filled"] > 0
    market = await fut.create_order(PERP, "market", "buy", 0.005)
    assert market["status"] == "closed" and market["filled"] == 0.005
    trades = await fut.fetch_my_trades(PERP)
    bought = sum(t["amount"] for t in trades)
    assert bought == pytest.approx(ioc["filled"] + 0.005)
    assert all(t["side"] == "buy" and t["fee"]["currency"] == "USDT" and t["fee"]["cost"] > 0 for t in trades)
    positions = await fut.fetch_positions([PERP])
    assert len(positions) == 1
    pos = positions[0]
    assert pos["side"] == "long" and pos["contracts"] == pytest.approx(bought) and pos["entryPrice"] > 0
    assert pos["hedged"] is False and pos["marginMode"] == "cross"
    balance = await fut.fetch_balance()
    assert balance["USDT"]["total"] > 0 and balance["USDT"]["used"] > 0
    assert balance["USDT"]["free"] < 100000
    # a reduce-only order that would increase the long is rejected as Binance does (-2022)
    with pytest.raises(ccxt.InvalidOrder, match="ReduceOnly Order is rejected"):
        await fut.create_order(PERP, "market", "buy", 0.001, None, {"reduceOnly": True})
    # one that reduces fills at most the position
    sold = await fut.create_order(PERP, "market", "sell", 1.0, None, {"reduceOnly": True})
    assert sold["filled"] == pytest.approx(bought) and sold["reduceOnly"] is True
    assert await fut.fetch_positions([PERP]) == []


async def test_cancel_all_orders_and_margin_errors(fut: Any) -> None:
    bid, _ask = await touch(fut)
    for i in range(3):
        await fut.create_order(PERP, "limit", "buy", 0.01, round(bid - 10 * (i + 1), 1))
    assert len(await fut.fetch_open_orders(PERP)) == 3
    await fut.cancel_all_orders(PERP)
    assert await fut.fetch_open_orders(PERP) == []
    with pytest.raises(ccxt.InsufficientFunds):  # 100 BTC at 20x needs 150k USDT of margin
        await fut.create_order(PERP, "limit", "buy", 100, round(bid - 100, 1))
    with pytest.raises(ccxt.InvalidOrder):  # below the 5 USDT minimum notional (-4164)
        await fut.create_order(PERP, "limit", "buy", 0.001, 1000.0)


async def test_leverage_position_mode_and_fee(fut: Any) -> None:
    assert (await fut.set_leverage(10, PERP))["leverage"] == 10
    with pytest.raises(ccxt.BadRequest):
        await fut.set_leverage(126, PERP)
    assert (await fut.fetch_position_mode(PERP))["hedged"] is False
    await fut.set_position_mode(True)
    assert (await fut.fetch_position_mode(PERP))["hedged"] is True
    with pytest.raises(ccxt.OperationRejected):  # no positionSide in hedge mode (-4061)
        await fut.create_order(PERP, "market", "buy", 0.002)
    opened = await fut.create_order(PERP, "market", "buy", 0.002, None, {"positionSide": "LONG"})
    assert opened["filled"] == 0.002
    positions = await fut.fetch_positions([PERP])
    assert [(p["side"], p["hedged"]) for p in positions] == [("long", True)]
    closed = await fut.create_order(PERP, "market", "sell", 0.002, None, {"positionSide": "LONG"})
    assert closed["filled"] == 0.002
    await fut.set_position_mode(False)
    fee = await fut.fetch_trading_fee(PERP)
    assert fee["maker"] == 0.0002 and fee["taker"] == 0.0005


async def test_countdown_cancel_all_cancels_by_itself(fut: Any) -> None:
    bid, _ask = await touch(fut)
    await fut.create_order(PERP, "limit", "buy", 0.01, round(bid - 30, 1))
    reply = await fut.fapiPrivatePostCountdownCancelAll({"symbol": "BTCUSDT", "countdownTime": 1500})
    assert reply == {"symbol": "BTCUSDT", "countdownTime": "1500"}
    assert len(await fut.fetch_open_orders(PERP)) == 1  # not yet
    async with asyncio.timeout(WAIT):
        while await fut.fetch_open_orders(PERP):  # noqa: ASYNC110 - asks the venue, as a bot would
            await asyncio.sleep(0.05)
    # disarmed (0): an order stays
    await fut.create_order(PERP, "limit", "buy", 0.01, round(bid - 30, 1))
    await fut.fapiPrivatePostCountdownCancelAll({"symbol": "BTCUSDT", "countdownTime": 1500})
    await fut.fapiPrivatePostCountdownCancelAll({"symbol": "BTCUSDT", "countdownTime": 0})
    await asyncio.sleep(2)
    assert len(await fut.fetch_open_orders(PERP)) == 1


async def test_funding_is_income(fut: Any, psim: SimServer) -> None:
    await fut.create_order(PERP, "market", "buy", 0.01)
    assert psim.perp is not None
    psim.perp.funding_now()
    history = await fut.fetch_funding_history(PERP)
    assert len(history) == 1
    row = history[0]
    assert row["symbol"] == PERP and row["code"] == "USDT" and row["id"]
    assert row["amount"] < 0  # a long pays a positive rate
    rates = await fut.fetch_funding_rate_history(PERP)
    assert len(rates) == 1 and abs(rates[0]["fundingRate"]) <= 0.0075
