"""P&L attribution: spread captured + inventory mark-to-market - fees is the average-cost total exactly, and
the markouts equal a brute-force reference."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.inventory import Fill, Inventory
from bot.core.markouts import Markouts

fills = st.lists(
    st.tuples(
        st.sampled_from(["buy", "sell"]),
        st.integers(9990, 10010).map(lambda n: n / 100),  # price
        st.integers(1, 500).map(lambda n: n / 1000),  # amount
        st.sampled_from([0.0, 0.01, -0.002]),  # fee (negative: a rebate)
        st.sampled_from(["USDT", "BTC", None]),  # fee currency
        st.one_of(st.none(), st.floats(99.0, 101.0)),  # mid (None: restored from the journal)
    ),
    max_size=40,
)


@given(fills, st.one_of(st.none(), st.floats(95.0, 105.0)))
def test_components_add_up_to_the_average_cost_total(raw: list[tuple], mark: float | None) -> None:  # type: ignore[type-arg]
    inv = Inventory("BTC", "USDT")
    cash = q = 0.0  # the account's own change, computed here independently
    for i, (side, price, amount, fee, currency, mid) in enumerate(raw):
        inv.apply(Fill(f"t{i}", side, price, amount, float(i), fee=fee, fee_currency=currency, mid=mid))
        sign = 1 if side == "buy" else -1
        q += sign * amount
        cash -= sign * amount * price
        if currency == "BTC":
            q -= fee
        else:
            cash -= fee
    snap = inv.snapshot(mark)
    parts = snap["spread_captured"] + snap["inventory_pnl"] - snap["fees"]
    scale = max(1.0, inv.volume_quote)
    assert parts == pytest.approx(snap["total_pnl"], rel=0, abs=1e-9 * scale)
    m = mark if mark is not None else inv.avg_entry
    assert parts == pytest.approx(cash + q * m, rel=0, abs=1e-9 * scale)


def test_a_fill_without_a_mid_is_all_inventory() -> None:
    inv = Inventory("BTC", "USDT")
    inv.apply(Fill("a", "buy", 100.0, "1"))  # restored from the journal: no mid
    assert inv.spread_captured == 0.0
    assert inv.inventory_pnl(103.0) == pytest.approx(3.0)


def test_a_rebate_is_income() -> None:
    inv = Inventory("BTC", "USDT")
    inv.apply(Fill("a", "buy", 99.99, "1", fee=-0.01, fee_currency="USDT", mid=100.0))
    snap = inv.snapshot(100.0)
    assert snap["fees"] == pytest.approx(-0.01)
    assert snap["spread_captured"] == pytest.approx(0.01)
    assert snap["total_pnl"] == pytest.approx(0.02)


def test_the_inventory_term_is_tracked_not_a_residual() -> None:
    """Bought at 99.99 with the mid at 100, marked at 101: 1 of inventory, 0.01 of spread."""
    inv = Inventory("BTC", "USDT")
    inv.book("buy", 99.99, "1", mid=100.0)
    assert inv.inventory_pnl(101.0) == pytest.approx(1.0)
    assert inv.spread_captured == pytest.approx(0.01)


# -- markouts ------------------------------------------------------------------------------------

events = st.lists(
    st.tuples(
        st.floats(0.0, 5.0),  # time step
        st.booleans(),  # a fill (else a mid observation)
        st.sampled_from([1, -1]),
        st.integers(1, 50).map(lambda n: n / 10),  # amount
        st.integers(9900, 10100).map(lambda n: n / 100),  # mid
    ),
    max_size=80,
)


Event = tuple[float, bool, int, float, float]


def brute_force(seq: list[Event], horizons: tuple[float, ...]) -> list[tuple[float, int]]:
    """Per horizon: (sum, count) of -sign * a * (first mid observed at or after t + h - mid_fill)."""
    out = []
    for h in horizons:
        total, count = 0.0, 0
        for i, (t, is_fill, sign, amount, mid) in enumerate(seq):
            if not is_fill:
                continue
            later = next((m for (u, f, _, _, m) in seq[i + 1:] if not f and u >= t + h), None)
            if later is not None:
                total -= sign * amount * (later - mid)
                count += 1
        out.append((total, count))
    return out


@given(events)
def test_markouts_equal_a_brute_force_reference(raw: list[tuple[float, bool, int, float, float]]) -> None:
    horizons = (1.0, 10.0, 60.0)
    tracker = Markouts(horizons)
    t, seq = 0.0, []
    for dt, is_fill, sign, amount, mid in raw:
        t += dt
        seq.append((t, is_fill, sign, amount, mid))
        if is_fill:
            tracker.fill(t, sign, amount, mid, mid)
        else:
            tracker.mid(t, mid)
    for k, (total, count) in enumerate(brute_force(seq, horizons)):
        assert tracker.counts[k] == count
        assert tracker.sums[k] == pytest.approx(total, abs=1e-9)
    assert tracker.pending == max(sum(1 for e in seq if e[1]) - c for c in tracker.counts)


def test_markout_signs_and_bps() -> None:
    tracker = Markouts((1.0,))
    tracker.fill(0.0, 1, 2.0, 100.0, 99.99)  # bought 2; the mid then falls by 0.5: 1.0 against us
    tracker.mid(0.5, 90.0)  # before the horizon: not used
    assert tracker.counts == [0] and tracker.next_due == 1.0
    tracker.mid(1.0, 99.5)
    assert tracker.sums == [pytest.approx(1.0)] and tracker.counts == [1]
    assert tracker.fields() == {"markout_1s": 1.0, "markout_1s_count": 1, "markout_1s_bps": 50.01}  # of 199.98
    assert tracker.pending == 0 and tracker.next_due == math.inf


def test_markouts_reject_bad_horizons() -> None:
    with pytest.raises(ValueError, match="horizons"):
        Markouts((math.inf,))


def test_inventory_marks_out_applied_fills_on_its_clock() -> None:
    now = [10.0]
    inv = Inventory("BTC", "USDT", clock=lambda: now[0])
    inv.apply(Fill("a", "sell", 100.01, "1", mid=100.0))
    inv.apply(Fill("b", "buy", 99.0, "1"))  # no mid: not marked out
    inv.markouts.mid(11.0, 100.2)
    assert inv.markouts.counts[0] == 1 and inv.markouts.sums[0] == pytest.approx(0.2)


def test_the_report_reads_as_an_operator_reads_it() -> None:
    inv = Inventory("BTC", "USDT")
    inv.book("buy", 30000.72, "0.001", fee=0.000001, fee_currency="BTC", mid=30000.725, t=0.0)
    out = inv.report(30000.805, 0.01, 0.00001)
    assert out["q"] == 0.000999  # dust below the lot that a base fee left: kept, to the satoshi
    assert out["avg_entry"] == 30000.72 and out["spread_captured"] == 0.0  # 0.000005 to 4 decimals
    assert out["markout_1s_count"] == 0 and out["markout_1s_bps"] is None
    assert out["total_pnl"] == round(out["total_pnl"], 4)
