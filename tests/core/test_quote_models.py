"""Quote models: A-S and GLFT formulas, horizons, and the linear <-> A-S equivalence."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import StrategySettings
from bot.core.models import (
    ModelParams,
    avellaneda_stoikov,
    centre_and_half_spread,
    glft_coefficients,
    time_to_horizon,
)
from bot.core.quote import QuoteInputs

mids = st.floats(1.0, 1e5)
qs = st.floats(-100.0, 100.0)
gammas = st.floats(1e-3, 5.0)
sigmas = st.floats(1e-4, 5.0)
kappas = st.floats(0.1, 100.0)
taus = st.floats(1e-3, 3600.0)


@given(mids, qs, gammas, sigmas, kappas, taus)
def test_as_reservation_is_mid_at_target(mid: float, target: float, g: float, s: float, k: float, tau: float) -> None:
    r, _ = avellaneda_stoikov(mid, 0.0, g, s, k, tau)
    assert r == mid


@given(mids, qs, gammas, sigmas, kappas, taus)
def test_as_total_spread_formula(mid: float, q: float, g: float, s: float, k: float, tau: float) -> None:
    r, half = avellaneda_stoikov(mid, q, g, s, k, tau)
    assert 2 * half == pytest.approx(g * s * s * tau + 2 / g * math.log(1 + g / k), rel=1e-12)
    assert r == pytest.approx(mid - q * g * s * s * tau, rel=1e-12, abs=1e-9)


@given(gammas, sigmas, kappas, taus, st.floats(1.01, 10.0))
def test_as_spread_grows_with_sigma_and_time_left(g: float, s: float, k: float, tau: float, f: float) -> None:
    _, half = avellaneda_stoikov(100.0, 0.0, g, s, k, tau)
    _, wider_sigma = avellaneda_stoikov(100.0, 0.0, g, s * f, k, tau)
    _, wider_tau = avellaneda_stoikov(100.0, 0.0, g, s, k, tau * f)
    assert wider_sigma >= half and wider_tau >= half
    if g * s * s * tau > 1e-9 * half:  # else the inventory-risk term is below float resolution
        assert wider_sigma > half
        assert wider_tau > half


def test_session_horizon_counts_down_and_restarts() -> None:
    assert time_to_horizon(0.0, 60.0, "session") == 60.0
    assert time_to_horizon(15.0, 60.0, "session") == 45.0
    assert time_to_horizon(59.0, 60.0, "session") == 1.0
    assert time_to_horizon(60.0, 60.0, "session") == 60.0
    assert time_to_horizon(75.0, 60.0, "session") == 45.0
    for t in (0.0, 15.0, 1e6):
        assert time_to_horizon(t, 60.0, "rolling") == 60.0


def test_session_mode_narrows_the_as_quotes_towards_the_session_end() -> None:
    params = ModelParams(model="as", gamma=0.5, sigma=1.0, kappa=5.0, horizon=60.0, horizon_mode="session")
    early = centre_and_half_spread(QuoteInputs(mid=100.0, q=2.0, t=1.0), params)
    late = centre_and_half_spread(QuoteInputs(mid=100.0, q=2.0, t=59.0), params)
    assert late[1] < early[1]
    assert abs(late[0] - 100.0) < abs(early[0] - 100.0)


@given(mids, qs, qs, gammas, sigmas, kappas, taus)
def test_linear_equals_as_when_skew_matches(
    mid: float, q: float, target: float, g: float, s: float, k: float, tau: float
) -> None:
    skew = g * s * s * tau
    lin = ModelParams(model="linear", skew=skew, target_q=target, half_spread=0.1)
    as_ = ModelParams(model="as", gamma=g, sigma=s, kappa=k, horizon=tau, target_q=target)
    inputs = QuoteInputs(mid=mid, q=q)
    r_lin, _ = centre_and_half_spread(inputs, lin)
    r_as, _ = centre_and_half_spread(inputs, as_)
    assert r_lin == pytest.approx(r_as, rel=1e-12, abs=1e-9)


@given(gammas, sigmas, st.floats(0.01, 100.0), kappas, qs)
def test_glft_matches_gueant_depths(g: float, s: float, A: float, k: float, q: float) -> None:
    """delta_bid(q) = c1 + (2q+1)/2 * sigma*c2 and delta_ask(q) = c1 - (2q-1)/2 * sigma*c2 (Delta = 1)."""
    c1 = (1 / g) * math.log(1 + g / k)
    c2 = math.sqrt(g / (2 * A * k) * (1 + g / k) ** (1 + k / g))
    params = ModelParams(model="glft", gamma=g, sigma=s, A=A, kappa=k)
    centre, half = centre_and_half_spread(QuoteInputs(mid=1000.0, q=q), params)
    assert 1000.0 - (centre - half) == pytest.approx(c1 + (2 * q + 1) / 2 * s * c2, rel=1e-9, abs=1e-9)
    assert (centre + half) - 1000.0 == pytest.approx(c1 - (2 * q - 1) / 2 * s * c2, rel=1e-9, abs=1e-9)
    assert glft_coefficients(g, s, A, k)[1] == pytest.approx(s * c2, rel=1e-12)


def test_glft_small_gamma_tends_to_one_over_kappa() -> None:
    """As gamma -> 0, c1 = ln(1 + gamma/kappa)/gamma -> 1/kappa and the inventory term vanishes."""
    half, skew = glft_coefficients(1e-9, 0.5, 1.0, 4.0)
    assert half - skew / 2 == pytest.approx(0.25, rel=1e-6)
    assert skew < 1e-3


def test_live_estimates_override_fallbacks() -> None:
    base = ModelParams(model="glft", sigma=0.5, A=1.0, kappa=10.0)
    live = centre_and_half_spread(QuoteInputs(mid=100.0, q=1.0, sigma=2.0, A=3.0, kappa=5.0), base)
    same = ModelParams(model="glft", sigma=2.0, A=3.0, kappa=5.0)
    assert live == centre_and_half_spread(QuoteInputs(mid=100.0, q=1.0), same)
    assert live != centre_and_half_spread(QuoteInputs(mid=100.0, q=1.0), base)


def test_model_params_from_settings_and_validation() -> None:
    params = ModelParams.from_settings(StrategySettings(model="as", gamma=0.3, horizon_mode="session", min_edge=2.0),
                                       0.002, 0.01, -0.0001)
    assert (params.model, params.gamma, params.horizon_mode) == ("as", 0.3, "session")
    assert (params.order_size, params.tick, params.maker_fee, params.min_edge) == (0.002, 0.01, -0.0001, 0.0002)
    with pytest.raises(ValueError, match="order_size"):
        ModelParams(order_size=0.0)
    with pytest.raises(ValueError, match="maker_fee"):
        ModelParams(maker_fee=1.5)
    with pytest.raises(ValueError, match="unknown model"):
        ModelParams(model="martingale")
