"""FillBook without a venue: exactly-once across sources, partial fills, foreign trades."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.core.inventory import Inventory
from bot.live.fills import FillBook
from bot.live.market import MarketState
from bot.live.orders import LiveOrder, OrderManager, make_throttler
from bot.live.ratelimit import RateGate
from bot.logs import get_logger


def _book() -> tuple[FillBook, OrderManager]:
    log = get_logger()
    orders = OrderManager(None, "BTC/USDT", "BTCUSDT", "mmbot", make_throttler(5), RateGate(), log)
    state = MarketState("BTC/USDT")
    state.on_book(0.0, [[99.9, 1.0]], [[100.1, 1.0]])
    book = FillBook(None, "BTC/USDT", orders, Inventory("BTC", "USDT"), state, log, start_ms=0)
    return book, orders


def _trade(trade_id: str, amount: str, source: str, cid: str | None = "mmbot-x-1", oid: str = "42") -> dict[str, Any]:
    info = {"l": amount, "c": cid} if source == "ws" else {"qty": amount}
    return {"id": trade_id, "order": oid, "symbol": "BTC/USDT", "side": "buy", "price": 99.9,
            "amount": float(amount), "timestamp": 1000, "fee": {"cost": 0.0, "currency": "BTC"}, "info": info}


def test_same_trade_from_stream_and_rest_counts_once_and_partials_close_the_order() -> None:
    book, orders = _book()
    order = LiveOrder("mmbot-x-1", "buy", 99.9, 0.3, 0.3, 0.0, quote_mid=100.0, half_spread=0.1)
    orders.tracker.add(order)
    assert book.on_trade(_trade("t1", "0.1", "ws"), "ws")  # known by client id before the create's answer
    orders.tracker.set_order_id(order, "42")
    assert not book.on_trade(_trade("t1", "0.1", "rest", cid=None), "rest")  # same id over REST: ignored
    assert order.remaining == 0.3 - 0.1 and "mmbot-x-1" in orders.tracker.open
    assert book.on_trade(_trade("t2", "0.2", "rest", cid=None), "rest")  # found by order id
    assert book.inventory.q_exact == Decimal("0.3")
    assert "mmbot-x-1" not in orders.tracker.open  # fully filled: no longer working
    assert book.sources == {"ws": 1, "rest": 1}
    assert abs(book.inventory.spread_captured - 0.3 * 0.1) < 1e-9  # bought 0.1 below the 100.0 mid


def test_trades_of_orders_not_from_this_run_are_ignored() -> None:
    book, _orders = _book()
    assert not book.on_trade(_trade("t9", "0.1", "rest", cid=None, oid="999"), "rest")
    assert book.inventory.fills == 0 and book.foreign == 1


def test_order_updates_close_terminal_orders() -> None:
    book, orders = _book()
    orders.tracker.add(LiveOrder("mmbot-x-2", "sell", 100.1, 0.1, 0.1, 0.0))
    book.on_order({"id": "7", "clientOrderId": "mmbot-x-2", "status": "open", "remaining": 0.05})
    # acked; the venue's fill of 0.05 is not booked yet, so all of 0.1 may still be booked: it all counts
    assert orders.tracker.open["mmbot-x-2"].remaining == 0.1 and orders.tracker.open["mmbot-x-2"].acked
    assert orders.tracker.by_order_id["7"].client_id == "mmbot-x-2"
    book.on_order({"id": "7", "clientOrderId": "mmbot-x-2", "status": "canceled"})
    assert "mmbot-x-2" not in orders.tracker.open
