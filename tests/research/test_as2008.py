"""The A–S 2008 Monte Carlo: the paper's qualitative result and its table 1, within tolerance."""

from __future__ import annotations

import json
import math

import pytest

from bot.cli import main
from bot.research.as2008 import PAPER_TABLE_GAMMA_0_1, AS2008Params, simulate, total_spread


@pytest.fixture(scope="module")
def result_gamma_01():
    return simulate(AS2008Params(gamma=0.1), paths=1000, seed=7)


def test_inventory_strategy_has_much_smaller_dispersion(result_gamma_01) -> None:
    inv, sym = result_gamma_01.inventory, result_gamma_01.symmetric
    assert inv.profit_std / sym.profit_std < 0.7
    assert inv.final_q_std / sym.final_q_std < 0.7


@pytest.mark.parametrize(
    ("strategy", "field", "rel_tol"),
    [
        ("inventory", "profit_mean", 0.06),
        ("inventory", "profit_std", 0.20),
        ("inventory", "final_q_std", 0.15),
        ("symmetric", "profit_mean", 0.06),
        ("symmetric", "profit_std", 0.15),
        ("symmetric", "final_q_std", 0.10),
    ],
)
def test_close_to_paper_table_1(result_gamma_01, strategy: str, field: str, rel_tol: float) -> None:
    got = getattr(getattr(result_gamma_01, strategy), field)
    want = PAPER_TABLE_GAMMA_0_1[strategy][field]
    assert got == pytest.approx(want, rel=rel_tol)


def test_final_inventory_means_near_zero(result_gamma_01) -> None:
    # Standard error of the mean is std/sqrt(1000): allow 4 of them.
    for st in (result_gamma_01.inventory, result_gamma_01.symmetric):
        assert abs(st.final_q_mean) < 4 * st.final_q_std / math.sqrt(1000)


def test_average_spread_is_time_average_of_eq_30(result_gamma_01) -> None:
    p = result_gamma_01.params
    expected = sum(total_spread(p, p.T - i * p.dt) for i in range(p.steps)) / p.steps
    assert result_gamma_01.inventory.spread == pytest.approx(expected)
    assert result_gamma_01.symmetric.spread == pytest.approx(expected)
    # The paper's reported 1.29 is the time-independent term of eq. 30.
    assert (2 / p.gamma) * math.log1p(p.gamma / p.k) == pytest.approx(1.29, abs=0.005)


def test_higher_risk_aversion_tightens_inventory() -> None:
    low = simulate(AS2008Params(gamma=0.01), paths=400, seed=3).inventory.final_q_std
    high = simulate(AS2008Params(gamma=0.5), paths=400, seed=3).inventory.final_q_std
    assert high < low


def test_seed_makes_it_deterministic() -> None:
    a = simulate(paths=50, seed=11)
    b = simulate(paths=50, seed=11)
    c = simulate(paths=50, seed=12)
    assert a == b
    assert a != c


def test_bad_params_raise() -> None:
    with pytest.raises(ValueError, match="gamma"):
        AS2008Params(gamma=0.0)
    with pytest.raises(ValueError, match="paths"):
        simulate(paths=0)


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--paths", "200", "--seed", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("inventory", "symmetric"):
        assert set(data[key]) == {"spread", "profit_mean", "profit_std", "final_q_mean", "final_q_std"}
    assert data["inventory"]["profit_std"] < data["symmetric"]["profit_std"]


def test_cli_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--paths", "100", "--seed", "1", "--gamma", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "inventory" in out and "symmetric" in out and "gamma=0.5" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["simulate", "--model", "glft"],
        ["simulate", "--gamma", "-1"],
        ["simulate", "--gamma", "nan"],
        ["simulate", "--paths", "0"],
        ["simulate", "--seed", "-3"],
    ],
)
def test_cli_bad_input_one_line_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mmbot: ")


def test_cli_unparseable_number_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "--paths", "many"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1
