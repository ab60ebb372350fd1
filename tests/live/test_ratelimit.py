"""IdleCreditThrottler: the idle time between requests is credited to ccxt's leaky bucket."""

from __future__ import annotations

import asyncio

import ccxt.pro
import pytest
from ccxt.async_support.base.throttler import Throttler

from bot.live.ratelimit import IdleCreditThrottler, credit_idle_time

BUCKET = {"refillRate": 0.02, "delay": 0.001, "capacity": 1, "tokens": 0, "cost": 1,
          "algorithm": "leakyBucket", "windowSize": 60000.0, "rateLimit": 50}


async def test_idle_time_pays_the_debt_of_the_last_request() -> None:
    t = IdleCreditThrottler(dict(BUCKET), asyncio.get_running_loop())
    await t(0.2)
    await asyncio.sleep(0)
    assert not t.running
    debt = t.config["tokens"]
    assert debt < 0  # ccxt leaves the bucket in debt after a request
    t.idle_since -= 1000.0  # one idle second: 20 tokens' worth, capped at the capacity
    future = t(0.2)
    assert t.config["tokens"] == pytest.approx(1.0)
    await future
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
    t = IdleCreditThrottler(dict(BUCKET), asyncio.get_running_loop())
    t.config["tokens"] = -0.5
    t.running = True  # a loop is draining the queue: it does the refilling itself
    t.idle_since -= 1000.0
    t.queue.append((asyncio.get_running_loop().create_future(), 0.2))
    t(0.2)
    assert t.config["tokens"] == -0.5
    t.running = False
    t.queue.clear()


async def test_credit_idle_time_replaces_the_throttler_of_a_ccxt_exchange() -> None:
    ex = ccxt.pro.binance({"enableRateLimit": True})
    try:
        before = ex.throttler
        credit_idle_time(ex)
        assert isinstance(ex.throttler, IdleCreditThrottler)
        assert ex.throttler.config is before.config
        again = ex.throttler
        credit_idle_time(ex)  # idempotent
        assert ex.throttler is again
    finally:
        await ex.close()


def test_credit_idle_time_leaves_other_venue_objects_alone() -> None:
    class NotCcxt:
        throttler = None

    venue = NotCcxt()
    credit_idle_time(venue)
    assert venue.throttler is None
