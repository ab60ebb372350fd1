"""Order entry over the WebSocket API (bot/live/entry.py), against the in-process simulator with
unmodified ccxt: deadlines, the rate gate, ccxt's per-request bookkeeping, and which venues may use it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import ccxt
import pytest

from bot.errors import UserError
from bot.live.entry import RestOrderEntry, WsOrderEntry, make_order_entry
from bot.live.orders import OrderManager, make_throttler
from bot.live.ratelimit import RateGate, gate_exchange
from bot.sim.server import SimServer
from bot.venue.connect import create_exchange
from tests.fakes import RecordingLog
from tests.live.conftest import SYMBOL, fast_sim, started


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    server = await started(fast_sim(seed=11))
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def venue(sim: SimServer) -> AsyncIterator[tuple[Any, RateGate]]:
    exchange = create_exchange("sim", "binance", sim.url, sim.api_key, sim.api_secret)
    gate = RateGate()
    gate_exchange(exchange, gate)
    await exchange.load_markets()
    try:
        yield exchange, gate
    finally:
        await exchange.close()


async def _touch(exchange: Any) -> tuple[float, float]:
    book = await exchange.fetch_order_book(SYMBOL, 5)
    return float(book["bids"][0][0]), float(book["asks"][0][0])


def _order_requests(entry: WsOrderEntry) -> int:
    """Order requests ccxt still files on the WebSocket API connection."""
    client = entry.exchange.client(entry.url)
    handler = entry.exchange.handle_order_ws
    return sum(1 for sub in client.subscriptions.values() if isinstance(sub, dict) and sub.get("method") == handler)


async def test_creates_and_cancels_travel_over_the_websocket_api_and_ccxt_keeps_no_record_of_them(
    venue: tuple[Any, RateGate],
) -> None:
    exchange, gate = venue
    entry = make_order_entry("websocket", exchange, gate)
    assert isinstance(entry, WsOrderEntry)
    log = RecordingLog()
    orders = OrderManager(exchange, SYMBOL, "BTCUSDT", "mmbot", make_throttler(1000), gate, log, entry=entry)
    bid, ask = await _touch(exchange)
    before = exchange.options.get("requestId", {}).get(entry.url, 0)
    for i in range(20):
        order = await orders.create("buy", round(bid - 1.0 - 0.01 * i, 2), 0.002)
        assert order is not None and order.acked, log.events[-1]
        assert await orders.cancel(order.client_id)
    assert orders.placed == 20 and orders.canceled == 20
    assert exchange.options["requestId"][entry.url] - before == 40  # every create and cancel was a WS request
    assert _order_requests(entry) == 0  # ... and none is left behind in ccxt's per-connection records
    assert not [o for o in await exchange.fetch_open_orders(SYMBOL) if o["clientOrderId"].startswith("mmbot-")]
    # a post-only order that would cross is the usual rejection, not an order of unknown fate
    crossing = await orders.create("buy", ask + 1.0, 0.002)
    assert crossing is None and "order_rejected" in log.names() and "order_unknown" not in log.names()


async def test_an_unanswered_request_times_out_as_an_order_of_unknown_fate(
    sim: SimServer, venue: tuple[Any, RateGate]
) -> None:
    exchange, gate = venue
    entry = WsOrderEntry(exchange, gate, timeout=0.2)
    orders = OrderManager(exchange, SYMBOL, "BTCUSDT", "mmbot", make_throttler(1000), gate, RecordingLog(), entry=entry)
    bid, _ = await _touch(exchange)
    sim.set_faults(slow_ack_ms=1500)
    with pytest.raises(ccxt.RequestTimeout):
        await entry.create(SYMBOL, "buy", 0.002, bid - 2.0, {"clientOrderId": "mmbot-t-slow"})
    # the abandoned request is forgotten
    assert _order_requests(entry) == 0 and not entry.exchange.client(entry.url).futures
    order = await orders.create("buy", bid - 2.5, 0.002)
    assert order is not None and list(orders.tracker.unresolved) == [order.client_id]  # looked up by client id
    assert not order.acked and order.client_id in orders.tracker.open
    sim.set_faults(slow_ack_ms=0)
    # the venue did execute both: the lookup will find them open (and the bot cancels them)
    open_ids = {o["clientOrderId"] for o in await exchange.fetch_open_orders(SYMBOL)}
    assert {"mmbot-t-slow", order.client_id} <= open_ids


async def test_the_deadline_is_per_task_and_arms_no_timer_per_request(
    sim: SimServer, venue: tuple[Any, RateGate]
) -> None:
    exchange, gate = venue
    entry = WsOrderEntry(exchange, gate, timeout=0.3)
    bid, _ = await _touch(exchange)
    loop = asyncio.get_running_loop()
    armed: list[str] = []
    call_at = loop.call_at

    def counting_call_at(when: float, callback: Any, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
        armed.append(getattr(callback, "__qualname__", ""))
        return call_at(when, callback, *args, **kwargs)

    loop.call_at = counting_call_at  # type: ignore[method-assign]
    try:
        for i in range(5):
            order = await entry.create(SYMBOL, "buy", 0.002, bid - 2.0, {"clientOrderId": f"mmbot-t-d{i}"})
            await entry.cancel(order["id"], SYMBOL, {})
    finally:
        loop.call_at = call_at  # type: ignore[method-assign]
    # ten requests, one deadline timer for this task (asyncio.timeout would have armed and cancelled ten)
    assert armed.count("IdleWatchdog._check") == 1 and "Timeout._on_timeout" not in armed
    assert len(entry._deadlines) == 1

    # another task's slow request times out on its own deadline; this task's requests are not affected
    sim.set_faults(slow_ack_ms=1000)
    slow = asyncio.ensure_future(entry.create(SYMBOL, "buy", 0.002, bid - 2.5, {"clientOrderId": "mmbot-t-slow2"}))
    await asyncio.sleep(0.2)  # the slow request is 0.2 s into its 0.3 s
    sim.set_faults(slow_ack_ms=0)
    started_at = time.monotonic()
    order = await entry.create(SYMBOL, "buy", 0.002, bid - 3.0, {"clientOrderId": "mmbot-t-fast"})
    assert order["clientOrderId"] == "mmbot-t-fast" and time.monotonic() - started_at < 0.3
    with pytest.raises(ccxt.RequestTimeout):
        await slow
    assert len(entry._deadlines) == 2
    # a finished task's keeper (which holds the task) goes when the next new task makes a request
    await asyncio.ensure_future(entry.cancel(order["id"], SYMBOL, {}))
    assert slow not in entry._deadlines and len(entry._deadlines) == 2


async def test_nothing_is_sent_while_the_rate_gate_is_closed(sim: SimServer, venue: tuple[Any, RateGate]) -> None:
    exchange, gate = venue
    entry = WsOrderEntry(exchange, gate)
    bid, _ = await _touch(exchange)
    warm = await entry.create(SYMBOL, "buy", 0.002, bid - 3.0, {"clientOrderId": "mmbot-t-warm"})  # connected
    await entry.cancel(warm["id"], SYMBOL, {})
    observer = create_exchange("sim", "binance", sim.url, sim.api_key, sim.api_secret)  # outside the gate
    try:
        gate.hit(at_least=0.5)
        started_at = time.monotonic()
        sending = asyncio.ensure_future(
            entry.create(SYMBOL, "buy", 0.002, bid - 3.0, {"clientOrderId": "mmbot-t-gate"}))
        await asyncio.sleep(0.3)
        assert "mmbot-t-gate" not in {o["clientOrderId"] for o in await observer.fetch_open_orders(SYMBOL)}
        placed = await sending
        assert time.monotonic() - started_at >= 0.49
        assert placed["clientOrderId"] == "mmbot-t-gate" and placed["status"] == "open"
    finally:
        await observer.close()


async def test_a_rate_limit_answer_over_the_websocket_api_closes_the_gate(
    sim: SimServer, venue: tuple[Any, RateGate]
) -> None:
    exchange, gate = venue
    entry = WsOrderEntry(exchange, gate)
    log = RecordingLog()
    orders = OrderManager(exchange, SYMBOL, "BTCUSDT", "mmbot", make_throttler(1000), gate, log, entry=entry)
    limits: list[tuple[str, float | None]] = []
    gate.on_limit = lambda op, exc, pause, hint: limits.append((op, hint))
    bid, _ = await _touch(exchange)
    sim.set_rate_limits(weight_per_minute=1)  # the weight this client has used is over it: the next request 429s
    assert await orders.create("buy", bid - 4.0, 0.002) is None
    sim.set_rate_limits(weight_per_minute=6000)
    assert gate.blocked() and gate.hits == 1  # closed once, for every symbol's orders and reads
    (op, hint), = limits
    assert op == "ws order.place" and hint is not None and hint > 0  # the venue's retryAfter is honoured
    assert "order_unknown" not in log.names()  # refused before it was processed: nothing to look up
    assert not orders.tracker.open and not orders.tracker.settling


async def test_only_venues_with_a_binance_websocket_api_may_send_orders_over_it(
    venue: tuple[Any, RateGate],
) -> None:
    gate = RateGate()
    assert isinstance(make_order_entry("rest", object(), gate), RestOrderEntry)
    paper = create_exchange("paper", "binance", None, None, None)
    kraken = ccxt.pro.kraken()
    try:
        # auto (the default): the WebSocket API where the venue has one, else REST
        assert isinstance(make_order_entry("auto", venue[0], gate), WsOrderEntry)
        assert isinstance(make_order_entry("auto", paper, gate), RestOrderEntry)
        assert isinstance(make_order_entry("auto", kraken, gate), RestOrderEntry)
        with pytest.raises(UserError, match="paper venue answers orders locally"):
            make_order_entry("websocket", paper, gate)
        with pytest.raises(UserError, match="kraken has none"):
            make_order_entry("websocket", kraken, gate)
        with pytest.raises(UserError, match="must be one of"):
            make_order_entry("fix", kraken, gate)
    finally:
        await kraken.close()
        await paper.close()
