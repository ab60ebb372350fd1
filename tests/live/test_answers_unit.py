"""One reading of venue answers for both order entries, and what the order manager does with each.

The exception texts are what ccxt raised against the simulator (REST and WebSocket API) for the same
injected faults: ccxt turns Binance's -1008 into ``ExchangeNotAvailable`` over REST but into a plain
``ExchangeError`` over the WebSocket API.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import ccxt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.live.orders import OrderManager, make_throttler
from bot.live.ratelimit import RateGate
from bot.logs import get_logger
from bot.venue.answers import BINANCE_CODES, Answer, classify, venue_code

WS_BUSY = ccxt.ExchangeError('binance {"code":-1008,"msg":"Server is currently overloaded with other requests. '
                             'Please try again in a few minutes."}')
REST_503 = ccxt.ExchangeNotAvailable('binance POST http://127.0.0.1:1/api/v3/order 503 Service Unavailable '
                                     '{"msg":"Service Unavailable."}')
UNKNOWN_1007 = ccxt.RequestTimeout('binance {"code":-1007,"msg":"Timeout waiting for response from backend server. '
                                   'Send status unknown; execution status unknown."}')
SKEW = ccxt.InvalidNonce('binance {"code":-1021,"msg":"Timestamp for this request was 1000ms ahead of the '
                         'server\'s time."}')
REJECT = ccxt.InvalidOrder('binance {"code":-2010,"msg":"Order was rejected by the venue (injected fault)."}')
CROSS_WS = ccxt.ExchangeError('binance {"code":-2010,"msg":"Order would immediately match and take."}')
NOT_FOUND = ccxt.OrderNotFound('binance {"code":-2011,"msg":"Unknown order sent."}')
WS_TOO_MANY = ccxt.ExchangeError('binance {"code":-1015,"msg":"Too many new orders; current limit is 100 orders '
                                 'per TEN_SECONDS."}')


@pytest.mark.parametrize(("exc", "answer"), [
    (WS_BUSY, Answer.OUTAGE),  # the defect: a plain ExchangeError, read as a reject before
    (ccxt.OperationFailed('binance {"code":-1008,"msg":"busy"}'), Answer.OUTAGE),
    (REST_503, Answer.UNKNOWN),  # a bare 5xx: the request may have executed
    (UNKNOWN_1007, Answer.UNKNOWN),
    (ccxt.ExchangeError('binance {"code":-1006,"msg":"An unexpected response was received"}'), Answer.UNKNOWN),
    (ccxt.NetworkError("connection closed"), Answer.UNKNOWN),
    (SKEW, Answer.CLOCK),
    (ccxt.BadRequest('binance {"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}'),
     Answer.CLOCK),
    (REJECT, Answer.REJECTED),
    (CROSS_WS, Answer.WOULD_CROSS),
    (ccxt.OrderImmediatelyFillable("binance Order would immediately match and take."), Answer.WOULD_CROSS),
    (ccxt.InsufficientFunds('binance {"code":-2010,"msg":"Account has insufficient balance"}'), Answer.NO_FUNDS),
    (ccxt.InsufficientFunds("binance Account has insufficient balance"), Answer.NO_FUNDS),
    (NOT_FOUND, Answer.NOT_FOUND),
    (ccxt.OrderNotFound("binance Order does not exist."), Answer.NOT_FOUND),
    (WS_TOO_MANY, Answer.RATE_LIMITED),
    (ccxt.DDoSProtection("binance 429"), Answer.RATE_LIMITED),
    (ccxt.RateLimitExceeded('binance {"code":-1008,"msg":"busy"}'), Answer.RATE_LIMITED),
    (ccxt.ExchangeError("binance something else"), Answer.REJECTED),
    (ccxt.AuthenticationError('binance {"code":-2015,"msg":"Invalid API-key"}'), Answer.REJECTED),
])
def test_every_answer_has_one_meaning(exc: Exception, answer: Answer) -> None:
    assert classify(exc) is answer


def test_the_venue_code_is_read_from_either_transport_s_message() -> None:
    assert venue_code(WS_BUSY) == -1008 and venue_code(SKEW) == -1021 and venue_code(REST_503) is None


@given(st.text(max_size=80), st.sampled_from([ccxt.DDoSProtection, ccxt.RateLimitExceeded]))
def test_a_rate_limit_class_is_always_a_rate_limit(text: str, cls: type[Exception]) -> None:
    assert classify(cls(text)) is Answer.RATE_LIMITED  # the gate must hear of every one


@given(st.integers(-100_000, 100_000), st.text(alphabet="abc -.", max_size=40))
def test_a_known_code_means_what_the_table_says_and_an_unknown_one_is_a_refusal(code: int, text: str) -> None:
    """A plain ExchangeError (how the WebSocket API hands every venue error over) is read by its code alone."""
    expected = BINANCE_CODES.get(code, Answer.REJECTED)
    assert classify(ccxt.ExchangeError(f'binance {{"code":{code},"msg":"{text}"}}')) is expected


class FailingEntry:
    """Creates and cancels that fail with one exception (as either entry hands it over)."""

    name = "fake"
    wire_turns = 0

    def __init__(self, exc: Exception) -> None:
        self.exc = exc
        self.calls = 0

    async def create(self, symbol: str, side: str, amount: float, price: float, params: dict[str, Any]) -> Any:
        self.calls += 1
        raise self.exc

    async def cancel(self, order_id: str | None, symbol: str, params: dict[str, Any]) -> Any:
        self.calls += 1
        raise self.exc

    def headers(self) -> None:
        return None


def _manager(exc: Exception, errors: list[str], exchange: Any = None) -> OrderManager:
    manager = OrderManager(exchange, "BTC/USDT", "BTCUSDT", "mmbot", make_throttler(1000), RateGate(),
                           get_logger(), entry=FailingEntry(exc))
    manager.on_error = lambda what, _exc: errors.append(what)
    return manager


@pytest.mark.parametrize("exc", [WS_BUSY, SKEW])
async def test_a_busy_venue_or_a_skewed_clock_counts_towards_an_outage_not_the_error_rate(exc: Exception) -> None:
    errors: list[str] = []
    manager = _manager(exc, errors)
    for _ in range(3):
        assert await manager.create("buy", 100.0, 0.01) is None  # not executed: not tracked
    assert manager.failures == 3 and errors == [] and manager.rejected == 0
    assert not manager.tracker.open and not manager.tracker.settling


async def test_an_unknown_fate_stays_tracked_and_counts_towards_an_outage() -> None:
    errors: list[str] = []
    manager = _manager(UNKNOWN_1007, errors)
    order = await manager.create("buy", 100.0, 0.01)
    assert order is not None and order.client_id in manager.tracker.open and not order.acked
    assert manager.failures == 1 and errors == []


async def test_a_rejection_counts_towards_the_error_rate() -> None:
    errors: list[str] = []
    manager = _manager(REJECT, errors)
    assert await manager.create("buy", 100.0, 0.01) is None
    assert errors == ["order_rejected:invalid"] and manager.failures == 0


async def test_a_retried_cancel_of_the_same_order_is_one_error() -> None:
    errors: list[str] = []
    manager = _manager(ccxt.ExchangeError("binance some venue error"), errors)
    manager.entry = _ok_create_entry(manager.entry)  # type: ignore[arg-type]
    first = await manager.create("buy", 100.0, 0.01)
    second = await manager.create("sell", 101.0, 0.01)
    assert first is not None and second is not None
    for _ in range(5):
        assert not await manager.cancel(first.client_id)
    assert errors == ["cancel_failed"]
    assert not await manager.cancel(second.client_id)  # another order's failing cancel is another error
    assert errors == ["cancel_failed", "cancel_failed"]


def _ok_create_entry(failing: FailingEntry) -> Any:
    class Entry(FailingEntry):
        async def create(self, symbol: str, side: str, amount: float, price: float, params: dict[str, Any]) -> Any:
            return {"id": str(len(params["clientOrderId"])) + side, "status": "open"}

    return Entry(failing.exc)


class ClockSpy:
    def __init__(self) -> None:
        self.calls = 0

    def skewed(self) -> None:
        self.calls += 1


async def test_a_clock_skew_answer_has_the_clock_measured_again() -> None:
    errors: list[str] = []
    clock = ClockSpy()
    manager = OrderManager(None, "BTC/USDT", "BTCUSDT", "mmbot", make_throttler(1000), RateGate(), get_logger(),
                           entry=FailingEntry(SKEW), clock_sync=clock)  # type: ignore[arg-type]
    await manager.create("buy", 100.0, 0.01)
    assert clock.calls == 1 and errors == []


class SilentVenue:
    """Open-order reads fail (the venue does not answer) after ``good_reads`` successful ones."""

    def __init__(self, open_orders: list[dict[str, Any]], good_reads: int = 0) -> None:
        self.open_orders, self.good_reads = open_orders, good_reads

    async def fetch_open_orders(self, symbol: str) -> list[dict[str, Any]]:
        if self.good_reads <= 0:
            raise ccxt.ExchangeNotAvailable("binance 503 Service Unavailable")
        self.good_reads -= 1
        return list(self.open_orders)


def _resting(cid: str) -> dict[str, Any]:
    return {"id": "7", "clientOrderId": cid, "side": "buy", "price": 100.0, "amount": 0.01, "remaining": 0.01}


async def test_no_answer_from_the_venue_is_never_reported_as_none_left(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(asyncio, "sleep", _no_sleep)
    errors: list[str] = []
    manager = _manager(WS_BUSY, errors, exchange=SilentVenue([]))
    manager.entry = _ok_create_entry(manager.entry)  # type: ignore[arg-type]
    await manager.create("buy", 100.0, 0.01)
    check = await manager.cancel_all(attempts=3)
    assert not check.confirmed and check.left == 1  # was: 0 ("none, confirmed")


async def test_a_read_before_the_last_cancel_confirms_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(asyncio, "sleep", _no_sleep)
    venue = SilentVenue([_resting("mmbot-btcusdt-1")], good_reads=1)  # one read, then silence
    manager = _manager(WS_BUSY, [], exchange=venue)
    check = await manager.cancel_all(attempts=3)
    assert not check.confirmed and check.left == 1


async def test_a_read_after_the_cancels_confirms() -> None:
    venue = SilentVenue([], good_reads=5)
    manager = _manager(WS_BUSY, [], exchange=venue)
    check = await manager.cancel_all()
    assert check.confirmed and check.left == 0


async def _no_sleep(_delay: float) -> None:
    """The retry pauses of ``cancel_all``, skipped."""


class CountingEntry(FailingEntry):
    """Creates that are accepted (and counted)."""

    async def create(self, symbol: str, side: str, amount: float, price: float, params: dict[str, Any]) -> Any:
        self.calls += 1
        return {"id": str(self.calls), "status": "open"}


async def test_a_create_whose_data_went_stale_waiting_for_the_ceiling_is_not_sent() -> None:
    """One order per second: the second create waits ~1 s for the ceiling, longer than the data may age
    (``max_data_age``, the service's ``risk.stale_after``): it is dropped at its turn, not sent on old data."""
    entry = CountingEntry(ccxt.ExchangeError("unused"))
    manager = OrderManager(None, "BTC/USDT", "BTCUSDT", "mmbot", make_throttler(1), RateGate(), get_logger(),
                           entry=entry, max_data_age=0.2)
    born = time.monotonic()
    assert await manager.create("buy", 100.0, 0.01, data_time=born) is not None
    assert await manager.create("sell", 101.0, 0.01, data_time=born) is None
    assert entry.calls == 1 and len(manager.tracker.open) == 1
    assert await manager.create("sell", 101.0, 0.01) is not None  # no data age given (e.g. a flatten): it goes
    assert entry.calls == 2
