"""A tiny recording and a tuning base for the tuner's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.quote import MarketRules
from bot.research.tune.trial import TuneBase

SIM = Path(__file__).resolve().parents[1] / "data" / "sim_btcusdt_1200_steps.jsonl.gz"


@pytest.fixture
def sim_path() -> Path:
    """1984 events (60 s) of the simulated BTC/USDT market, tick 0.01."""
    return SIM


@pytest.fixture
def base() -> TuneBase:
    """Default settings, no maker fee (the fee floor would keep every quote away from this small market)."""
    return TuneBase.load(None, "BTC/USDT", MarketRules(0.01, 0.0001, 0.0, 0.0), maker_fee=0.0, base="BTC",
                         quote="USDT")
