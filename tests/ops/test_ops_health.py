"""readiness(): ready iff not killed and every symbol has a book no older than its threshold."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from bot.ops.health import readiness

ages = st.dictionaries(
    st.sampled_from(["BTC/USDT", "ETH/USDT", "SOL/USDT"]),
    st.one_of(st.floats(min_value=0, max_value=1e4, allow_nan=False), st.just(math.inf)),
    min_size=1,
)


def test_fresh_feed_is_ready() -> None:
    assert readiness({"BTC/USDT": 0.25, "ETH/USDT": 1.5}, 5.0) == (True, "feed fresh (oldest book 1.5s)")


def test_kill_wins_over_everything() -> None:
    assert readiness({"BTC/USDT": math.inf}, 5.0, kill_reason="max_loss 50") == (False, "killed: max_loss 50")


def test_no_symbols_and_no_book_yet_are_not_ready() -> None:
    assert readiness({}, 5.0) == (False, "no symbol running yet")
    assert readiness({"ETH/USDT": math.inf, "BTC/USDT": 0.1}, 5.0) == (False, "no streamed book update yet: ETH/USDT")


def test_stale_names_the_worst_symbol_and_its_own_threshold() -> None:
    ready, reason = readiness({"BTC/USDT": 7.0, "ETH/USDT": 30.0}, {"BTC/USDT": 5.0, "ETH/USDT": 60.0})
    assert not ready
    assert reason == "feed stale: BTC/USDT book 7.0s old > 5s"
    ready, reason = readiness({"BTC/USDT": 7.0, "ETH/USDT": 30.0}, 5.0)
    assert reason == "feed stale: ETH/USDT book 30.0s old > 5s (+1 more)"


@given(ages, st.floats(min_value=0.1, max_value=100), st.one_of(st.none(), st.text(min_size=1, max_size=10)))
def test_ready_iff_not_killed_and_all_fresh(feed: dict[str, float], stale_after: float, kill: str | None) -> None:
    ready, reason = readiness(feed, stale_after, kill)
    assert ready == (kill is None and all(age <= stale_after for age in feed.values()))
    assert reason
