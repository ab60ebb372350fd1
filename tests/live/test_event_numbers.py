"""Numbers in the order and fill events as a professional reads them: a price with cents survives (30000.72,
not 30000.7), a size at the lot (0.00123), money to 4 decimals, no float noise (29999.960010000003 reads
29999.96); the ledger, the inventory and the journal keep the exact values."""

from __future__ import annotations

import json
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import ccxt

from bot.config import load_settings
from bot.core.inventory import Fill, Inventory
from bot.core.quote import MarketRules
from bot.live.fills import FillIntake
from bot.live.journal import MEMORY, Journal
from bot.live.market import MarketState
from bot.live.orders import LiveOrder, OrderHooks, OrderManager, make_throttler
from bot.live.ratelimit import RateGate
from bot.live.recovery import set_baseline
from bot.venue.records import TradeUpdate
from tests.fakes import RecordingLog

SYMBOL = "BTC/USDT"
RULES = MarketRules(tick=0.01, lot=0.00001)
NOISY_PRICE = 29999.960010000003  # what float arithmetic on prices produces
CENTS = 3000072 * 0.01  # 30000.72 on the tick grid, as computed
AMOUNT = 123 * 0.00001  # 0.0012300000000000002


class Entry:
    """An order entry whose creates and cancels the venue accepts, or refuses with ``refuse``."""

    wire_turns = 0

    def __init__(self, refuse: ccxt.BaseError | None = None) -> None:
        self.refuse = refuse
        self.ids = 0

    async def create(self, symbol: str, side: str, amount: float, price: float,
                     params: dict[str, Any]) -> dict[str, Any]:
        if self.refuse is not None:
            raise self.refuse
        self.ids += 1
        return {"id": str(self.ids), "clientOrderId": params.get("newClientOrderId"), "status": "open"}

    async def cancel(self, order_id: str | None, symbol: str, params: dict[str, Any]) -> dict[str, Any]:
        return {"id": order_id, "status": "canceled", "filled": 0.0}

    def headers(self) -> dict[str, Any] | None:
        return None


def manager(log: RecordingLog, entry: Entry | None = None, rules: MarketRules | None = RULES) -> OrderManager:
    return OrderManager(None, SYMBOL, "BTCUSDT", "mmbot", make_throttler(1000), RateGate(), log,
                        entry=entry or Entry(), rules=rules)  # type: ignore[arg-type]


def fields(log: RecordingLog, event: str) -> dict[str, Any]:
    found = [kw for name, kw in log.events if name == event]
    assert len(found) == 1, log.names()
    return found[0]


def test_the_inputs_carry_float_noise() -> None:
    """The noisy inputs really are noisy: the rounding below is what makes the events read right."""
    assert json.dumps([CENTS, AMOUNT, NOISY_PRICE]) != "[30000.72, 0.00123, 29999.96]"


async def test_order_events_show_the_price_at_the_tick_and_the_amount_at_the_lot() -> None:
    log = RecordingLog()
    orders = manager(log)
    order = await orders.create("buy", CENTS, AMOUNT)
    assert order is not None and order.price == CENTS and order.amount == AMOUNT  # the ledger keeps them exact
    placed = fields(log, "order_placed")
    assert json.dumps([placed["price"], placed["amount"]]) == "[30000.72, 0.00123]"
    await orders.cancel(order.client_id, "requote")
    assert json.dumps(fields(log, "order_canceled")["price"]) == "30000.72"
    await orders.create("sell", NOISY_PRICE, AMOUNT)
    assert log.events[-1][1]["price"] == 29999.96


async def test_refused_and_blocked_orders_read_alike() -> None:
    log = RecordingLog()
    orders = manager(log, Entry(refuse=ccxt.InvalidOrder("binance -2010")))
    await orders.create("buy", NOISY_PRICE, AMOUNT)
    rejected = fields(log, "order_rejected")
    assert (rejected["price"], rejected["amount"]) == (29999.96, 0.00123)
    log = RecordingLog()
    blocked = OrderManager(None, SYMBOL, "BTCUSDT", "mmbot", make_throttler(1000), RateGate(), log,
                           entry=Entry(), rules=RULES,  # type: ignore[arg-type]
                           hooks=OrderHooks(precheck=lambda side, amount, price: "position limit"))
    await blocked.create("buy", NOISY_PRICE, AMOUNT)
    assert (fields(log, "order_blocked")["price"], fields(log, "order_blocked")["amount"]) == (29999.96, 0.00123)


async def test_without_rules_events_show_eight_digits_not_float_noise() -> None:
    log = RecordingLog()
    await manager(log, rules=None).create("buy", NOISY_PRICE, AMOUNT)
    placed = fields(log, "order_placed")
    assert (placed["price"], placed["amount"]) == (29999.96001, 0.00123)


def intake(log: RecordingLog, orders: OrderManager, mid_bid: float, mid_ask: float) -> FillIntake:
    state = MarketState(SYMBOL)
    state.on_book(0.0, [[mid_bid, 1.0]], [[mid_ask, 1.0]])
    return FillIntake(None, SYMBOL, orders, Inventory("BTC", "USDT"), state, log, start_ms=0)


def trade(trade_id: str, fee: float, currency: str) -> TradeUpdate:
    return TradeUpdate(trade_id, "7", "mmbot-x-1", SYMBOL, "buy", CENTS, Decimal("0.00123"), fee, currency, 1000,
                       "ws")


def test_the_fill_event_shows_price_amount_fee_q_and_mid_as_read() -> None:
    log = RecordingLog()
    orders = manager(log)
    orders.tracker.add(LiveOrder("mmbot-x-1", "buy", CENTS, 0.0025, 0.0025, 0.0, order_id="7", acked=True))
    book = intake(log, orders, 30000.72, 30000.73)
    fee = CENTS * 0.00123 * 0.001  # 0.036900885600000005 USDT
    assert book.take_trade(trade("t1", fee, "USDT"))
    fill = fields(log, "fill")
    assert json.dumps([fill["price"], fill["amount"], fill["q"]]) == "[30000.72, 0.00123, 0.00123]"
    assert fill["fee"] == 0.0369 and fill["mid"] == 30000.725  # the mid a digit finer: between two ticks
    assert book.inventory.fees == fee  # booked exact


def test_a_fee_in_the_base_currency_keeps_its_satoshis() -> None:
    """A base fee is far below the lot (0.00123 BTC * 0.1% = 0.00000123): to the satoshi, not at the lot."""
    log = RecordingLog()
    orders = manager(log)
    orders.tracker.add(LiveOrder("mmbot-x-1", "buy", CENTS, 0.0025, 0.0025, 0.0, order_id="7", acked=True))
    book = intake(log, orders, 30000.72, 30000.73)
    assert book.take_trade(trade("t2", 0.00123 * 0.001, "BTC"))
    fill = fields(log, "fill")
    assert fill["fee"] == 0.00000123 and fill["fee_currency"] == "BTC"
    assert fill["q"] == 0.00122877  # the base fee moves q below the lot: the dust is shown
    assert fill["amount"] == 0.00123


def test_a_drift_at_start_reads_as_plain_decimals() -> None:
    """inventory_drift and the kill reason: 0.00000123, not 1.23E-6."""
    inventory = Inventory("BTC", "USDT")
    inventory.apply(Fill("t1", "buy", 100.0, "0.5"))
    cfg = load_settings(None, {"risk": {"balance_drift_tolerance": 1e-7}}).for_symbol(SYMBOL)
    run = SimpleNamespace(symbol=SYMBOL, market={"base": "BTC"}, inventory=inventory, cfg=cfg, log=RecordingLog(),
                          start_base=None, rules=RULES)
    journal = Journal(MEMORY)
    journal.set_baseline(SYMBOL, "BTC", Decimal("3"))
    kills: list[str] = []
    set_baseline(journal, run, {"total": {"BTC": "3.50000123"}}, kills.append)  # type: ignore[arg-type]
    journal.close()
    drift = fields(run.log, "inventory_drift")
    assert drift == {"venue_change": "0.50000123", "q": "0.5", "drift": "0.00000123"}
    assert kills == ["BTC/USDT: balance drift 0.00000123 at start-up: venue change 0.50000123 vs journaled "
                     "inventory 0.5"]
