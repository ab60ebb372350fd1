"""The worst-case limit against a venue whose answers and fill messages the test releases one by one.

The fake venue executes at once but answers each REST call only when the test releases it, and holds
back each trade message until the test delivers it, so every interleaving below is exact (no sleeps).
The real order manager, fill book and guard wiring run against it; after every step the test checks
the limit against the venue's truth: booked ``q`` minus fills not yet delivered minus sells resting
at the venue stays >= -L (all takers buy here, so only the short side matters).
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

import ccxt
import pytest

from bot.config import load_settings
from bot.core.inventory import Inventory
from bot.core.quote import MarketRules, Side
from bot.live.fills import FillIntake, fill_recorder
from bot.live.gate import KillSwitch, RiskGate
from bot.live.guard import Guard, Tripwires
from bot.live.journal import MEMORY, Journal
from bot.live.market import MarketState
from bot.live.orders import OrderHooks, OrderManager, make_throttler
from bot.live.ratelimit import RateGate
from bot.live.symbolrun import RunView, SymbolRun
from bot.logs import get_logger

SYMBOL = "BTC/USDT"
LIMIT = 0.012
PRICE = 30000.0


@dataclass
class VenueOrder:
    id: str
    client_id: str
    side: str
    amount: float
    executed: float = 0.0
    status: str = "open"

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "clientOrderId": self.client_id, "status": self.status, "side": self.side,
                "amount": self.amount, "filled": self.executed, "remaining": self.amount - self.executed}


@dataclass
class Call:
    kind: str
    answer: asyncio.Future[Any]
    order: VenueOrder | None = None


@dataclass
class FakeVenue:
    """Matches at once; answers REST calls and delivers trade messages only when told to."""

    orders: dict[str, VenueOrder] = field(default_factory=dict)
    calls: asyncio.Queue[Call] = field(default_factory=asyncio.Queue)
    undelivered: list[dict[str, Any]] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def _call(self, kind: str, order: VenueOrder | None, result: Any) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
        gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self.calls.put(Call(kind, gate, order))
        await gate  # released by the test
        return await future

    def _find(self, order_id: str | None, params: dict[str, Any]) -> VenueOrder | None:
        cid = params.get("clientOrderId") or params.get("origClientOrderId")
        return next((o for o in self.orders.values() if o.id == order_id or o.client_id == cid), None)

    async def create_order(self, symbol: str, type: str, side: str, amount: float, price: float,
                           params: dict[str, Any]) -> Any:
        order = VenueOrder(str(next(self.ids)), params["clientOrderId"], side, amount)
        self.orders[order.id] = order
        return await self._call("create", order, order.view())

    async def cancel_order(self, order_id: str | None, symbol: str, params: dict[str, Any] | None = None) -> Any:
        order = self._find(order_id, params or {})
        if order is None or order.status != "open":
            return await self._call("cancel", order, ccxt.OrderNotFound("Unknown order sent."))
        order.status = "canceled"
        return await self._call("cancel", order, order.view())

    async def fetch_order(self, order_id: str | None, symbol: str, params: dict[str, Any] | None = None) -> Any:
        order = self._find(order_id, params or {})
        if order is None:
            return await self._call("fetch", None, ccxt.OrderNotFound("Order does not exist."))
        return await self._call("fetch", order, order.view())

    def execute(self, order: VenueOrder, amount: float) -> dict[str, Any]:
        """A taker hits ``order`` for ``amount``; its trade message waits in ``undelivered``."""
        assert order.status == "open" and order.executed + amount <= order.amount + 1e-12
        order.executed += amount
        if order.executed >= order.amount - 1e-12:
            order.status = "closed"
        trade = {"id": f"t{next(self.ids)}", "order": order.id, "symbol": SYMBOL, "side": order.side,
                 "price": PRICE, "amount": amount, "timestamp": 1000, "fee": None,
                 "info": {"c": order.client_id, "l": repr(amount)}}
        self.undelivered.append(trade)
        return trade

    def resting(self, side: str) -> float:
        return sum(o.amount - o.executed for o in self.orders.values() if o.side == side and o.status == "open")


class Harness:
    """The real OrderManager, FillIntake and Guard hooks of one symbol on a :class:`FakeVenue`."""

    def __init__(self) -> None:
        settings = load_settings(None, {"risk": {"max_position": LIMIT}})
        self.venue = FakeVenue()
        log = get_logger()
        self.kills: list[str] = []
        self.journal = Journal(MEMORY)
        tripwires = Tripwires(settings.risk, self.kills.append, log)
        self.guard: Guard | None = None  # built over the run below; the hooks ask it at call time, as the service's

        def precheck(side: Side, amount: float, price: float) -> str | None:
            assert self.guard is not None
            return self.guard.precheck(SYMBOL, side, amount, price)

        hooks = OrderHooks(journal=self.journal, precheck=precheck,
                           on_error=lambda what, exc: tripwires.on_error(SYMBOL, what, exc))
        self.orders = OrderManager(self.venue, SYMBOL, "BTCUSDT", "mmbot", make_throttler(1000), RateGate(), log,
                                   hooks=hooks)
        self.inventory = Inventory("BTC", "USDT")
        state = MarketState(SYMBOL)
        state.on_book(0.0, [[PRICE - 0.01, 1.0]], [[PRICE, 1.0]])
        self.run = SymbolRun(cfg=settings.for_symbol(SYMBOL), market={"base": "BTC"}, rules=MarketRules(0.01, 0.00001),
                             state=state, wake=asyncio.Event(), orders=self.orders, inventory=self.inventory,
                             gate=RiskGate(KillSwitch()), log=log)
        guard = self.guard = Guard(settings, self.journal, [RunView(self.run)], tripwires, self.kills.append, log)
        self.fills = FillIntake(self.venue, SYMBOL, self.orders, self.inventory, state, log, start_ms=0,
                                record=fill_recorder(self.journal, SYMBOL, log),
                                on_fill=lambda: guard.after_fill(SYMBOL))

    def check(self) -> None:
        """The venue's truth: every fill booked or on its way plus every resting sell stays within -L."""
        pending = sum(t["amount"] for t in self.venue.undelivered if t["side"] == "sell")
        worst = self.inventory.q - pending - self.venue.resting("sell")
        assert worst >= -LIMIT - 1e-12, f"worst case {worst} past -{LIMIT}"
        assert not self.kills

    async def answer(self, task: asyncio.Task[Any], kind: str) -> Any:
        """Release the REST call ``task`` makes (which must be ``kind``), if any; return its result."""
        call = asyncio.ensure_future(self.venue.calls.get())
        await asyncio.wait({task, call}, return_when=asyncio.FIRST_COMPLETED)
        if call.done():
            assert call.result().kind == kind
            call.result().answer.set_result(None)
        else:  # finished without calling the venue (a blocked create)
            call.cancel()
        result = await task
        self.check()
        return result

    async def create(self, side: str, amount: float) -> Any:
        return await self.answer(asyncio.create_task(self.orders.create(side, PRICE, amount)), "create")  # type: ignore[arg-type]

    async def cancel(self, client_id: str) -> bool:
        return await self.answer(asyncio.create_task(self.orders.cancel(client_id, "price")), "cancel")  # type: ignore[no-any-return]

    def deliver(self) -> None:
        """Hand every held-back trade message to the fill book (the WS user stream)."""
        while self.venue.undelivered:
            self.fills.on_trade(self.venue.undelivered.pop(0), "ws")
            self.check()

    def close(self) -> None:
        self.journal.close()


@pytest.fixture
def harness() -> Any:
    h = Harness()
    yield h
    h.close()


def venue_order(h: Harness, client_id: str) -> VenueOrder:
    return next(o for o in h.venue.orders.values() if o.client_id == client_id)


async def test_a_cancel_of_a_just_filled_order_keeps_its_undelivered_fill_counted(harness: Harness) -> None:
    """The race the e2e test hit: the cancel of an order whose last lot just filled is answered
    'unknown order' before that fill's message arrives; a sell sized for the room left then went out."""
    h = harness
    a = await h.create("sell", 0.005)
    h.venue.execute(venue_order(h, a.client_id), 0.005)
    h.deliver()  # q = -0.005
    b = await h.create("sell", 0.005)
    h.venue.execute(venue_order(h, b.client_id), 0.00496)
    h.deliver()  # q = -0.00996
    h.venue.execute(venue_order(h, b.client_id), 0.00004)  # b is now filled; its trade is on its way
    assert await h.cancel(b.client_id)  # answered 'unknown order': b does not rest any more ...
    assert await h.create("sell", 0.00204) is None  # ... but a sell sized from q alone would breach
    assert h.orders.tracker.committed("sell") == pytest.approx(0.00004)  # b's last lot still counts
    room = LIMIT + h.inventory.q - h.orders.tracker.committed("sell")
    assert await h.create("sell", room) is not None  # sized from what still counts: allowed
    h.deliver()
    assert h.inventory.q == pytest.approx(-0.01)
    assert h.orders.tracker.settling == {}  # b's last fill booked: nothing left to come


async def test_a_cancel_answer_ahead_of_the_fill_message_counts_the_fill_still_to_come(harness: Harness) -> None:
    h = harness
    a = await h.create("sell", 0.005)
    h.venue.execute(venue_order(h, a.client_id), 0.002)
    h.deliver()
    h.venue.execute(venue_order(h, a.client_id), 0.001)  # the cancel's answer will say 0.003 executed
    assert await h.cancel(a.client_id)
    assert await h.create("sell", LIMIT + h.inventory.q) is None  # the undelivered 0.001 leaves no room
    assert h.orders.tracker.exposure("sell") == pytest.approx(0.001)
    assert await h.create("sell", LIMIT + h.inventory.q - 0.001) is not None
    h.deliver()
    assert h.orders.tracker.exposure("sell") == pytest.approx(LIMIT - 0.003)  # the new order only
    assert a.client_id not in h.orders.tracker.settling  # dropped once nothing of it can come


async def test_an_order_reported_done_before_its_trade_arrives_still_counts(harness: Harness) -> None:
    h = harness
    a = await h.create("sell", 0.005)
    h.venue.execute(venue_order(h, a.client_id), 0.005)
    h.fills.on_order(venue_order(h, a.client_id).view())  # the order stream says "closed" first
    assert a.client_id not in h.orders.tracker.open
    assert await h.create("sell", LIMIT) is None
    assert h.orders.tracker.exposure("sell") == pytest.approx(0.005)
    h.deliver()
    assert h.orders.tracker.exposure("sell") == 0.0 and not h.orders.tracker.settling


async def test_a_fill_before_the_create_answer_is_booked_and_counted_once(harness: Harness) -> None:
    h = harness
    task = asyncio.create_task(h.orders.create("sell", PRICE, 0.005))
    call = await h.venue.calls.get()  # sent, not answered
    assert call.order is not None
    h.venue.execute(call.order, 0.003)
    h.deliver()  # found by client id before the answer
    assert h.orders.tracker.exposure("sell") == pytest.approx(0.002)
    call.answer.set_result(None)
    await task
    h.check()
    assert h.orders.tracker.exposure("sell") == pytest.approx(0.002) and h.inventory.q == pytest.approx(-0.003)


async def test_the_fate_of_a_settling_order_is_looked_up_once_its_fills_are_overdue(harness: Harness) -> None:
    """'Unknown order' without a fill to follow (cancelled elsewhere): the lookup releases its size."""
    h = harness
    a = await h.create("sell", 0.005)
    venue_order(h, a.client_id).status = "canceled"  # e.g. expired by the venue
    assert await h.cancel(a.client_id)
    assert h.orders.tracker.exposure("sell") == pytest.approx(0.005)
    assert a.settling_since is not None
    early = a.settling_since + 0.5 * h.orders.settle_after
    assert await h.orders.resolve_settling(early) == 0  # too early: its fills could still be on their way
    later = a.settling_since + h.orders.settle_after
    task = asyncio.create_task(h.orders.resolve_settling(later))
    await h.answer(task, "fetch")
    assert h.orders.tracker.exposure("sell") == 0.0 and not h.orders.tracker.settling


async def test_a_settling_order_found_resting_is_open_again(harness: Harness) -> None:
    h = harness
    a = await h.create("sell", 0.005)
    h.fills.on_order({**venue_order(h, a.client_id).view(), "status": "expired"})  # a wrong report
    assert a.client_id in h.orders.tracker.settling and not h.orders.tracker.working()
    assert a.settling_since is not None
    later = a.settling_since + h.orders.settle_after
    await h.answer(asyncio.create_task(h.orders.resolve_settling(later)), "fetch")
    assert [w.client_id for w in h.orders.tracker.working()] == [a.client_id]  # the quoter can cancel it
    assert h.orders.tracker.exposure("sell") == pytest.approx(0.005)
