"""FillIntake without a venue: exactly-once across sources, partial fills, foreign trades."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from bot.core.inventory import Inventory, TradeIds
from bot.live.fills import MARGIN_MS, REREAD_SLACK_MS, FillIntake
from bot.live.market import MarketState
from bot.live.orders import LiveOrder, OrderManager, make_throttler
from bot.live.ratelimit import RateGate
from bot.logs import get_logger


def _book() -> tuple[FillIntake, OrderManager]:
    log = get_logger()
    orders = OrderManager(None, "BTC/USDT", "BTCUSDT", "mmbot", make_throttler(5), RateGate(), log)
    state = MarketState("BTC/USDT")
    state.on_book(0.0, [[99.9, 1.0]], [[100.1, 1.0]])
    book = FillIntake(None, "BTC/USDT", orders, Inventory("BTC", "USDT"), state, log, start_ms=0)
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


class RestVenue:
    """Our trades over REST (``fetch_my_trades`` by start time, Binance-like), no open orders, a settable clock."""

    def __init__(self, now: int) -> None:
        self.now = now
        self.trades: list[dict[str, Any]] = []

    def milliseconds(self) -> int:
        return self.now

    async def fetch_open_orders(self, symbol: str) -> list[dict[str, Any]]:
        return []

    async def fetch_my_trades(self, symbol: str, since: int | None = None, limit: int | None = None,
                              params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        params = params or {}
        rows = [t for t in self.trades if since is None or t["timestamp"] >= since]
        rows = [t for t in rows if t["timestamp"] <= params.get("endTime", t["timestamp"])]
        return [dict(t) for t in rows[: limit or 500]]


async def test_booked_trade_ids_stay_bounded_over_a_long_run_and_none_is_booked_twice() -> None:
    now = 1_700_000_000_000
    venue = RestVenue(now)
    log = get_logger()
    orders = OrderManager(venue, "BTC/USDT", "BTCUSDT", "mmbot", make_throttler(1000), RateGate(), log)
    state = MarketState("BTC/USDT")
    state.on_book(0.0, [[99.9, 1.0]], [[100.1, 1.0]])
    book = FillIntake(venue, "BTC/USDT", orders, Inventory("BTC", "USDT"), state, log, start_ms=now)
    book.inventory.seen = TradeIds(keep=1)  # the floor alone must keep every id a read can return
    steps = 2000  # a fill every 10 s and a reconcile after each: 5.5 hours, well within the 24 h horizon
    for n in range(steps):
        order = LiveOrder(f"mmbot-x-{n}", "buy", 99.9, 0.001, 0.001, 0.0, order_id=str(n), acked=True)
        orders.tracker.add(order)
        trade = {"id": f"t{n}", "order": str(n), "symbol": "BTC/USDT", "side": "buy", "price": 99.9,
                 "amount": 0.001, "timestamp": venue.now, "fee": {"cost": 0.0, "currency": "USDT"},
                 "info": {"qty": "0.001"}}
        venue.trades.append(trade)
        if n % 2:
            assert book.on_trade(trade, "ws")  # the stream first: REST re-reads it in the margin
        venue.now += 4000
        await book.safety_net_once()  # reads since the newest trade seen - MARGIN_MS: the last ones again
        venue.now += 6000
    assert book.inventory.fills == steps and book.inventory.q_exact == Decimal("0.001") * steps
    window = (MARGIN_MS + REREAD_SLACK_MS) // 10_000 + 1  # trades newer than the floor
    assert len(book.inventory.seen) <= 1 + window


def test_the_reread_floor_reaches_back_to_the_oldest_order_of_unknown_fate() -> None:
    now = 1_700_000_000_000
    book, orders = _book()
    book.exchange = RestVenue(now)
    book.start_ms, book.last_seen_ms = now - 600_000, now - 60_000
    assert book.reread_floor_ms() == now - 60_000 - MARGIN_MS - REREAD_SLACK_MS
    order = LiveOrder("mmbot-x-9", "buy", 99.9, 0.3, 0.3, 0.0)
    orders.tracker.add(order)
    book.on_unknown(order, time.monotonic() - 3600.0)  # its trades (read by order id) may be an hour old
    assert abs(book.reread_floor_ms() - (now - 3_600_000 - REREAD_SLACK_MS)) < 1000
