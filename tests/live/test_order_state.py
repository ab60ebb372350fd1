"""The order ledger is the one owner of order state: explicit states, the journal's order rows, unknown
fates; a flattening market order goes through the same submit path as every create."""

from __future__ import annotations

from typing import Any

import ccxt
import pytest

from bot.live.journal import JournalWriteError
from bot.live.order_state import LiveOrder, OrderLedger, State
from bot.live.orders import OrderHooks, OrderManager, make_throttler
from bot.live.ratelimit import RateGate
from bot.logs import get_logger

SYMBOL = "BTC/USDT"


class Rows:
    """A journal's order rows, in order."""

    def __init__(self, refuse: bool = False) -> None:
        self.rows: list[tuple[str, ...]] = []
        self.refuse = refuse

    def order_sent(self, client_id: str, symbol: str, side: str, price: float, amount: float) -> None:
        if self.refuse:
            raise JournalWriteError("journal: cannot write j: disk full")
        self.rows.append(("sent", client_id, symbol, side))

    def order_acked(self, client_id: str, order_id: str) -> None:
        self.rows.append(("acked", client_id, order_id))

    def order_closed(self, client_id: str) -> None:
        self.rows.append(("closed", client_id))


def _order(cid: str = "mmbot-x-1", amount: float = 0.2) -> LiveOrder:
    return LiveOrder(cid, "buy", 99.9, amount, amount, 0.0)


def test_an_order_walks_its_states_and_the_ledger_writes_each_row_once() -> None:
    rows = Rows()
    ledger = OrderLedger(SYMBOL, rows, clock=lambda: 7.0)
    order = _order()
    ledger.sent(order)
    assert order.state is State.PENDING_NEW and ledger.committed("buy") == pytest.approx(0.2)
    ledger.set_order_id(order, "42")
    ledger.set_order_id(order, "42")  # a stream update naming it again: no second row
    assert order.state is State.OPEN and order.acked and ledger.committed("buy") == 0.0
    ledger.cancel_sent(order)
    assert order.state is State.PENDING_CANCEL
    ledger.cancel_failed(order)
    assert order.state is State.OPEN
    ledger.cancel_sent(order)
    ledger.close(order.client_id)  # cancelled, its final size unknown: it settles and keeps counting
    assert order.state is State.SETTLING and order.settling_since == 7.0
    assert ledger.exposure("buy") == pytest.approx(0.2)
    ledger.booked(order, 0.05)
    ledger.close(order.client_id, filled=0.05)  # the venue's final size: all booked
    assert order.state is State.DONE and ledger.exposure("buy") == 0.0
    assert rows.rows == [("sent", "mmbot-x-1", SYMBOL, "buy"), ("acked", "mmbot-x-1", "42"), ("closed", "mmbot-x-1")]


def test_a_refused_order_row_means_no_order() -> None:
    ledger = OrderLedger(SYMBOL, Rows(refuse=True))
    with pytest.raises(JournalWriteError):
        ledger.sent(_order())
    assert not ledger.open and not ledger.by_client_id


def test_a_settled_unknown_fate_is_closed_in_the_journal_even_off_the_book() -> None:
    rows = Rows()
    ledger = OrderLedger(SYMBOL, rows, clock=lambda: 3.0)
    order = _order()
    ledger.sent(order)
    ledger.unknown(order)
    assert order.fate_unknown and order.unknown_since == 3.0 and ledger.unknown_added.is_set()
    assert ledger.unsettled() == {order.client_id} and ledger.pending(order.client_id)
    ledger.close(order.client_id)  # the quoter's cancel found nothing: off the book, fate still unknown
    assert ledger.pending(order.client_id)
    assert ledger.resolved(order.client_id) and not ledger.resolved(order.client_id)
    ledger.finish(order.client_id, filled=0.0)  # it never reached the venue
    assert not order.fate_unknown and order.state is State.DONE
    assert rows.rows[-2:] == [("closed", order.client_id), ("closed", order.client_id)]


def test_a_venue_read_can_reopen_a_settling_order() -> None:
    ledger = OrderLedger(SYMBOL)
    order = _order()
    ledger.add(order)
    ledger.close(order.client_id)
    ledger.reopen(order)
    assert order.state is State.PENDING_NEW and order.client_id in ledger.open and not ledger.settling


class MarketEntry:
    """Records what is sent; a market create fills at once."""

    name = "rest"
    wire_turns = 0

    def __init__(self, fail: Exception | None = None) -> None:
        self.sent: list[tuple[Any, ...]] = []
        self.fail = fail

    async def create(self, *args: Any) -> dict[str, Any]:
        raise AssertionError("a limit create was not expected")

    async def create_market(self, symbol: str, side: str, amount: float, params: dict[str, Any]) -> dict[str, Any]:
        self.sent.append((symbol, side, amount, params))
        if self.fail is not None:
            raise self.fail
        return {"id": "9", "clientOrderId": params["clientOrderId"], "status": "closed", "filled": amount,
                "info": {"executedQty": str(amount)}}

    async def cancel(self, *args: Any) -> dict[str, Any]:
        raise AssertionError("no cancel was expected")

    def headers(self) -> None:
        return None


def _manager(entry: MarketEntry, rows: Rows, checked: list[tuple[str, float]]) -> OrderManager:
    def precheck(side: Any, amount: float, price: float) -> str | None:
        checked.append((side, amount))
        return "max_position"  # the quotes' worst-case check would refuse it

    return OrderManager(None, SYMBOL, "BTCUSDT", "mmbot", make_throttler(1000), RateGate(), get_logger(),
                        entry=entry, hooks=OrderHooks(journal=rows, precheck=precheck))


async def test_a_flattening_market_order_takes_the_submit_path_of_every_order() -> None:
    entry, rows, checked = MarketEntry(), Rows(), []
    orders = _manager(entry, rows, checked)
    order = await orders.market("sell", 0.3, 100.0, "flatten", reduces=True)
    assert order is not None and order.order_id == "9" and orders.placed == 1
    assert checked == []  # it reduces |q|: the quotes' worst-case check is not asked
    assert entry.sent == [(SYMBOL, "sell", 0.3, {"clientOrderId": order.client_id})]  # no postOnly
    assert rows.rows[:2] == [("sent", order.client_id, SYMBOL, "sell"), ("acked", order.client_id, "9")]
    assert order.state is State.SETTLING and order.final_filled == pytest.approx(0.3)  # until its fills are booked
    assert await orders.market("buy", 0.3, 100.0, "grow") is None  # one that does not reduce is checked
    assert checked == [("buy", 0.3)] and len(entry.sent) == 1 and orders.blocked == 1


async def test_a_refused_market_order_is_accounted_then_raised_to_the_caller() -> None:
    entry, rows = MarketEntry(fail=ccxt.InsufficientFunds("not enough")), Rows()
    orders = _manager(entry, rows, [])
    with pytest.raises(ccxt.InsufficientFunds):
        await orders.market("sell", 0.3, 100.0, "flatten", reduces=True)
    assert orders.rejected == 1 and not orders.tracker.open and rows.rows[-1][0] == "closed"


async def test_a_market_order_without_its_journal_row_is_not_sent() -> None:
    entry = MarketEntry()
    orders = _manager(entry, Rows(refuse=True), [])
    assert await orders.market("sell", 0.3, 100.0, "flatten", reduces=True) is None
    assert entry.sent == [] and not orders.tracker.open


def test_at_shutdown_an_order_of_unknown_fate_keeps_its_row_for_the_next_start() -> None:
    rows = Rows()
    ledger = OrderLedger(SYMBOL, rows)
    order, settled = _order("mmbot-x-1"), _order("mmbot-x-2")
    for o in (order, settled):
        ledger.sent(o)
    ledger.unknown(order)
    ledger.keep_unresolved()
    assert rows.rows[-1] == ("sent", "mmbot-x-1", SYMBOL, "buy")  # only the unresolved one
    ledger.settled_at_start("mmbot-old-1")  # an earlier run's order the catch-up found settled
    assert rows.rows[-1] == ("closed", "mmbot-old-1")
