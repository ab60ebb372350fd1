"""One fee rule everywhere: ``mmbot backtest``/``mmbot compare`` take ``--maker-fee``/``--min-edge`` (bps), what the
backtest charges is what it floors, and the paper, backtest and live paths build the same quote from one config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli import main
from bot.commands.backtest import params_from_settings, with_fee_flags
from bot.config import load_settings
from bot.core.pipeline import make_quote
from bot.core.quote import MarketRules, QuoteInputs
from bot.core.strategy import StrategyParams
from bot.errors import UserError
from bot.live.makerfee import resolve_fee
from bot.paper.venue import PaperExchange
from bot.research.compare import FlowParams, compare
from bot.venue.adapters import BinanceSpotAdapter

DATA = Path(__file__).parent / "data" / "sim_btcusdt_1200_steps.jsonl.gz"
SYMBOL = "BTC/USDT"
RULES = MarketRules(tick=0.01, lot=0.00001, min_qty=0.00001, min_notional=5.0)
MARKET = {"id": "BTCUSDT", "symbol": SYMBOL, "maker": 0.001, "precision": {"price": 0.01, "amount": 0.00001},
          "limits": {"amount": {"min": 0.00001}, "cost": {"min": 5.0}}}


async def _once(what: str, call: Any) -> Any:
    return await call()


class _Log:
    def warning(self, event: str, **fields: Any) -> None:
        raise AssertionError(f"unexpected {event}: {fields}")


class _Commission:
    """A Binance account whose commission endpoint states ``rate`` as its maker fee."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    async def private_get_account_commission(self, params: dict[str, Any]) -> Any:
        return {"symbol": params["symbol"], "standardCommission": {"maker": f"{self.rate:.8f}"},
                "taxCommission": {"maker": "0.00000000"}}


def _settings(paper_fee: float, **strategy: Any) -> Any:
    return load_settings(None, {"venue": {"symbols": [SYMBOL]}, "paper": {"maker_fee": paper_fee},
                                "strategy": {"model": "glft", "half_spread": 0.5, **strategy},
                                "execution": {"order_size": 0.002}, "risk": {"max_position": 0.05}})


# -- backtest -------------------------------------------------------------------------------------
def _backtest(capsys: pytest.CaptureFixture[str], *flags: str) -> dict[str, Any]:
    assert main(["backtest", "--data", str(DATA), "--json", *flags]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_backtest_maker_fee_flag_is_both_charged_and_floored(capsys: pytest.CaptureFixture[str]) -> None:
    rebate = _backtest(capsys, "--maker-fee", "-1")
    assert rebate["maker_fee"] == -0.0001 and rebate["fills"] > 0
    assert rebate["fees"] == pytest.approx(-0.0001 * rebate["volume_quote"], abs=1e-4)  # charged: the flag's rate
    # (abs: the output shows money to 4 decimals)
    free = _backtest(capsys, "--maker-fee", "0")
    assert free["fills"] == rebate["fills"] and free["fees"] == 0.0  # a 1 bp rebate floors nothing here
    floored = _backtest(capsys, "--maker-fee", "1", "--min-edge", "2")
    assert floored["maker_fee"] == 0.0001 and floored["fills"] == 0  # floor 3 bp = 9 USDT: far from the touch


def test_backtest_fee_flags_override_the_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[strategy]\nmaker_fee = 50.0\nmin_edge = 5.0\n[paper]\nmaker_fee = 0.005\n', encoding="utf-8")
    assert _backtest(capsys, "--config", str(cfg))["fills"] == 0  # the config's 50 bp floors everything away
    out = _backtest(capsys, "--config", str(cfg), "--maker-fee", "0", "--min-edge", "0")
    assert out["fills"] > 0 and out["fees"] == 0.0 and out["maker_fee"] == 0.0


@pytest.mark.parametrize(("flags", "message"), [
    (["--maker-fee", "100"], "mmbot: --maker-fee (bps): must be < 100"),
    (["--min-edge", "nan"], "mmbot: --min-edge (bps): must be a finite number"),
])
def test_backtest_bad_fee_flag_is_one_line(flags: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--data", str(DATA), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_with_fee_flags_sets_the_floor_and_the_fill_model() -> None:
    s = _settings(0.001, maker_fee=3.0, min_edge=1.0)
    cfg = s.for_symbol(SYMBOL)
    assert with_fee_flags(s, cfg, None, None) == (s, cfg)
    s2, cfg2 = with_fee_flags(s, cfg, -0.5, None)
    assert (cfg2.strategy.maker_fee, cfg2.strategy.min_edge, s2.paper.maker_fee) == (-0.5, 1.0, -0.00005)
    assert s.paper.maker_fee == 0.001 and cfg.strategy.maker_fee == 3.0  # the inputs are not changed
    s3, cfg3 = with_fee_flags(s, cfg, None, 0.0)
    assert (cfg3.strategy.maker_fee, cfg3.strategy.min_edge, s3.paper.maker_fee) == (3.0, 0.0, 0.001)
    with pytest.raises(UserError, match="--min-edge"):
        with_fee_flags(s, cfg, None, 1e6)


# -- compare --------------------------------------------------------------------------------------
def test_compare_floors_and_charges_the_fee() -> None:
    plain = {r.name: r for r in compare(FlowParams(), seed=3)[0]}
    fee = 0.001  # floor at mid ~100: 0.1001 > the 0.05 half-spread
    floored = {r.name: r for r in compare(FlowParams(maker_fee=fee), seed=3)[0]}
    assert all(r.fees == 0.0 for r in plain.values())
    sym = floored["symmetric"]
    assert sym.fees > 0 and sym.spread_pnl >= 200 * 0.1001 - 1e-9  # every fill at least the floor from the mid
    assert sym.spread_pnl - sym.fees >= -1e-9  # and net of the fee, never a loss (min_edge 0)
    assert sym.spread_pnl > plain["symmetric"].spread_pnl


def test_compare_cli_fee_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--json", "--maker-fee", "10", "--min-edge", "1"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["params"]["maker_fee"] == 0.001 and data["params"]["min_edge"] == 0.0001
    assert all(s["fees"] > 0 for s in data["strategies"])
    assert main(["compare", "--maker-fee", "100"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mmbot: --maker-fee") and err.count("\n") == 1


# -- one rule for paper, backtest and live ---------------------------------------------------------
async def _live_params(settings: Any, venue: str) -> StrategyParams:
    """The StrategyParams the live service builds for ``SYMBOL`` on the paper venue or a Binance account
    charging the paper fee (resolve_fee, then from_settings, as Service._make_run and _start_symbol do)."""
    cfg = settings.for_symbol(SYMBOL)
    if venue == "paper":
        exchange: Any = PaperExchange(feed=None, settings=settings.paper)
        adapter: Any = PaperExchange.records_adapter
    else:
        exchange, adapter = _Commission(settings.paper.maker_fee), BinanceSpotAdapter()
    fee = await resolve_fee(adapter, exchange, cfg, MARKET, _Log(), _once)
    return StrategyParams.from_settings(cfg, RULES, fee.rate)


@pytest.mark.parametrize("strategy", [{}, {"maker_fee": -0.5, "min_edge": 2.0}, {"min_edge": 1.0}])
async def test_paper_backtest_and_live_build_one_strategy(strategy: dict[str, Any]) -> None:
    s = _settings(0.0004, **strategy)
    backtest = params_from_settings(s, s.for_symbol(SYMBOL), RULES)
    assert backtest.maker_fee == 0.0004  # the fill model charges the paper fee
    for venue in ("paper", "binance"):
        live = await _live_params(s, venue)
        assert (live.model, live.limits, live.rules) == (backtest.model, backtest.limits, backtest.rules)
    expected = -0.00005 if strategy.get("maker_fee") else 0.0004
    assert backtest.model.maker_fee == pytest.approx(expected)


@settings(max_examples=60, deadline=None)
@given(mid=st.floats(20_000, 40_000), q=st.floats(-0.05, 0.05), fee_bps=st.floats(-2, 15), edge_bps=st.floats(0, 5))
def test_the_backtest_and_the_live_strategy_quote_alike(mid: float, q: float, fee_bps: float, edge_bps: float) -> None:
    s = _settings(fee_bps / 1e4, min_edge=edge_bps)
    backtest = params_from_settings(s, s.for_symbol(SYMBOL), RULES)
    live = StrategyParams.from_settings(s.for_symbol(SYMBOL), RULES, fee_bps / 1e4)  # the paper venue's rate
    inputs = QuoteInputs(mid=mid, q=q)
    a = make_quote(inputs, backtest.model, backtest.limits, backtest.rules)
    b = make_quote(inputs, live.model, live.limits, live.rules)
    assert a == b
    if a.bid is not None and a.ask is not None:
        floor = live.model.half_floor(a.reservation)
        assert a.reservation - a.bid >= floor - 1e-6 and a.ask - a.reservation >= floor - 1e-6
