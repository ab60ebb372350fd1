"""Metrics: each method moves the metrics it names, in a registry private to the instance."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from bot.ops.metrics import REACTION_BUCKETS, Metrics


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the exposition text, keyed by (name, labels)."""
    text = metrics.exposition().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return samples(metrics)[(name, frozenset(labels.items()))]


def test_two_instances_do_not_share_metrics() -> None:
    a, b = Metrics(), Metrics()
    a.on_inventory("BTC/USDT", 0.3, 1.0, 0.0, 0.0, 0.0)
    b.on_inventory("BTC/USDT", -0.7, 1.0, 0.0, 0.0, 0.0)
    assert value(a, "mmbot_inventory", symbol="BTC/USDT") == 0.3
    assert value(b, "mmbot_inventory", symbol="BTC/USDT") == -0.7


def test_inventory_utilization_and_total_pnl() -> None:
    m = Metrics()
    m.on_inventory("ETH/USDT", q=-0.45, limit=0.6, pnl_realized=12.5, pnl_unrealized=-2.25, fees=1.5)
    assert value(m, "mmbot_limit_utilization", symbol="ETH/USDT") == pytest.approx(0.75)
    assert value(m, "mmbot_inventory_limit", symbol="ETH/USDT") == 0.6
    assert value(m, "mmbot_pnl_total", symbol="ETH/USDT") == pytest.approx(12.5 - 2.25 - 1.5)
    assert value(m, "mmbot_fees", symbol="ETH/USDT") == 1.5


def test_one_sided_quote_exports_nan_and_zero_size() -> None:
    m = Metrics()
    m.on_quote("BTC/USDT", bid=99.50, ask=99.60, mid=100.0, reservation=99.55, bid_size=1, ask_size=2)
    assert value(m, "mmbot_quoted_spread", symbol="BTC/USDT") == pytest.approx(0.10)
    assert value(m, "mmbot_quote_size", symbol="BTC/USDT", side="bid") == 1
    # at the limit only the flattening ask is quoted
    m.on_quote("BTC/USDT", bid=None, ask=99.60, mid=100.0, reservation=99.55, ask_size=2)
    assert math.isnan(value(m, "mmbot_quote_bid", symbol="BTC/USDT"))
    assert math.isnan(value(m, "mmbot_quoted_spread", symbol="BTC/USDT"))
    assert value(m, "mmbot_quote_size", symbol="BTC/USDT", side="bid") == 0
    assert value(m, "mmbot_quote_ask", symbol="BTC/USDT") == 99.60
    assert value(m, "mmbot_quotes_total", symbol="BTC/USDT") == 2


def test_fills_split_fees_from_rebates() -> None:
    m = Metrics()
    m.on_fill("BTC/USDT", "buy", price=100.0, amount=0.5, fee=0.05)
    m.on_fill("BTC/USDT", "sell", price=101.0, amount=0.25, fee=-0.01)
    m.on_fill("BTC/USDT", "buy", price=99.0, amount=0.5, fee=0.0)
    assert value(m, "mmbot_fills_total", symbol="BTC/USDT", side="buy") == 2
    assert value(m, "mmbot_volume_base_total", symbol="BTC/USDT", side="buy") == pytest.approx(1.0)
    assert value(m, "mmbot_volume_quote_total", symbol="BTC/USDT", side="sell") == pytest.approx(25.25)
    assert value(m, "mmbot_fees_paid_total", symbol="BTC/USDT") == pytest.approx(0.05)
    assert value(m, "mmbot_rebates_received_total", symbol="BTC/USDT") == pytest.approx(0.01)


def test_order_actions_backoffs_reconnects_kill() -> None:
    m = Metrics()
    for action in ("placed", "placed", "canceled", "rejected"):
        m.on_order("BTC/USDT", action)  # type: ignore[arg-type]
    m.on_backoff("rate_limit")
    m.on_reconnect("BTC/USDT")
    m.set_feed_age("BTC/USDT", 7.5)
    assert value(m, "mmbot_killed") == 0
    m.set_killed(True)
    assert value(m, "mmbot_orders_total", symbol="BTC/USDT", action="placed") == 2
    assert value(m, "mmbot_orders_total", symbol="BTC/USDT", action="rejected") == 1
    assert value(m, "mmbot_backoffs_total", reason="rate_limit") == 1
    assert value(m, "mmbot_reconnects_total", symbol="BTC/USDT") == 1
    assert value(m, "mmbot_feed_age_seconds", symbol="BTC/USDT") == 7.5
    assert value(m, "mmbot_killed") == 1


@pytest.mark.parametrize(("method", "arg"), [("on_order", "filled"), ("on_fill", "long")])
def test_caller_bugs_raise(method: str, arg: str) -> None:
    m = Metrics()
    with pytest.raises(ValueError, match="must be one of"):
        if method == "on_order":
            m.on_order("BTC/USDT", arg)  # type: ignore[arg-type]
        else:
            m.on_fill("BTC/USDT", arg, 1.0, 1.0)  # type: ignore[arg-type]


def test_reaction_buckets_span_50us_to_50ms() -> None:
    finite = [b for b in REACTION_BUCKETS if math.isfinite(b)]
    assert finite == sorted(finite)
    assert finite[0] == pytest.approx(50e-6) and finite[-1] == pytest.approx(50e-3)


@given(st.lists(st.floats(min_value=0, max_value=1.0, allow_nan=False), min_size=1, max_size=50))
def test_reaction_histogram_counts_every_observation(latencies: list[float]) -> None:
    m = Metrics()
    for seconds in latencies:
        m.observe_reaction(seconds)
    s = samples(m)
    assert s[("mmbot_reaction_seconds_count", frozenset())] == len(latencies)
    assert s[("mmbot_reaction_seconds_sum", frozenset())] == pytest.approx(sum(latencies))
    for bound in REACTION_BUCKETS:
        le = "+Inf" if math.isinf(bound) else str(float(bound))
        expected = sum(1 for x in latencies if x <= bound)
        assert s[("mmbot_reaction_seconds_bucket", frozenset({("le", le)}))] == expected


def test_scrape_hooks_run_before_each_exposition_and_failures_are_counted() -> None:
    m = Metrics()
    clock = iter([1.0, 2.5])
    m.before_scrape(lambda: m.set_feed_age("BTC/USDT", next(clock)))
    assert value(m, "mmbot_feed_age_seconds", symbol="BTC/USDT") == 1.0
    assert value(m, "mmbot_feed_age_seconds", symbol="BTC/USDT") == 2.5
    # the clock is exhausted: the hook raises, the scrape still answers with the last value
    assert value(m, "mmbot_feed_age_seconds", symbol="BTC/USDT") == 2.5
    # this scrape failed the hook too: two failures so far
    assert value(m, "mmbot_scrape_hook_errors_total") == 2


def test_every_metric_is_documented_in_the_operations_guide() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "OPERATIONS.md").read_text(encoding="utf-8")
    suffix = {"counter": "_total", "info": "_info"}
    families = list(Metrics().registry.collect())
    assert len(families) > 20
    for family in families:
        name = family.name + suffix.get(family.type, "")
        assert f"`{name}`" in guide, f"{name} is missing from the metric reference in docs/OPERATIONS.md"


def test_attribution_gauges_add_up_and_markouts_are_per_horizon() -> None:
    from bot.core.inventory import Inventory

    inv, m = Inventory("BTC", "USDT"), Metrics()
    inv.book("buy", 99.99, "2", fee=0.01, fee_currency="USDT", mid=100.0, t=0.0)
    inv.markouts.mid(1.0, 99.9)  # +1 s: bought 2, the mid fell 0.1: 0.2 against us
    snap = inv.snapshot(99.9)
    m.on_inventory("BTC/USDT", inv.q, 1.0, snap["realized_pnl"], snap["unrealized_pnl"], snap["fees"])
    m.on_attribution("BTC/USDT", inv.spread_captured, inv.skew_cost, snap["inventory_pnl"], inv.markouts)
    btc = {"symbol": "BTC/USDT"}
    parts = (value(m, "mmbot_pnl_spread_captured", **btc) + value(m, "mmbot_pnl_inventory", **btc)
             - value(m, "mmbot_fees", **btc))
    assert parts == pytest.approx(value(m, "mmbot_pnl_total", symbol="BTC/USDT"), abs=1e-12)
    assert value(m, "mmbot_markout", symbol="BTC/USDT", horizon="1s") == pytest.approx(0.2)
    assert value(m, "mmbot_markout_fills", symbol="BTC/USDT", horizon="1s") == 1
    assert value(m, "mmbot_markout_bps", symbol="BTC/USDT", horizon="1s") == pytest.approx(0.2 / 199.98 * 1e4)
    assert math.isnan(value(m, "mmbot_markout_bps", symbol="BTC/USDT", horizon="10s"))  # no fill reached +10 s
