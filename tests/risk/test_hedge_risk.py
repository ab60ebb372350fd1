"""The hedge leg's risk triggers (bot.risk.hedge): timing of the unhedged trigger, the others' thresholds."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bot.core.hedge import HedgeOrder
from bot.risk.hedge import HedgeRisk, worst_case_hedge


def risk() -> HedgeRisk:
    return HedgeRisk(max_unhedged=Decimal("0.03"), unhedged_seconds=10.0, basis_band_bps=50.0,
                     min_margin_ratio=0.05, max_failures=3)


def kinds(r: HedgeRisk, now: float, net: str, limit_net: str | None = None, basis: float | None = 0.0,
          margin: float | None = None, failures: int = 0) -> list[str]:
    return [b.kind for b in r.observe(now, Decimal(net), Decimal(limit_net or net), basis, margin, failures)]


def test_unhedged_fires_only_after_t_continuous_seconds() -> None:
    r = risk()
    assert kinds(r, 0.0, "0.05") == []
    assert kinds(r, 9.9, "0.05") == []
    assert kinds(r, 10.0, "-0.05") == ["unhedged"]
    detail = r.observe(12.0, Decimal("0.05"), Decimal("0.05"), None, None, 0)[0].detail
    assert detail == "net exposure 0.05 beyond max_unhedged 0.03 for 12.0s"


def test_unhedged_restarts_when_back_within() -> None:
    r = risk()
    kinds(r, 0.0, "0.05")
    assert kinds(r, 9.0, "0.03") == []  # at the limit: within
    assert kinds(r, 15.0, "0.05") == []
    assert kinds(r, 24.9, "0.05") == []
    assert kinds(r, 25.0, "0.05") == ["unhedged"]
    assert kinds(r, 26.0, "0.0") == []


def test_an_in_flight_double_hedge_counts_as_unhedged() -> None:
    r = risk()
    kinds(r, 0.0, "0.0", "-0.08")
    assert kinds(r, 10.0, "0.0", "-0.08") == ["unhedged"]


def test_basis_margin_and_failures() -> None:
    r = risk()
    assert kinds(r, 0.0, "0", basis=50.0) == [] and kinds(r, 0.0, "0", basis=-50.1) == ["basis"]
    assert kinds(r, 0.0, "0", basis=None) == []
    assert kinds(r, 0.0, "0", margin=0.049) == ["margin"] and kinds(r, 0.0, "0", margin=0.05) == []
    assert kinds(r, 0.0, "0", margin=None) == []  # no position
    assert kinds(r, 0.0, "0", failures=2) == [] and kinds(r, 0.0, "0", failures=3) == ["failure"]


@given(st.lists(st.tuples(st.floats(0.0, 3.0), st.integers(-60, 60)), max_size=40))
def test_unhedged_fires_exactly_when_beyond_the_limit_for_the_whole_last_t(steps: list[tuple[float, int]]) -> None:
    r, now, since = risk(), 0.0, None
    for dt, n in steps:
        now += dt
        net = Decimal(n) / 1000
        beyond = abs(net) > Decimal("0.03")
        since = (now if since is None else since) if beyond else None
        want = since is not None and now - since >= 10.0
        assert ("unhedged" in kinds(r, now, str(net))) == want


def test_worst_case_hedge_counts_the_in_flight_orders_either_way() -> None:
    sell = HedgeOrder("sell", Decimal("0.05"), 30000.0, False, False, None)
    assert worst_case_hedge(Decimal("-0.05"), Decimal("0"), sell) == Decimal("0.10")
    assert worst_case_hedge(Decimal("-0.05"), Decimal("-0.05"), sell) == Decimal("0.15")
    assert worst_case_hedge(Decimal("0.1"), Decimal("-0.1"), sell) == Decimal("0.05")  # the in-flight may not fill
