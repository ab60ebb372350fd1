"""The hedged research variant: net within band + one fill, lower P&L risk on a one-sided flow, the cost of a basis
shock, the components adding up, determinism; and the `--hedged` flags of `mmbot compare`."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from bot.cli import main
from bot.research.compare import FlowParams, compare_with_hedge
from bot.research.hedged import (
    PerpParams,
    compare_hedged,
    perp_basis,
    run_hedged,
    spot_path,
    with_shock,
)

ONE_SIDED = FlowParams(sell_share=0.7, fills=600)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hedged_net_stays_within_the_band_plus_one_fill(seed: int) -> None:
    p = PerpParams(band=2.0)
    _, _, c = compare_with_hedge(ONE_SIDED, p, seed)
    assert c.hedged.max_abs_net <= p.band + 1.0  # compare's fills are one lot each
    assert c.unhedged.max_abs_net > 5 * (p.band + 1.0)
    assert c.hedged.max_abs_q == c.unhedged.max_abs_q  # the spot leg is the same run


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hedging_lowers_the_pnl_risk_on_a_one_sided_flow(seed: int) -> None:
    _, _, c = compare_with_hedge(ONE_SIDED, PerpParams(), seed)
    assert c.hedged.pnl_std < 0.7 * c.unhedged.pnl_std


def test_a_basis_shock_costs_about_position_times_shock() -> None:
    p = PerpParams(basis_shock_bps=30.0, shock_at=400.0)
    _, _, c = compare_with_hedge(ONE_SIDED, p, 1)
    s = c.shock
    assert s is not None and s.position < -10  # short perp against a long spot inventory
    assert s.expected == pytest.approx(-s.position * s.spot_mid * 30.0 / 1e4)
    assert s.cost_at_hit == pytest.approx(s.expected, rel=0.05)
    assert abs(s.at - 400.0) < 5.0
    # the basis reverts: most of the cost comes back unless the hedge traded during the shock
    assert abs(s.cost_final) < abs(s.cost_at_hit)


def test_the_components_add_up_and_the_run_is_deterministic() -> None:
    p = PerpParams(funding_interval=120.0)
    _, _, a = compare_with_hedge(ONE_SIDED, p, 4)
    _, _, b = compare_with_hedge(ONE_SIDED, p, 4)
    h = a.hedged
    assert h.hedge_pnl + h.basis_pnl + h.funding - h.hedge_fees == pytest.approx(h.hedge_total, abs=1e-6)
    assert h.spot_pnl + h.hedge_total == pytest.approx(h.final_pnl, abs=1e-6)
    assert h.funding != 0.0 and h.hedge_fees > 0
    assert a.hedged.pnl_path == b.hedged.pnl_path and a.unhedged == b.unhedged
    _, _, other = compare_with_hedge(ONE_SIDED, p, 5)
    assert other.hedged.pnl_path != a.hedged.pnl_path


def test_spot_path_applies_each_fill_from_its_time() -> None:
    fills = [(0.5, "buy", 99.9, 2.0, 0.1), (2.0, "sell", 99.1, 1.0, 0.0)]
    path = spot_path([0.0, 1.0, 2.0], [100.0, 101.0, 99.0], fills)  # type: ignore[arg-type]
    assert list(path.q) == [0.0, 2.0, 1.0]
    assert path.pnl[1] == pytest.approx(-2 * 99.9 - 0.1 + 2 * 101.0)
    assert path.pnl[2] == pytest.approx(-2 * 99.9 - 0.1 + 99.1 + 99.0)
    assert path.fill_size == 2.0


def test_the_chosen_shock_is_added_to_the_same_noise_and_reverts() -> None:
    times = np.arange(0.0, 100.0, 1.0)
    p = PerpParams(basis_shock_bps=20.0, shock_at=50.0, basis_reversion=0.1)
    base = perp_basis(times, p, 7)
    shocked = with_shock(times, base, p)
    assert np.array_equal(shocked[:50], base[:50])
    assert shocked[50] - base[50] == pytest.approx(20.0)
    assert shocked[60] - base[60] == pytest.approx(20.0 * np.exp(-1.0))


def test_a_long_hedge_pays_funding_when_the_rate_is_positive() -> None:
    """Spot short 5 -> perp long 5; a flat basis leaves the interest rate (1 bp) every 10 s."""
    times = np.arange(0.0, 31.0, 1.0)
    path = spot_path(times, np.full(times.size, 100.0), [(0.0, "sell", 100.0, 5.0, 0.0)])
    p = PerpParams(band=0.5, basis_volatility=0.0, funding_interval=10.0, taker_fee=0.0)
    r = run_hedged(path, p, np.zeros(times.size))
    assert r.final_hedge_position == 5.0 and r.hedge_orders == 1
    assert r.funding == pytest.approx(-3 * 5 * 100.0 * 0.0001)


def test_an_unhedged_comparison_has_no_leg() -> None:
    times = np.arange(0.0, 10.0, 1.0)
    c = compare_hedged(spot_path(times, np.full(10, 50.0), []), replace(PerpParams(), basis_shock_bps=10.0), 1)
    assert c.hedged.hedge_orders == 0 and c.hedged.final_pnl == 0.0 and c.unhedged.pnl_std == 0.0
    assert c.shock is not None and c.shock.cost_at_hit == 0.0


def test_mmbot_compare_hedged_prints_both_variants(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--hedged", "--fills", "100", "--sell-share", "0.7", "--basis-shock-bps", "30"]) == 0
    out = capsys.readouterr().out
    assert "hedged variant of symmetric" in out and "basis shock +30 bps" in out
    assert main(["compare", "--hedged", "--json", "--fills", "100", "--hedge-strategy", "linear"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["hedged"]["strategy"] == "linear" and payload["hedged"]["basis_shock"] is None
    assert set(payload["hedged"]) == {"strategy", "unhedged", "hedged", "basis_shock"}


@pytest.mark.parametrize("argv, message", [
    (["--hedge-strategy", "nope"], "--hedge-strategy must be one of"),
    (["--shock-at", "-1"], "--shock-at must be >= 0"),
    (["--hedge-band", "-1"], "--hedge-band must be >= 0"),
    (["--hedge-ratio", "0"], "--hedge-ratio must be in"),
    (["--funding-interval", "0"], "--funding-interval must be > 0"),
    (["--basis-shock-bps", "nan"], "--basis-shock-bps must be a finite number"),
])
def test_bad_hedge_flags_are_one_line_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--hedged", "--fills", "10", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
