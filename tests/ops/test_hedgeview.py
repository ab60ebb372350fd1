"""The hedge leg's state as an operator reads it: rounded at the perp's tick and lot, money to 4 decimals."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bot.ops.hedgeview import hedge_event_fields, hedge_frame


@dataclass(frozen=True)
class Pnl:
    hedge: float
    basis: float
    funding: float
    fees: float
    total: float


@dataclass(frozen=True)
class State:
    instrument: str = "BTC/USDT:USDT"
    position: Decimal = Decimal("-0.012")
    in_flight: Decimal = Decimal("-0.002")
    net: Decimal = Decimal("0.0010000000001")
    band: float = 0.01
    max_position: float = 0.1
    perp_mid: float | None = 30001.234999999
    mark: float | None = 30001.2
    basis_bps: float | None = 0.41133333
    funding_rate: float | None = 0.000100000000001
    next_funding_ms: int | None = 1_800_000_000_123
    margin_ratio: float | None = 0.2000000001
    pnl: Pnl | None = Pnl(0.1 + 0.2, -0.0300000001, 0.00012999, 0.01, 0.26)
    paused: str | None = None
    orders_open: int = 1
    tick: float = 0.1
    lot: float = 0.001


def test_frame_rounds_at_the_perps_steps() -> None:
    frame = hedge_frame(State())
    assert frame["q"] == -0.012 and frame["in_flight"] == -0.002 and frame["net"] == 0.001
    assert frame["perp_mid"] == 30001.23  # one digit finer than the tick, as the spot mid
    assert frame["mark"] == 30001.2
    assert frame["basis_bps"] == 0.41
    assert frame["margin_ratio"] == 0.2
    assert frame["next_funding"] == 1_800_000_000.123
    assert frame["pnl"] == {"hedge": 0.3, "basis": -0.03, "funding": 0.0001, "fees": 0.01, "total": 0.26}
    assert json.dumps(frame).count("e-") == 0  # no exponent notation: no float noise reaches the page


def test_unknowns_stay_none() -> None:
    state = replace(State(), perp_mid=None, mark=None, basis_bps=None, funding_rate=None, next_funding_ms=None,
                    margin_ratio=None, pnl=None, paused="position mismatch")
    frame = hedge_frame(state)
    assert frame["perp_mid"] is None and frame["margin_ratio"] is None and frame["next_funding"] is None
    assert set(frame["pnl"].values()) == {None}
    assert frame["paused"] == "position mismatch"


def test_event_fields_are_the_frames() -> None:
    fields = hedge_event_fields(State())
    frame = hedge_frame(State())
    assert fields["hedge_q"] == frame["q"] and fields["net_q"] == frame["net"]
    assert fields["basis_pnl"] == frame["pnl"]["basis"] and fields["hedge_total_pnl"] == frame["pnl"]["total"]
    assert fields["hedge_instrument"] == "BTC/USDT:USDT"


@given(st.decimals(min_value=-10, max_value=10, places=8, allow_nan=False))
def test_positions_are_whole_lots_of_the_shown_step(position: Decimal) -> None:
    q = hedge_frame(replace(State(), position=position))["q"]
    assert q == round(float(position), 3)


def test_metrics_export_the_hedge_leg() -> None:
    from bot.ops import Metrics

    metrics = Metrics()
    metrics.on_hedge("BTC/USDT", State())
    text = metrics.exposition().decode()
    assert 'mmbot_hedge_position{symbol="BTC/USDT"} -0.012' in text
    assert 'mmbot_hedge_pnl{component="basis",symbol="BTC/USDT"} -0.0300000001' in text
    assert 'mmbot_hedge_paused{symbol="BTC/USDT"} 0.0' in text
    metrics.on_hedge("BTC/USDT", replace(State(), pnl=None, margin_ratio=None, paused="mismatch"))
    text = metrics.exposition().decode()
    assert 'mmbot_hedge_pnl{component="total",symbol="BTC/USDT"} NaN' in text
    assert 'mmbot_margin_ratio{symbol="BTC/USDT"} NaN' in text
    assert 'mmbot_hedge_paused{symbol="BTC/USDT"} 1.0' in text


def test_status_prints_the_leg() -> None:
    from bot.ops.hedgeview import hedge_lines

    lines = hedge_lines("BTC/USDT", hedge_frame(State()))
    assert lines[0].startswith("BTC/USDT hedge in BTC/USDT:USDT: hedging; position -0.012, net exposure +0.001")
    assert "perp mid 30001.23," in lines[0] and "basis +0.41 bps" in lines[0]
    assert lines[1] == ("BTC/USDT hedge P&L: hedge +0.3000, basis -0.0300, funding +0.0001, fees +0.0100, "
                        "total +0.2600")
    assert hedge_lines("BTC/USDT", None) == []
    paused = hedge_lines("BTC/USDT", hedge_frame(replace(State(), paused="position mismatch")))
    assert "paused (position mismatch)" in paused[0]
