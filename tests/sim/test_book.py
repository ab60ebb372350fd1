"""Pure order-book tests: price-time priority, partial fills, cancel."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.sim.book import BUY, SELL, Book, Order


def _order(oid: int, side: str, price: int, lots: int) -> Order:
    return Order(oid, "BTCUSDT", "a", side, "LIMIT", "GTC", price, lots, f"c{oid}", 0)


def test_best_prices_and_depth() -> None:
    book = Book()
    for oid, (side, price, lots) in enumerate([(BUY, 99, 1), (BUY, 100, 2), (SELL, 102, 3), (SELL, 101, 4)]):
        book.add(_order(oid, side, price, lots))
    assert book.best(BUY) == 100
    assert book.best(SELL) == 101
    assert book.depth(BUY, 5) == [(100, 2), (99, 1)]
    assert book.depth(SELL, 1) == [(101, 4)]


def test_price_then_time_priority() -> None:
    book = Book()
    first = _order(1, SELL, 101, 2)
    second = _order(2, SELL, 101, 2)
    better = _order(3, SELL, 100, 1)
    for o in (first, second, better):
        book.add(o)
    fills = book.match(BUY, 101, 4)
    assert [(m.id, p, q) for m, p, q in fills] == [(3, 100, 1), (1, 101, 2), (2, 101, 1)]
    assert second.remaining == 1
    assert book.depth(SELL, 5) == [(101, 1)]


def test_limit_stops_matching() -> None:
    book = Book()
    book.add(_order(1, BUY, 100, 5))
    book.add(_order(2, BUY, 98, 5))
    fills = book.match(SELL, 99, 10)
    assert [(m.id, p, q) for m, p, q in fills] == [(1, 100, 5)]
    assert book.best(BUY) == 98


def test_cancel_removes_quantity_and_reports_change() -> None:
    book = Book()
    o1, o2 = _order(1, BUY, 100, 5), _order(2, BUY, 100, 3)
    book.add(o1)
    book.add(o2)
    book.take_changes()
    assert book.remove(o1)
    assert not book.remove(o1)
    assert book.take_changes() == ([(100, 3)], [])
    assert book.remove(o2)
    assert book.take_changes() == ([(100, 0)], [])
    assert book.best(BUY) is None


def test_crosses() -> None:
    book = Book()
    book.add(_order(1, SELL, 101, 1))
    assert book.crosses(BUY, 101)
    assert not book.crosses(BUY, 100)
    assert not book.crosses(SELL, 50)


@given(st.lists(st.tuples(st.sampled_from([BUY, SELL]), st.integers(95, 105), st.integers(1, 20)), max_size=40))
def test_book_never_crossed_and_quantities_consistent(ops: list[tuple[str, int, int]]) -> None:
    """Add orders the way the engine does (match first, rest the remainder): the book never crosses
    and each level's quantity equals the sum of its orders' remaining lots."""
    book = Book()
    for oid, (side, price, lots) in enumerate(ops):
        order = _order(oid, side, price, lots)
        for _maker, _p, q in book.match(side, price, lots):
            order.executed += q
        if order.remaining:
            book.add(order)
        bid, ask = book.best(BUY), book.best(SELL)
        assert bid is None or ask is None or bid < ask
    for side in (BUY, SELL):
        for price, qty in book.depth(side, 100):
            assert qty == sum(o.remaining for o in book.orders_at(side, price)) > 0
