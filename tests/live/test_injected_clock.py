"""The order manager, its tracker and the fill intake read one injected monotonic clock (a replay's
simulated clock), never ``time.monotonic`` behind its back."""

from __future__ import annotations

from typing import Any

import ccxt

from bot.core.inventory import Inventory
from bot.live.fills import NOT_FOUND_AFTER, FillIntake
from bot.live.market import MarketState
from bot.live.orders import OrderManager, make_throttler
from bot.live.ratelimit import RateGate
from bot.logs import get_logger

SYMBOL = "BTC/USDT"


class SimClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class TimeoutEntry:
    """Every create times out (its fate unknown); the venue never heard of it."""

    name = "rest"
    wire_turns = 0

    async def create(self, *_: Any) -> dict[str, Any]:
        raise ccxt.RequestTimeout("no answer")

    async def cancel(self, *_: Any) -> dict[str, Any]:
        raise ccxt.OrderNotFound("unknown order")

    def headers(self) -> None:
        return None


class NoVenue:
    async def fetch_order(self, *_: Any) -> dict[str, Any]:
        raise ccxt.OrderNotFound("unknown order")


def _setup(clock: SimClock) -> tuple[OrderManager, FillIntake]:
    log = get_logger()
    orders = OrderManager(NoVenue(), SYMBOL, "BTCUSDT", "mmbot", make_throttler(1000), RateGate(), log,
                          entry=TimeoutEntry(), max_data_age=0.5, clock=clock)
    state = MarketState(SYMBOL)
    state.on_book(0.0, [[99.9, 1.0]], [[100.1, 1.0]])
    fills = FillIntake(NoVenue(), SYMBOL, orders, Inventory("BTC", "USDT"), state, log, start_ms=0)
    return orders, fills


async def test_order_ages_and_data_age_read_the_injected_clock() -> None:
    clock = SimClock(5_000_000.0)  # far from this host's monotonic time
    orders, _fills = _setup(clock)
    assert await orders.create("buy", 99.9, 0.1, data_time=clock.now - 1.0) is None  # stale by the sim's clock
    order = await orders.create("buy", 99.9, 0.1, data_time=clock.now - 0.1)
    assert order is not None and order.created_at == clock.now
    clock.now += 3.0
    assert await orders.cancel(order.client_id)  # not found: it settles from the sim's now
    assert order.settling_since == clock.now


async def test_an_unknown_create_is_declared_never_sent_only_after_the_sim_clock_moves() -> None:
    clock = SimClock(5_000_000.0)
    orders, fills = _setup(clock)
    order = await orders.create("sell", 100.1, 0.1)
    assert order is not None and order.client_id in fills.unresolved
    assert fills.unknown_since[order.client_id] == clock.now
    await fills.resolve_unknown()
    assert order.client_id in fills.unresolved  # the venue may still be processing it
    clock.now += NOT_FOUND_AFTER + 0.1
    await fills.resolve_unknown()
    assert order.client_id not in fills.unresolved and order.client_id not in orders.tracker.open
