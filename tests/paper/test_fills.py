"""The paper fill model against hand-made sequences of trades and books, with exact fills."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.paper.fills import PaperBook, PaperMatch


def summary(fills: list[PaperMatch]) -> list[tuple[str, float, float, str, float]]:
    return [(f.order_id, f.price, round(f.size, 9), f.reason, round(f.remaining, 9)) for f in fills]


def test_trade_through_fills_at_order_price_up_to_trade_size() -> None:
    book = PaperBook()
    book.add_order("b1", "buy", 100.0, 2.0, level_size_now=50.0)
    # A taker sell printing below our bid must have passed it: fill at 100, not 99.5, and only 0.5.
    assert summary(book.on_trade(99.5, 0.5, "sell")) == [("b1", 100.0, 0.5, "trade_through", 1.5)]
    assert summary(book.on_trade(99.0, 3.0, "sell")) == [("b1", 100.0, 1.5, "trade_through", 0.0)]
    assert book.get("b1") is None


def test_trade_on_the_wrong_side_or_not_reaching_does_nothing() -> None:
    book = PaperBook()
    book.add_order("b1", "buy", 100.0, 1.0, level_size_now=0.0)
    book.add_order("a1", "sell", 101.0, 1.0, level_size_now=0.0)
    assert book.on_trade(99.0, 5.0, "buy") == []  # a taker buy can't hit our bid
    assert book.on_trade(100.5, 5.0, "sell") == []  # above our bid, below our ask
    assert book.on_trade(100.5, 5.0, None) == []
    assert [o.order_id for o in book.orders] == ["b1", "a1"]


def test_queue_ahead_must_trade_away_first() -> None:
    book = PaperBook()
    book.add_order("a1", "sell", 101.0, 1.0, level_size_now=3.0)
    assert book.on_trade(101.0, 2.0, "buy") == []  # queue 3 -> 1
    assert book.get("a1").queue_ahead == pytest.approx(1.0)
    # 1.5 at our price: 1 clears the queue, 0.5 fills us.
    assert summary(book.on_trade(101.0, 1.5, "buy")) == [("a1", 101.0, 0.5, "queue", 0.5)]
    assert summary(book.on_trade(101.0, 4.0, "buy")) == [("a1", 101.0, 0.5, "queue", 0.0)]


def test_unknown_taker_side_is_inferred_from_price() -> None:
    book = PaperBook()
    book.add_order("a1", "sell", 101.0, 1.0, level_size_now=0.0)
    assert summary(book.on_trade(101.2, 0.4, None)) == [("a1", 101.0, 0.4, "trade_through", 0.6)]


def test_one_print_is_a_budget_shared_best_price_then_oldest() -> None:
    book = PaperBook()
    book.add_order("b_old", "buy", 99.0, 1.0, level_size_now=0.0)
    book.add_order("b_best", "buy", 100.0, 1.0, level_size_now=0.0)
    book.add_order("b_new", "buy", 99.0, 1.0, level_size_now=0.0)
    fills = book.on_trade(98.0, 1.5, "sell")
    assert summary(fills) == [
        ("b_best", 100.0, 1.0, "trade_through", 0.0),
        ("b_old", 99.0, 0.5, "trade_through", 0.5),
    ]
    assert sum(f.size for f in fills) == pytest.approx(1.5)


def test_cross_fills_by_size_shown_through_our_price() -> None:
    book = PaperBook()
    book.add_order("b1", "buy", 100.0, 3.0, level_size_now=10.0)
    assert book.on_book(99.9, 100.1, {99.9: 1.0}, {100.1: 1.0}) == []
    fills = book.on_book(99.8, 99.9, {99.8: 1.0}, {99.9: 0.5, 100.0: 1.0, 100.2: 7.0})
    assert summary(fills) == [("b1", 100.0, 1.5, "cross", 1.5)]
    # Without level sizes, a cross fills the remainder.
    assert summary(book.on_book(99.5, 100.0)) == [("b1", 100.0, 1.5, "cross", 0.0)]


def test_cancellations_proportional_vs_conservative() -> None:
    prop, cons = PaperBook(), PaperBook(cancel_model="conservative")
    for book in (prop, cons):
        book.add_order("b1", "buy", 100.0, 1.0, level_size_now=10.0)
        assert book.on_book(100.0, 100.5, {100.0: 10.0}, {100.5: 1.0}) == []
        book.on_trade(100.0, 2.0, "sell")  # queue 8, level 8
        book.on_book(100.0, 100.5, {100.0: 4.0}, {100.5: 1.0})  # 4 cancelled
    assert prop.get("b1").queue_ahead == pytest.approx(8.0 - 4.0 * 8.0 / 8.0)  # level was all ahead
    assert cons.get("b1").queue_ahead == pytest.approx(4.0)  # capped by the level size

    prop2, cons2 = PaperBook(), PaperBook(cancel_model="conservative")
    for book in (prop2, cons2):
        book.add_order("b1", "buy", 100.0, 1.0, level_size_now=6.0)
        book.on_book(100.0, 100.5, {100.0: 10.0})  # 4 joined behind us
        book.on_book(100.0, 100.5, {100.0: 5.0})  # 5 cancelled
    assert prop2.get("b1").queue_ahead == pytest.approx(6.0 - 5.0 * 6.0 / 10.0)
    assert cons2.get("b1").queue_ahead == pytest.approx(5.0)
    # Now 3 (proportional) vs 5 (conservative) ahead: a print of 4 fills only the first.
    assert summary(prop2.on_trade(100.0, 4.0, "sell")) == [("b1", 100.0, 1.0, "queue", 0.0)]
    assert cons2.on_trade(100.0, 4.0, "sell") == []


def test_level_emptied_or_unknown() -> None:
    book = PaperBook()
    book.add_order("b1", "buy", 99.0, 1.0, level_size_now=5.0)
    book.on_book(100.0, 100.5, {100.0: 2.0, 99.5: 1.0})  # 99 is deeper than shown: unknown
    assert book.get("b1").queue_ahead == pytest.approx(5.0)
    book.on_book(100.0, 100.5, {100.0: 2.0, 99.5: 1.0, 98.0: 3.0})  # shown range covers 99: empty
    assert book.get("b1").queue_ahead == 0.0
    assert summary(book.on_trade(99.0, 0.25, "sell")) == [("b1", 99.0, 0.25, "queue", 0.75)]


def test_maker_fee_and_rebate() -> None:
    book = PaperBook(maker_fee=0.001)
    book.add_order("a1", "sell", 200.0, 2.0, level_size_now=0.0)
    (fill,) = book.on_trade(201.0, 1.0, "buy")
    assert fill.fee == pytest.approx(0.2)
    rebate = PaperBook(maker_fee=-0.0001)
    rebate.add_order("a1", "sell", 200.0, 2.0, level_size_now=0.0)
    assert rebate.on_trade(201.0, 1.0, "buy")[0].fee == pytest.approx(-0.02)


def test_cancel_and_validation() -> None:
    book = PaperBook()
    book.add_order("b1", "buy", 100.0, 1.0, level_size_now=0.0)
    with pytest.raises(ValueError, match="duplicate"):
        book.add_order("b1", "buy", 100.0, 1.0, level_size_now=0.0)
    with pytest.raises(ValueError, match="size"):
        book.add_order("b2", "buy", 100.0, 0.0, level_size_now=0.0)
    with pytest.raises(ValueError, match="side"):
        book.add_order("b3", "hold", 100.0, 1.0, level_size_now=0.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="maker_fee"):
        PaperBook(maker_fee=5.0)
    assert book.cancel("b1").order_id == "b1"
    assert book.cancel("b1") is None
    assert book.on_trade(90.0, 10.0, "sell") == []


def test_would_cross() -> None:
    book = PaperBook()
    book.on_book(99.0, 101.0)
    assert book.would_cross("buy", 101.0) and not book.would_cross("buy", 100.9)
    assert book.would_cross("sell", 99.0) and not book.would_cross("sell", 99.1)


trades = st.lists(
    st.tuples(
        st.floats(95.0, 105.0).map(lambda p: round(p, 1)),
        st.floats(0.01, 5.0),
        st.sampled_from(["buy", "sell", None]),
    ),
    max_size=40,
)


@given(trades=trades, queue=st.floats(0.0, 10.0), model=st.sampled_from(["proportional", "conservative"]))
@settings(max_examples=200, deadline=None)
def test_invariants(trades, queue: float, model: str) -> None:
    """No print fills more than its size; orders never overfill; prints through always fill."""
    book = PaperBook(cancel_model=model)  # type: ignore[arg-type]
    book.add_order("b", "buy", 99.0, 3.0, level_size_now=queue)
    book.add_order("a", "sell", 101.0, 3.0, level_size_now=queue)
    filled = {"b": 0.0, "a": 0.0}
    for price, size, side in trades:
        open_before = {o.order_id for o in book.orders}
        fills = book.on_trade(price, size, side)
        assert sum(f.size for f in fills) <= size + 1e-9
        for f in fills:
            filled[f.order_id] += f.size
            assert f.price in (99.0, 101.0)
        through_bid = price < 99.0 and side != "buy" and "b" in open_before
        through_ask = price > 101.0 and side != "sell" and "a" in open_before
        if through_bid:
            assert any(f.order_id == "b" and f.reason == "trade_through" for f in fills)
        if through_ask:
            assert any(f.order_id == "a" and f.reason == "trade_through" for f in fills)
    assert all(v <= 3.0 + 1e-9 for v in filled.values())
    for order in book.orders:
        assert order.filled == pytest.approx(filled[order.order_id])


events = st.lists(
    st.one_of(
        st.tuples(st.just("trade"), st.sampled_from([99.0, 100.0]), st.floats(0.01, 3.0)),
        st.tuples(st.just("book"), st.just(100.0), st.floats(0.0, 12.0)),
    ),
    max_size=30,
)


@given(events=events, start=st.floats(0.0, 10.0))
@settings(max_examples=200, deadline=None)
def test_queue_only_shrinks_and_conservative_is_never_ahead(events, start: float) -> None:
    """The queue ahead never grows and stays within the level; the conservative model never has
    less queue ahead than the proportional one on the same sequence."""
    books = {m: PaperBook(cancel_model=m) for m in ("proportional", "conservative")}  # type: ignore[misc]
    for book in books.values():
        book.add_order("b", "buy", 100.0, 1000.0, level_size_now=start)
    previous = dict.fromkeys(books, start)
    for kind, price, size in events:
        for name, book in books.items():
            if kind == "trade":
                book.on_trade(price, size, "sell")
            else:
                book.on_book(100.0, 100.5, {100.0: size}, {100.5: 1.0})
                assert book.get("b").queue_ahead <= size + 1e-9
            queue = book.get("b").queue_ahead
            assert 0.0 <= queue <= previous[name] + 1e-9
            previous[name] = queue
        assert books["conservative"].get("b").queue_ahead >= books["proportional"].get("b").queue_ahead - 1e-9


# ---- the inlined on_book / on_trade equal the rules written plainly ---------------------------


class _PlainBook(PaperBook):
    """The fill rules as first written (one helper per rule): the reference for the inlined ones."""

    def on_trade(self, price: float, size: float, taker_side: str | None = None) -> list[PaperMatch]:  # type: ignore[override]
        fills: list[PaperMatch] = []
        for maker_side in ("buy", "sell"):
            if taker_side is not None and taker_side == maker_side:
                continue
            reached = [o for o in self._orders.values() if o.side == maker_side and self._reach(o, price)]
            reached.sort(key=lambda o: (-o.price if maker_side == "buy" else o.price, o.seq))
            budget = size
            for order in reached:
                if order.price == price:
                    available = size - order.queue_ahead
                    order.queue_ahead = max(0.0, order.queue_ahead - size)
                    order.level_size = max(0.0, order.level_size - size)
                    if available <= 1e-12 or budget <= 1e-12:
                        continue
                    fill = self._fill(order, min(available, budget), "queue")
                else:
                    if budget <= 1e-12:
                        continue
                    fill = self._fill(order, budget, "trade_through")
                if fill is not None:
                    budget -= fill.size
                    fills.append(fill)
        return fills

    def on_book(self, best_bid, best_ask, bid_sizes=None, ask_sizes=None) -> list[PaperMatch]:  # type: ignore[no-untyped-def]
        self.best_bid, self.best_ask = best_bid, best_ask
        fills: list[PaperMatch] = []
        for order in list(self._orders.values()):
            opposite = best_ask if order.side == "buy" else best_bid
            if opposite is not None and self._reach(order, opposite):
                levels = ask_sizes if order.side == "buy" else bid_sizes
                size = order.remaining
                if levels:
                    size = min(size, sum(q for p, q in levels.items() if self._reach(order, p)))
                fill = self._fill(order, size, "cross") if size > 1e-12 else None
                if fill is not None:
                    fills.append(fill)
                if order.order_id not in self._orders:
                    continue
            own = bid_sizes if order.side == "buy" else ask_sizes
            if own:
                if order.price in own:
                    level: float | None = max(0.0, own[order.price])
                else:
                    deepest = min(own) if order.side == "buy" else max(own)
                    covered = order.price > deepest if order.side == "buy" else order.price < deepest
                    level = 0.0 if covered else None
                if level is not None:
                    cancelled = order.level_size - level
                    if cancelled > 0 and self.cancel_model == "proportional" and order.level_size > 0:
                        order.queue_ahead -= cancelled * order.queue_ahead / order.level_size
                    order.queue_ahead = max(0.0, min(order.queue_ahead, level))
                    order.level_size = level
        return fills

    @staticmethod
    def _reach(order, price: float) -> bool:  # type: ignore[no-untyped-def]
        return price <= order.price if order.side == "buy" else price >= order.price


PRICE = st.integers(96, 104).map(float)
SIZE = st.sampled_from([0.0, 0.3, 1.0, 2.5, 4.0])
LEVELS = st.dictionaries(PRICE, SIZE, max_size=5)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.sampled_from(["buy", "sell"]), PRICE, st.sampled_from([0.5, 1.0, 3.0]), SIZE),
        st.tuples(st.just("cancel"), st.integers(0, 8)),
        st.tuples(st.just("trade"), PRICE, st.sampled_from([0.2, 1.0, 3.5]), st.sampled_from(["buy", "sell", None])),
        st.tuples(st.just("book"), st.one_of(st.none(), PRICE), st.one_of(st.none(), PRICE), LEVELS, LEVELS,
                  st.booleans()),
    ),
    max_size=40,
)


@given(OPS, st.sampled_from(["proportional", "conservative"]), st.sampled_from([0.0, 0.1]))
@settings(max_examples=300, deadline=None)
def test_fills_and_queues_equal_the_plain_rules(ops, model: str, lot: float) -> None:  # type: ignore[no-untyped-def]
    fast, plain = PaperBook(cancel_model=model, lot=lot), _PlainBook(cancel_model=model, lot=lot)  # type: ignore[arg-type]
    ids = 0
    for op in ops:
        if op[0] == "add":
            ids += 1
            for book in (fast, plain):
                book.add_order(f"o{ids}", op[1], op[2], op[3], level_size_now=op[4])
        elif op[0] == "cancel":
            assert fast.cancel(f"o{op[1]}") == plain.cancel(f"o{op[1]}")
        elif op[0] == "trade":
            assert fast.on_trade(op[1], op[2], op[3]) == plain.on_trade(op[1], op[2], op[3])
        else:
            _, bid, ask, bids, asks, with_levels = op
            args = (bids, asks) if with_levels else ()
            assert fast.on_book(bid, ask, *args) == plain.on_book(bid, ask, *args)
        assert fast.orders == plain.orders
        assert (fast.best_bid, fast.best_ask) == (plain.best_bid, plain.best_ask)


def test_fill_is_a_frozen_dataclass_with_its_usual_behaviour() -> None:
    import dataclasses

    fill = PaperMatch("o1", "buy", 100.0, 0.5, 0.01, "queue", 0.5)
    assert fill == PaperMatch(order_id="o1", side="buy", price=100.0, size=0.5, fee=0.01, reason="queue", remaining=0.5)
    assert hash(fill) == hash(dataclasses.replace(fill)) and dataclasses.asdict(fill)["remaining"] == 0.5
    assert repr(fill).startswith("PaperMatch(order_id='o1', side='buy', price=100.0")
    with pytest.raises(dataclasses.FrozenInstanceError):
        fill.size = 1.0  # type: ignore[misc]


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, -math.inf, math.nan])
def test_add_order_rejects_non_finite_or_non_positive_numbers(bad: float) -> None:
    book = PaperBook()
    with pytest.raises(ValueError, match="price"):
        book.add_order("a", "buy", bad, 1.0, level_size_now=0.0)
    with pytest.raises(ValueError, match="size"):
        book.add_order("a", "buy", 100.0, bad, level_size_now=0.0)
    if bad != 0.0:
        with pytest.raises(ValueError, match="level_size_now"):
            book.add_order("a", "buy", 100.0, 1.0, level_size_now=bad)
    assert book.orders == []
    book.add_order("a", "buy", 100.0, 1.0, level_size_now=0.0)  # a level of 0 is fine
