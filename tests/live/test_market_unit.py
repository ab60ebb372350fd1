"""MarketState.on_book: which books wake the quoter, and that every valid book keeps the feed fresh."""

from __future__ import annotations

from bot.live.market import WAKE_GAP, MarketState

BIDS = [[100.0, 1.0], [99.9, 2.0]]
ASKS = [[100.1, 1.5], [100.2, 3.0]]


def test_only_touch_price_changes_are_news_but_every_book_is_recorded() -> None:
    s = MarketState("X")
    assert s.on_book(1.0, BIDS, ASKS)  # the first book
    assert not s.on_book(1.01, [[100.0, 1.0], [99.9, 7.0]], [[100.1, 1.5], [100.3, 1.0]])  # deeper levels only
    assert s.updated == 1.01 and s.books == 2 and s.age(1.5) == 1.5 - 1.01  # the watchdog sees it alive
    assert s.vol.samples == 1  # and the volatility estimator got the sample
    assert not s.on_book(1.02, [[100.0, 0.5]], [[100.1, 4.0]])  # touch sizes only: no quote input changed
    assert (s.bid_size, s.ask_size) == (0.5, 4.0) and s.microprice is not None  # ... but they are recorded
    assert s.on_book(1.03, [[100.0, 0.5]], [[100.05, 1.5]])  # touch price changed
    assert s.on_book(1.04, [[100.01, 0.5]], [[100.05, 1.5]])  # either side
    assert (s.best_bid, s.bid_size, s.best_ask, s.ask_size) == (100.01, 0.5, 100.05, 1.5)


def test_a_book_after_a_crossed_one_or_a_silence_is_news() -> None:
    s = MarketState("X")
    assert s.on_book(1.0, BIDS, ASKS)
    assert not s.on_book(1.1, [[100.2, 1.0]], ASKS) and s.crossed  # crossed: ignored, touch kept
    assert (s.best_bid, s.best_ask, s.updated) == (100.0, 100.1, 1.0)
    assert s.on_book(1.2, BIDS, ASKS) and not s.crossed  # same touch as before, but uncrossed: news
    assert not s.on_book(1.2 + WAKE_GAP / 2, BIDS, ASKS)
    assert s.on_book(1.2 + WAKE_GAP / 2 + WAKE_GAP, BIDS, ASKS)  # same touch after a silence


def test_a_steady_stream_of_unchanged_books_still_wakes_the_quoter_every_wake_gap() -> None:
    s = MarketState("X")
    step = WAKE_GAP / 8  # a power of two: the times are exact
    woke = [s.on_book(i * step, BIDS, ASKS) for i in range(49)]  # 6 wake gaps of unchanged touches
    assert [i for i, w in enumerate(woke) if w] == list(range(0, 49, 8))
    assert not s.on_book(5.0, [], ASKS) and s.crossed  # one-sided


def test_without_estimates_the_volatility_estimator_is_not_fed_but_the_feed_stays_fresh() -> None:
    s = MarketState("X", estimate=False)
    assert s.on_book(1.0, BIDS, ASKS)
    assert s.on_book(1.1, [[100.05, 1.0]], ASKS)
    assert s.vol.samples == 0 and s.vol._last_t is None  # nothing reads it: never updated
    assert s.updated == 1.1 and s.books == 2 and s.best_bid == 100.05


def test_only_as_and_glft_with_use_estimators_read_the_estimates() -> None:
    from bot.core.strategy import uses_estimators

    assert uses_estimators("as", True)
    assert uses_estimators("glft", True)
    assert not uses_estimators("glft", False)
    assert not uses_estimators("linear", True)
    assert not uses_estimators("symmetric", True)


def test_valid_books_feed_the_markouts_of_fills_booked_on_the_same_clock() -> None:
    from bot.core.inventory import Fill, Inventory

    s = MarketState("X")
    now = [1.0]
    inv = Inventory("BTC", "USDT", markouts=s.markouts, clock=lambda: now[0])
    s.on_book(1.0, BIDS, ASKS)
    inv.apply(Fill("a", "buy", 100.0, "1", mid=s.mid))  # booked at 1.0 against the mid 100.05
    s.on_book(1.5, [[99.0, 1.0]], [[99.1, 1.0]])  # before +1 s: not a markout
    assert not s.on_book(2.0, [[101.0, 1.0]], [[100.0, 1.0]])  # crossed at +1 s: no mid, not used
    assert s.markouts.counts == [0, 0, 0]
    s.on_book(2.1, [[99.9, 1.0]], [[100.0, 1.0]])  # the first valid mid at or after +1 s: 99.95
    assert s.markouts.counts == [1, 0, 0] and abs(s.markouts.sums[0] - 0.1) < 1e-9  # bought, the mid fell 0.1
