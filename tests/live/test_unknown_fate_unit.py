"""Orders of unknown fate and REST paging, against an in-memory Binance-like venue (no sockets, no sleeps).

The venue executes a create and then answers it with an error (what the sim's ``unknown_fate_fraction``
does): the bot never learns the order id from the create, and REST trades carry the order id only.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
import pytest

from bot.core.inventory import Inventory, TradeIds
from bot.live.fills import NOT_FOUND_AFTER, FillIntake
from bot.live.journal import Journal
from bot.live.market import MarketState
from bot.live.orders import LiveOrder, OrderManager, make_throttler
from bot.live.ratelimit import RateGate
from bot.logs import get_logger
from bot.venue.paging import DAY_MS, trades_since

SYMBOL = "BTC/USDT"
NOW = 1_700_000_000_000


class Venue:
    """Orders by client id, trades with ``order`` (the order id) and no client id, Binance's myTrades paging."""

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.trades: list[dict[str, Any]] = []
        self.now = NOW
        self.fail_create: type[Exception] | None = None  # raised after the create executed
        self.fill_on_create = 0.0  # filled at once by a taker, in one trade
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.failing_reads = 0  # the next trade reads answered 503

    def milliseconds(self) -> int:
        return self.now

    def trade(self, order_id: str, side: str, amount: float, ts: int | None = None) -> dict[str, Any]:
        tid = len(self.trades) + 1
        row = {"id": str(tid), "order": order_id, "symbol": SYMBOL, "side": side, "price": 100.0, "amount": amount,
               "timestamp": self.now if ts is None else ts, "fee": {"cost": 0.0, "currency": "USDT"},
               "info": {"id": tid, "orderId": int(order_id), "qty": repr(amount)}}
        self.trades.append(row)
        return row

    async def create_order(self, symbol: str, type_: str, side: str, amount: float, price: float,
                           params: dict[str, Any]) -> dict[str, Any]:
        cid = params["clientOrderId"]
        oid = str(len(self.orders) + 1)
        filled = min(amount, self.fill_on_create)
        self.orders[cid] = {"id": oid, "clientOrderId": cid, "status": "closed" if filled >= amount else "open",
                            "filled": filled, "remaining": amount - filled, "side": side, "amount": amount}
        if filled:
            self.trade(oid, side, filled)
        if self.fail_create is not None:
            raise self.fail_create("binance 503 -1007 Timeout waiting for response from backend server.")
        return dict(self.orders[cid])

    async def fetch_order(self, id_: str | None, symbol: str, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("fetch_order", params))
        cid = params["origClientOrderId"]
        if cid not in self.orders:
            raise ccxt.OrderNotFound("binance -2013 Order does not exist.")
        return dict(self.orders[cid])

    async def fetch_open_orders(self, symbol: str) -> list[dict[str, Any]]:
        return [dict(o) for o in self.orders.values() if o["status"] == "open"]

    async def fetch_my_trades(self, symbol: str, since: int | None = None, limit: int | None = None,
                              params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Binance's rules: limit <= 1000 (default 500); a startTime..endTime window of at most 24 h (a
        startTime alone gives at most the 24 h after it); fromId alone; orderId alone."""
        params = dict(params or {})
        self.calls.append(("fetch_my_trades", {"since": since, **params}))
        if self.failing_reads:
            self.failing_reads -= 1
            raise ccxt.ExchangeNotAvailable("binance 503 Service Unavailable")
        limit = 500 if limit is None else limit
        if limit > 1000 or (params.get("fromId") is not None and (since is not None or "endTime" in params)):
            raise ccxt.BadRequest("binance -1128 Combination of optional parameters invalid.")
        rows = self.trades
        if "orderId" in params:
            rows = [t for t in rows if t["order"] == str(params["orderId"])]
        if "fromId" in params:
            rows = [t for t in rows if int(t["id"]) >= int(params["fromId"])]
        if since is not None:
            end = params.get("endTime", since + DAY_MS - 1)
            if end - since >= DAY_MS:
                raise ccxt.BadRequest("binance -1127 More than 24 hours between startTime and endTime.")
            rows = [t for t in rows if since <= t["timestamp"] <= end]
        return [dict(t) for t in rows[:limit]]


def _setup(venue: Venue) -> tuple[FillIntake, OrderManager]:
    log = get_logger()
    orders = OrderManager(venue, SYMBOL, "BTCUSDT", "mmbot", make_throttler(1000), RateGate(), log)
    state = MarketState(SYMBOL)
    state.on_book(0.0, [[99.9, 1.0]], [[100.1, 1.0]])
    book = FillIntake(venue, SYMBOL, orders, Inventory("BTC", "USDT"), state, log, start_ms=NOW - 3_600_000)
    return book, orders


async def _unknown(error: type[Exception], side: str, amount: float,
                   fill_on_create: float = 0.0) -> tuple[Venue, FillIntake, OrderManager, LiveOrder]:
    """A create the venue executes (filling ``fill_on_create`` at once) and answers with ``error``."""
    venue = Venue()
    venue.fail_create, venue.fill_on_create = error, fill_on_create
    book, orders = _setup(venue)
    order = await orders.create(side, 99.9 if side == "buy" else 100.1, amount)  # type: ignore[arg-type]
    assert order is not None and order.order_id is None
    return venue, book, orders, order


def _age(seconds: float) -> float:
    """The monotonic time ``seconds`` ago: an unknown-fate answer that old."""
    return time.monotonic() - seconds


@pytest.mark.parametrize("error", [ccxt.RequestTimeout, ccxt.ExchangeNotAvailable, ccxt.NetworkError,
                                   ccxt.OperationFailed])
async def test_an_executed_create_answered_with_an_error_is_found_and_its_fill_booked_once(error: type) -> None:
    _venue, book, orders, order = await _unknown(error, "buy", 0.3, fill_on_create=0.3)
    assert set(book.unresolved) == {order.client_id}
    assert orders.tracker.open_size("buy") == pytest.approx(0.3)  # unresolved: it may rest, it counts
    await book.safety_net_once()  # REST only: no user stream delivered anything
    assert book.inventory.q_exact == Decimal("0.3") and book.foreign == 0
    assert not book.unresolved and order.order_id == "1"
    assert orders.tracker.exposure("buy") == 0.0  # fully booked: nothing more to come
    await book.safety_net_once()  # the same trade again over REST: counted once
    assert book.inventory.fills == 1 and book.inventory.q_exact == Decimal("0.3")


async def test_a_rest_trade_of_an_unknown_order_id_is_held_until_the_lookup_then_booked() -> None:
    venue, book, orders, order = await _unknown(ccxt.RequestTimeout, "sell", 0.5)
    partial = venue.trade("1", "sell", 0.2)  # a taker hits the resting order; its id is not known yet
    venue.orders[order.client_id].update(filled=0.2, remaining=0.3)
    foreign = venue.trade("999", "buy", 0.1)  # someone else's trade on the account
    assert not book.on_trade(partial, "rest") and not book.on_trade(foreign, "rest")
    assert set(book.held) == {partial["id"], foreign["id"]} and book.foreign == 0  # held, not discarded
    assert book.inventory.fills == 0 and orders.tracker.exposure("sell") == pytest.approx(0.5)
    await book.resolve_unknown()
    assert book.inventory.q_exact == Decimal("-0.2") and book.inventory.fills == 1
    assert not book.held and book.foreign == 1  # the other one: foreign once nothing could own it
    assert orders.tracker.open_size("sell") == pytest.approx(0.3) and order.acked  # still resting


async def test_the_user_stream_resolves_an_unknown_order_and_releases_held_trades() -> None:
    venue, book, _orders, order = await _unknown(ccxt.ExchangeNotAvailable, "buy", 0.4)
    trade = venue.trade("1", "buy", 0.4)
    assert not book.on_trade(trade, "rest")
    book.on_order({"id": "1", "clientOrderId": order.client_id, "status": "closed", "filled": 0.4})
    assert not book.unresolved and not book.held
    assert book.inventory.q_exact == Decimal("0.4") and book.foreign == 0
    assert not [c for c in venue.calls if c[0] == "fetch_order"]  # no lookup was needed


async def test_not_found_is_final_only_once_the_venue_cannot_still_execute_it() -> None:
    venue = Venue()
    book, orders = _setup(venue)
    order = LiveOrder("mmbot-btcusdt-x1", "buy", 99.9, 0.2, 0.2, time.monotonic())
    orders.tracker.add(order)  # sent; the request never reached the venue
    book.on_unknown(order, since=_age(1.0))
    stray = venue.trade("77", "buy", 0.1)
    assert not book.on_trade(stray, "rest")
    await book.resolve_unknown()
    assert set(book.unresolved) == {order.client_id}  # too young: the venue may still process it
    assert order.client_id in orders.tracker.open and stray["id"] in book.held
    order.unknown_since = _age(NOT_FOUND_AFTER + 1.0)  # the answer is older now
    await book.resolve_unknown()
    assert not book.unresolved and order.client_id not in orders.tracker.open
    assert orders.tracker.exposure("buy") == 0.0  # nothing of it can be booked: it no longer counts
    assert not book.held and book.foreign == 1 and book.inventory.fills == 0


async def test_a_trade_seen_while_a_create_is_in_flight_waits_for_its_answer() -> None:
    venue = Venue()
    book, orders = _setup(venue)
    order = LiveOrder("mmbot-btcusdt-x2", "sell", 100.1, 0.1, 0.1, time.monotonic())
    orders.tracker.add(order)  # the create is in flight: the venue executed it, the answer is on its way
    trade = venue.trade("5", "sell", 0.1)
    assert not book.on_trade(trade, "rest") and book.foreign == 0
    orders.tracker.set_order_id(order, "5")  # the create's answer
    book.release()
    assert book.inventory.q_exact == Decimal("-0.1") and not book.held


async def _all(venue: Venue, since: int) -> list[int]:
    async def page(start: int | None, params: dict[str, Any]) -> list[dict[str, Any]]:
        return await venue.fetch_my_trades(SYMBOL, start, 1000, params)

    return [int(r["id"]) for r in await trades_since(page, since, venue.now)]


async def test_trades_since_pages_past_1000_rows() -> None:
    venue = Venue()
    start = NOW - 3 * DAY_MS
    for i in range(1500):  # a burst on the first day, a few trades on the last
        venue.trade("1", "buy", 0.001, ts=start + 10 + i)
    for i in range(30):
        venue.trade("1", "buy", 0.001, ts=NOW - 1000 + i)
    assert await _all(venue, start) == list(range(1, 1531))
    assert [c[1].get("fromId") for c in venue.calls] == [None, 1001]


async def test_trades_since_walks_24h_windows_across_quiet_days() -> None:
    venue = Venue()
    start = NOW - 3 * DAY_MS - 5000
    for i in range(200):  # on the first day and the last, none in between
        venue.trade("1", "buy", 0.001, ts=start + i)
    for i in range(200):
        venue.trade("1", "buy", 0.001, ts=NOW - 10 * 60_000 + i)
    assert await _all(venue, start) == list(range(1, 401))
    assert all("fromId" not in c[1] for c in venue.calls)  # every window came back short
    assert await _all(venue, NOW - 60_000) == []


async def test_a_burst_of_more_than_a_page_between_reconciles_is_booked_in_full() -> None:
    venue = Venue()
    book, orders = _setup(venue)
    order = LiveOrder("mmbot-btcusdt-x3", "buy", 99.9, 3.0, 3.0, time.monotonic(), order_id="1", acked=True)
    orders.tracker.add(order)
    venue.orders[order.client_id] = {"id": "1", "clientOrderId": order.client_id, "status": "open"}
    for i in range(2345):  # over the last ~4 minutes
        venue.trade("1", "buy", 0.001, ts=NOW - 240_000 + i * 100)
    await book.safety_net_once()
    assert book.inventory.fills == 2345 and book.inventory.q_exact == Decimal("2.345")
    assert [c[1].get("fromId") for c in venue.calls if c[0] == "fetch_my_trades"] == [None, 1001, 2001]
    venue.calls.clear()
    venue.now += 1000
    for _ in range(10):
        venue.trade("1", "buy", 0.001)
    await book.safety_net_once()  # from just before the newest trade read: one short page
    assert book.inventory.fills == 2355 and book.inventory.q_exact == Decimal("2.355")
    assert len([c for c in venue.calls if c[0] == "fetch_my_trades"]) == 1


async def test_a_resolved_order_with_more_than_a_page_of_trades_gets_them_all() -> None:
    venue, book, _orders, order = await _unknown(ccxt.RequestTimeout, "buy", 1.5)
    for _ in range(1500):  # a taker sweeps it in 1500 small trades before anyone asks
        venue.trade("1", "buy", 0.001)
    venue.orders[order.client_id].update(status="closed", filled=1.5, remaining=0.0)
    await book.resolve_unknown()
    assert book.inventory.fills == 1500 and book.inventory.q_exact == Decimal("1.5")
    pages = [c[1] for c in venue.calls if c[0] == "fetch_my_trades"]
    assert pages == [{"since": None, "orderId": "1", "fromId": 0}, {"since": None, "orderId": "1", "fromId": 1001}]


@pytest.mark.parametrize("ids", ["paper-{}", "{}"])
async def test_paging_stops_when_the_venue_ignores_from_id(ids: str) -> None:
    """The paper venue has no integer ids and ignores ``fromId``: no endless paging, no crash."""
    rows = [{"id": ids.format(i), "timestamp": NOW} for i in range(1000)]
    calls: list[dict[str, Any]] = []

    async def page(since: int | None, params: dict[str, Any]) -> list[dict[str, Any]]:
        calls.append(params)
        return rows  # the same full page whatever is asked

    got = await trades_since(page, NOW - 1000, NOW)
    assert len(calls) == (1 if ids.startswith("paper") else 2) and len(got) == 1000 * len(calls)


async def test_a_stream_trade_carrying_the_client_id_resolves_the_order_for_later_rest_trades() -> None:
    venue, book, orders, order = await _unknown(ccxt.RequestTimeout, "sell", 0.3)
    first = venue.trade("1", "sell", 0.1)
    book.on_trade(dict(first, info={"c": order.client_id, "l": "0.1"}), "ws")  # an executionReport trade
    assert not book.unresolved and order.order_id == "1"
    assert book.on_trade(venue.trade("1", "sell", 0.1), "rest") and book.foreign == 0  # by order id now
    assert book.inventory.q_exact == Decimal("-0.2") and orders.tracker.open_size("sell") == pytest.approx(0.1)


async def test_a_failed_trade_read_after_the_lookup_leaves_the_order_to_be_asked_again() -> None:
    venue, book, orders, order = await _unknown(ccxt.RequestTimeout, "buy", 0.2, fill_on_create=0.2)
    venue.failing_reads = 1
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await book.resolve_unknown()
    assert set(book.unresolved) == {order.client_id} and orders.tracker.exposure("buy") == pytest.approx(0.2)
    await book.resolve_unknown()
    assert not book.unresolved and book.inventory.q_exact == Decimal("0.2")
    assert orders.tracker.exposure("buy") == 0.0


async def test_reads_do_not_wait_at_a_full_order_ceiling() -> None:
    """The order ceiling counts creates and cancels only: a reconcile, a lookup and an open-orders read
    go through while the ceiling is used up (the rate gate paces reads by weight)."""
    venue, book, orders, _order = await _unknown(ccxt.RequestTimeout, "buy", 0.3, fill_on_create=0.3)
    orders.throttler = make_throttler(1.0 / 3600)  # one pass an hour ...
    await orders.throttler.acquire()  # ... and it is taken
    await asyncio.wait_for(book.safety_net_once(), timeout=5.0)
    await asyncio.wait_for(orders.fetch_own_open(), timeout=5.0)
    assert book.inventory.q_exact == Decimal("0.3") and not book.unresolved
    assert [c for c in venue.calls if c[0] == "fetch_order"]  # the lookup was made


async def test_a_trade_the_trade_ids_forgot_is_not_booked_again_when_the_journal_holds_it(tmp_path: Path) -> None:
    """The in-memory trade ids forget old ids; the journal, which holds every booked trade id, is the
    durable check: a re-read that reaches back further than the memory keeps books nothing twice."""
    venue, book, _orders, _order = await _unknown(ccxt.RequestTimeout, "buy", 0.3, fill_on_create=0.3)
    journal = Journal.open(tmp_path)
    book.record = lambda fill: journal.record_fill(SYMBOL, fill)  # the journal's row before each booking
    await book.safety_net_once()
    assert book.inventory.q_exact == Decimal("0.3") and book.inventory.fills == 1
    book.inventory.seen = TradeIds(keep=0)  # forgotten in memory (as after a restart past the horizon)
    assert not book.on_trade(venue.trades[0], "rest")
    await book.safety_net_once()
    assert book.inventory.q_exact == Decimal("0.3") and book.inventory.fills == 1
    journal.close()
