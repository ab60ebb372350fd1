"""bot.live.ratelimit: every REST request of the ccxt exchange waits for the shared RateGate, any rate-limit
answer closes it for everyone (counted once), and the leaky bucket is credited for its idle time."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import ccxt
import ccxt.pro
import pytest
from aiohttp import web
from ccxt.async_support.base.throttler import Throttler

from bot.live.ratelimit import READING, GatedThrottler, OrderThrottle, RateGate, gate_exchange
from bot.paper.venue import PaperExchange
from bot.venue.connect import create_exchange

BUCKET = {"refillRate": 0.02, "delay": 0.001, "capacity": 1, "tokens": 0, "cost": 1,
          "algorithm": "leakyBucket", "windowSize": 60000.0, "rateLimit": 50}


def throttler(gate: RateGate | None = None) -> GatedThrottler:
    return GatedThrottler(dict(BUCKET), asyncio.get_running_loop(), gate)


async def test_idle_time_pays_the_debt_of_the_last_request() -> None:
    t = throttler()
    await t(0.2)
    await asyncio.sleep(0)
    assert not t.running
    assert t.config["tokens"] < 0  # ccxt leaves the bucket in debt after a request
    t.idle_since -= 1000.0  # one idle second: 20 tokens' worth, capped at the capacity
    await t(0.2)
    assert t.config["tokens"] == pytest.approx(0.8)


async def test_plain_ccxt_bucket_keeps_the_debt_over_idle_time() -> None:
    """The behaviour being fixed: ccxt credits nothing for the idle time before a request."""
    t = Throttler(dict(BUCKET), asyncio.get_running_loop())
    await t(0.2)
    await asyncio.sleep(0)
    debt = t.config["tokens"]
    future = t(0.2)  # queued: ccxt makes it wait out the debt although the bucket has been idle
    assert t.config["tokens"] == debt < 0
    await future


async def test_no_credit_while_requests_are_queued() -> None:
    t = throttler()
    t.config["tokens"] = -0.5
    t.running = True  # a loop is draining the queue: it does the refilling itself
    t.idle_since -= 1000.0
    t.queue.append((asyncio.get_running_loop().create_future(), 0.2))
    call = asyncio.ensure_future(t(0.2))
    await asyncio.sleep(0)
    assert t.config["tokens"] == -0.5 and len(t.queue) == 2
    call.cancel()
    t.running = False
    t.queue.clear()


def test_an_answer_to_a_request_sent_after_the_gate_reopened_restarts_the_doubling() -> None:
    gate = RateGate(base=1.0, cap=8.0)
    assert gate.hit(0.0) == 1.0 and gate.hit(0.5) == 2.0  # until 2.5
    gate.answered(2.4)  # sent while the gate was closed (in flight before the hit): no reset
    assert gate.hit(3.0) == 4.0  # until 7.0
    gate.answered(7.0)  # sent once the gate had reopened: the venue takes traffic again
    assert gate.hit(7.5) == 1.0


def test_after_a_hit_with_the_venues_own_wait_the_pause_keeps_growing() -> None:
    gate = RateGate(base=1.0, cap=8.0)
    assert gate.hit(0.0, at_least=0.5) == 1.0  # until 1.0
    gate.answered(2.0)  # answered after the reopening, but the venue said how long: no reset
    assert gate.hit(2.5, at_least=0.5) == 2.0


async def test_a_request_waits_while_the_gate_is_closed() -> None:
    gate = RateGate(base=0.05)
    gate.hit(at_least=0.1)
    await throttler(gate)(0.2)
    assert not gate.blocked()  # it went out only once the gate had opened


async def test_a_request_queued_in_the_bucket_when_the_gate_closes_waits_for_it_too() -> None:
    gate = RateGate(base=0.05)
    t = throttler(gate)
    t.config["tokens"] = -1000.0  # deep debt: the request sits in ccxt's loop
    call = asyncio.ensure_future(t(0.2))
    await asyncio.sleep(0)
    assert t.queue  # taken its place in ccxt's loop
    gate.hit(at_least=0.1)
    t.config["tokens"] = 1.0  # the bucket releases it now, while the gate is closed
    await call
    assert not gate.blocked()


async def test_a_read_leaves_the_reserve_in_the_bucket_and_an_order_does_not_wait_for_it() -> None:
    t = throttler()
    t.config["capacity"] = 10.0
    t.idle_since = time.time() * 1000.0  # no idle credit to speak of: the bucket is empty
    reading = READING.set(True)
    try:
        await t(0.5)  # a read: waits until the bucket holds 0.5 + 1 tokens, takes 0.5
    finally:
        READING.reset(reading)
    assert t.config["tokens"] >= 1.0 - 1e-6
    await asyncio.sleep(0)
    t.idle_since = time.time() * 1000.0
    before = t.config["tokens"]
    await t(0.2)  # an order: goes at once (tokens >= 0), as in ccxt
    assert t.config["tokens"] == pytest.approx(before - 0.2, abs=0.05)


def test_gate_exchange_wraps_a_ccxt_client_once_and_keeps_its_bucket() -> None:
    ex = ccxt.pro.binance({"enableRateLimit": True})
    gate = RateGate()
    before, config = type(ex), ex.throttler.config
    assert gate_exchange(ex, gate) is ex
    assert isinstance(ex, before) and type(ex) is not before
    assert isinstance(ex.throttler, GatedThrottler) and ex.throttler.gate is gate
    assert ex.throttler.config is config
    assert config["capacity"] == pytest.approx(10.0)  # 0.5 s of Binance's 50 ms tokens
    throttle, cls = ex.throttler, type(ex)
    other = RateGate()
    gate_exchange(ex, other)  # idempotent: the same wrapper, now on the other gate
    assert type(ex) is cls and ex.throttler is throttle and throttle.gate is other and ex.rate_gate is other
    assert type(ccxt.pro.binance()) is before  # the ccxt class itself is untouched


async def test_a_read_above_the_burst_leaves_an_orders_cost_so_the_next_order_goes_at_once() -> None:
    """The futures leg's funding-income read costs 30 tokens, three times the default burst: with the default
    reserve it took 30 of a 10-token bucket and the next hedge order waited out the 20-token debt (~1 s, measured
    in the hedge benchmark); gated with the order's cost as reserve and room for the largest read, it leaves 4."""
    ex = ccxt.pro.binanceusdm({"enableRateLimit": True})
    order_cost, income = 4.0, 30.0
    gate_exchange(ex, RateGate(), reserve=order_cost, largest_read=income)
    t = ex.throttler
    assert isinstance(t, GatedThrottler) and t.reserve == order_cost
    assert t.config["capacity"] == pytest.approx(income + order_cost)
    t.config["tokens"] = t.config["capacity"] - 1.0  # almost full
    t.idle_since = time.time() * 1000.0
    reading = READING.set(True)
    try:
        await t(income)
    finally:
        READING.reset(reading)
    assert t.config["tokens"] >= order_cost - 1e-6
    await asyncio.sleep(0)  # ccxt's loop ends its turn
    t.idle_since = time.time() * 1000.0
    assert t.take_now(order_cost)  # the order goes without waiting
    plain = ccxt.pro.binanceusdm({"enableRateLimit": True})
    gate_exchange(plain, RateGate())
    assert plain.throttler.config["capacity"] < income  # the default: a 30-token read must run the bucket into debt


def test_gate_exchange_reaches_a_paper_venues_public_feed_and_leaves_other_objects_alone() -> None:
    feed = ccxt.pro.binance({"enableRateLimit": True})
    gate = RateGate()
    assert gate_exchange(PaperExchange(feed), gate) is feed
    assert isinstance(feed.throttler, GatedThrottler)

    class NotCcxt:
        throttler = None

    venue = NotCcxt()
    assert gate_exchange(venue, gate) is None and venue.throttler is None


async def test_a_429_to_any_rest_call_closes_the_gate_once_and_the_next_call_waits_for_retry_after() -> None:
    arrivals: list[float] = []

    async def depth(request: web.Request) -> web.Response:
        arrivals.append(time.monotonic())
        if len(arrivals) == 1:
            return web.json_response({"code": -1003, "msg": "Too many requests; current limit exceeded."},
                                     status=429, headers={"Retry-After": "0.3"})
        return web.json_response({"lastUpdateId": 1, "bids": [], "asks": []})

    app = web.Application()
    app.router.add_get("/api/v3/depth", depth)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    ex = create_exchange("sim", "binance", f"http://127.0.0.1:{port}", None, None)
    told: list[tuple[Any, ...]] = []
    gate = RateGate(base=0.05, on_limit=lambda *args: told.append(args))
    gate_exchange(ex, gate)
    try:
        with pytest.raises((ccxt.DDoSProtection, ccxt.RateLimitExceeded)) as caught:
            await ex.public_get_depth({"symbol": "BTCUSDT"})
        assert gate.hits == 1 and gate.blocked()
        [(op, exc, pause, hint)] = told
        assert op == "GET depth" and exc is caught.value and hint == pytest.approx(0.3) and pause >= hint
        assert gate.limited("create", caught.value) == pause and gate.hits == 1 and len(told) == 1  # counted once
        reopens = gate.until
        await ex.public_get_depth({"symbol": "BTCUSDT"})
        assert len(arrivals) == 2 and arrivals[1] >= reopens  # sent only after Retry-After
        assert gate.hits == 1
    finally:
        await ex.close()
        await runner.cleanup()


async def test_a_balance_read_held_by_the_gate_does_not_hold_up_the_other_kill_triggers(tmp_path: Any) -> None:
    """Guard.monitor reads the balance (drift check) in a task of its own: while that read waits for a
    closed gate, the kill file still trips the kill, and the read is cancelled."""
    from types import SimpleNamespace

    from bot.config import load_settings
    from bot.core.inventory import Inventory
    from bot.live.gate import KillSwitch, RiskGate
    from bot.live.guard import Guard, Tripwires
    from bot.live.journal import Journal
    from bot.live.market import MarketState
    from bot.live.orders import OrderLedger
    from bot.live.symbolrun import RunView

    kill_file = tmp_path / "KILL"
    settings = load_settings(None, {"risk": {"kill_file": str(kill_file), "balance_drift_tolerance": 0.001},
                                    "execution": {"reconcile_interval": 0.25}})
    run = SimpleNamespace(symbol="BTC/USDT", inventory=Inventory("BTC", "USDT"), state=MarketState("BTC/USDT"),
                          market={"base": "BTC"}, cfg=settings.for_symbol("BTC/USDT"),
                          orders=SimpleNamespace(tracker=OrderLedger()), gate=RiskGate(KillSwitch()), start_base=None)
    reading, cancelled = asyncio.Event(), asyncio.Event()

    class HeldVenue:
        async def fetch_balance(self) -> dict[str, Any]:
            reading.set()
            try:
                await asyncio.Event().wait()  # the gate never opens during this test
            except asyncio.CancelledError:
                cancelled.set()
                raise
            return {}

    kills: list[str] = []
    journal = Journal(tmp_path / "j.sqlite")
    guard = Guard(settings, journal, [RunView(run)], Tripwires(settings.risk, kills.append, None),  # type: ignore[arg-type]
                  kills.append, None)
    try:
        monitor = asyncio.ensure_future(guard.monitor(HeldVenue(), interval=0.01))
        await asyncio.wait_for(reading.wait(), 30.0)
        kill_file.touch()
        await asyncio.wait_for(monitor, 30.0)
        assert len(kills) == 1 and "kill file" in kills[0]
        await asyncio.wait_for(cancelled.wait(), 30.0)
    finally:
        journal.close()



async def test_a_request_with_tokens_to_spare_goes_at_once_without_ccxts_loop() -> None:
    t = throttler()
    t.config["tokens"] = 1.0
    call = t(0.2)
    with pytest.raises(StopIteration):  # finished on its first step: no suspension, no looper task
        call.send(None)
    assert not t.running and not t.queue
    assert t.config["tokens"] == pytest.approx(0.8)  # the idle credit is capped at the capacity (1)


async def test_a_request_meeting_a_debt_still_waits_in_ccxts_loop() -> None:
    t = throttler()
    t.config["tokens"] = -0.5
    t.idle_since = time.time() * 1000.0  # no idle time to credit
    call = asyncio.ensure_future(t(0.2))
    await asyncio.sleep(0)
    assert t.running and not call.done()  # queued behind the debt (0.5 tokens = 25 ms at 0.02/ms)
    await asyncio.wait_for(call, 1.0)
    assert t.config["tokens"] < 0


def test_take_now_takes_what_the_awaited_call_would_take_at_once() -> None:
    gate = RateGate()
    t = GatedThrottler(dict(BUCKET), None, gate)
    t.config["tokens"] = 1.0
    assert t.take_now(0.2) and t.config["tokens"] == pytest.approx(0.8)
    # no cost given: the bucket's (1); a few ms of idle credit (0.02 tokens/ms) may come with it
    assert t.take_now() and t.config["tokens"] == pytest.approx(-0.2, abs=0.1)
    t.config["tokens"] = -0.2
    t.idle_since = time.time() * 1000.0  # no idle time to credit
    assert not t.take_now(0.2) and t.config["tokens"] == pytest.approx(-0.2, abs=0.1)  # in debt: nothing taken
    t.config["tokens"] = 1.0
    gate.hit()
    assert not t.take_now(0.2) and t.config["tokens"] == 1.0  # the gate is closed: nothing taken


async def test_take_now_leaves_queued_requests_their_turn() -> None:
    t = throttler()
    t.config["tokens"] = -0.5
    t.idle_since = time.time() * 1000.0
    queued = asyncio.ensure_future(t(0.2))
    await asyncio.sleep(0)
    assert t.running
    t.config["tokens"] = 1.0  # even with tokens to spare, a request may not overtake the queue
    assert not t.take_now(0.2) and t.config["tokens"] == 1.0
    await asyncio.wait_for(queued, 1.0)


# -- the order-traffic ceiling ------------------------------------------------------------------------


async def test_order_throttle_passes_its_limit_at_once_without_suspending() -> None:
    throttle = OrderThrottle(3, 10.0)
    for _ in range(3):
        entered = throttle.acquire()
        with pytest.raises(StopIteration):  # the coroutine finished on its first step: no suspension
            entered.send(None)
    assert len(throttle._task_logs) == 3


async def test_order_throttle_waits_until_the_oldest_pass_is_one_period_old() -> None:
    period = 0.08
    throttle = OrderThrottle(2, period)
    stamps = []
    start = time.monotonic()
    for _ in range(6):
        async with throttle:
            stamps.append(time.monotonic())
    # never more than 2 passes within any period, and no idle gap (each wait ends when a pass expires)
    for i in range(2, 6):
        assert stamps[i] - stamps[i - 2] >= period - 1e-3
    assert stamps[-1] - start < 2 * period + 0.5 * period + 0.05


async def test_order_throttle_serves_waiters_first_come_first_served() -> None:
    throttle = OrderThrottle(1, 0.03)
    order: list[int] = []

    async def take(i: int) -> None:
        async with throttle:
            order.append(i)

    await asyncio.gather(*(take(i) for i in range(5)))
    assert order == [0, 1, 2, 3, 4]


async def test_order_throttle_cancelled_waiter_frees_the_queue() -> None:
    throttle = OrderThrottle(1, 0.05)
    await throttle.acquire()
    waiter = asyncio.create_task(throttle.acquire())
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    t0 = time.monotonic()
    await throttle.acquire()  # not stuck behind the cancelled one
    assert time.monotonic() - t0 < 0.1
    assert len(throttle._task_logs) == 1


def test_order_throttle_rejects_a_meaningless_limit() -> None:
    with pytest.raises(ValueError):
        OrderThrottle(0, 1.0)
    with pytest.raises(ValueError):
        OrderThrottle(1, 0.0)
