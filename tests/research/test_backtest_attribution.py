"""The backtest attributes its P&L as the live service does: the components add up to the total, and the live
code path over the same recording (tests/research/test_parity.py's driver) gives the same components and the
same markouts, fed from the recording's books on its clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.commands.backtest import attribution_lines
from bot.core.limits import LimitParams
from bot.core.models import ModelParams
from bot.core.quote import MarketRules
from bot.core.reconcile import Tolerance
from bot.research.backtest import BacktestParams, run_backtest
from bot.research.livereplay import run_live_replay
from bot.research.recording import read_recording

RECORDING = Path(__file__).parent / "data" / "sim_btcusdt_1200_steps.jsonl.gz"
RULES = MarketRules(tick=0.01, lot=0.00001, min_qty=0.00001, min_notional=5.0)
PARAMS = BacktestParams(ModelParams("linear", half_spread=0.03, skew=0.05), LimitParams(0.1, 0.002), RULES,
                        Tolerance(0.01, 2), latency=0.0, maker_fee=-0.0001)


def test_backtest_components_and_markouts_match_the_live_path() -> None:
    events = read_recording(RECORDING)
    bt = run_backtest(events, "BTC/USDT", PARAMS)
    live = run_live_replay(events, "BTC/USDT", PARAMS).result
    assert bt.fills > 50 and bt.fees < 0  # a rebate: fees are income
    assert bt.spread_captured + bt.inventory_pnl - bt.fees == pytest.approx(bt.total_pnl, rel=0, abs=1e-9)
    assert live.spread_captured == pytest.approx(bt.spread_captured, rel=1e-9)
    assert live.inventory_pnl == pytest.approx(bt.inventory_pnl, rel=1e-9, abs=1e-12)
    assert live.markouts == bt.markouts
    counts = [m["count"] for m in bt.markouts.values()]
    assert list(bt.markouts) == ["1s", "10s", "60s"]
    assert bt.fills >= counts[0] >= counts[1] > 0 and counts[2] == 0  # a 60 s recording: no fill reaches +60 s
    text = "\n".join(attribution_lines(bt, "USDT"))
    assert f"= {bt.total_pnl:.4f} USDT" in text and "60s - (no fill's horizon reached)" in text
