"""`mmbot compare`: the same flow for every strategy; skew contains inventory, the limit caps it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.cli import main
from bot.core.models import centre_and_half_spread
from bot.core.quote import QuoteInputs
from bot.research.compare import FlowParams, compare, make_flow, strategies


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_linear_skew_cuts_max_q_well_below_symmetric(seed: int) -> None:
    results, _ = compare(FlowParams(), seed=seed)
    by = {r.name: r for r in results}
    assert by["symmetric"].fills == 200
    assert by["linear"].max_abs_q < 0.5 * by["symmetric"].max_abs_q
    assert by["linear"].inventory_std < 0.5 * by["symmetric"].inventory_std
    assert by["linear+limit"].max_abs_q <= 30
    for name in ("as", "glft"):
        assert by[name].max_abs_q < by["symmetric"].max_abs_q


def test_hard_limit_caps_at_30_where_skew_alone_does_not() -> None:
    # A harsh flow (90% sellers) and a weak skew: linear skew alone drifts past 30, the limit holds.
    results, _ = compare(FlowParams(sell_share=0.9, skew=0.002, fills=1000), seed=1)
    by = {r.name: r for r in results}
    assert by["linear"].max_abs_q > 30
    assert by["linear+limit"].max_abs_q == 30
    assert max(abs(q) for q in by["linear+limit"].q_path) <= 30


def test_symmetric_accounting_is_exact() -> None:
    # The mid sits on the tick grid, so every symmetric fill earns exactly the half-spread.
    results, arrivals = compare(FlowParams(), seed=3)
    sym = results[0]
    assert sym.name == "symmetric"
    assert sym.spread_pnl == pytest.approx(200 * 0.05)
    assert sym.spread_given_up == 0.0
    assert len(sym.q_path) == arrivals
    assert sym.final_q == sym.q_path[-1]


def test_every_strategy_sees_the_same_flow() -> None:
    a, b = make_flow(FlowParams(), seed=9), make_flow(FlowParams(), seed=9)
    assert np.array_equal(a.mids, b.mids) and np.array_equal(a.depths, b.depths)
    results, arrivals = compare(FlowParams(), seed=9)
    assert {len(r.q_path) for r in results} == {arrivals}
    assert compare(FlowParams(), seed=9)[0][1].as_dict() == results[1].as_dict()


def test_as_gamma_matches_linear_skew() -> None:
    p = FlowParams()
    models = strategies(p)
    as_model = models["as"][0]
    # gamma per (tick x lot): the skew per lot is gamma*(sigma/tick)^2*horizon ticks, in price times the tick
    ticks = as_model.gamma * (as_model.sigma / as_model.tick) ** 2 * as_model.horizon
    assert ticks * as_model.tick == pytest.approx(p.skew)
    assert as_model.tick == p.tick and as_model.order_size == 1.0
    centre, _ = centre_and_half_spread(QuoteInputs(mid=100.0, q=3.0), as_model)
    assert 100.0 - centre == pytest.approx(3 * p.skew)


def test_cli_json_one_object_per_strategy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--json", "--seed", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    names = [s["name"] for s in data["strategies"]]
    assert names == ["symmetric", "linear", "linear+limit", "as", "glft"]
    keys = {"max_abs_q", "final_q", "inventory_std", "spread_pnl", "mtm_pnl", "spread_given_up"}
    assert all(keys <= set(s) for s in data["strategies"])


def test_cli_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare"]) == 0
    out = capsys.readouterr().out
    assert "max|q|" in out and "linear+limit" in out and "glft" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["compare", "--sell-share", "1.5"],
        ["compare", "--skew", "0"],
        ["compare", "--limit", "-3"],
        ["compare", "--fills", "0"],
        ["compare", "--seed", "-1"],
        ["compare", "--mid", "nan"],
    ],
)
def test_cli_bad_input(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mmbot: ")


def test_cli_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "inventory.png"
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert main(["compare", "--plot", str(target)]) == 2
        assert "matplotlib" in capsys.readouterr().err
        assert not target.exists()
    else:
        assert main(["compare", "--plot", str(target)]) == 0
        assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
