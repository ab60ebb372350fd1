"""Estimators recover known parameters; edge cases raise clear errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.calibration import estimate_sigma, fit_intensity, suggest_parameters
from bot.core.models import glft_coefficients


def brownian(sigma: float, n: int, dt: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    times = np.arange(n + 1) * dt
    mids = 50.0 + np.concatenate([[0.0], np.cumsum(rng.normal(0, sigma * math.sqrt(dt), n))])
    return times, mids


def test_sigma_recovered_within_5_percent() -> None:
    times, mids = brownian(0.3, 20_000, 0.25, seed=1)
    assert estimate_sigma(times, mids) == pytest.approx(0.3, rel=0.05)


def test_sigma_irregular_sampling() -> None:
    rng = np.random.default_rng(2)
    gaps = rng.exponential(0.5, 20_000)
    times = np.concatenate([[0.0], np.cumsum(gaps)])
    mids = np.concatenate([[10.0], 10.0 + np.cumsum(rng.normal(0, 0.2 * np.sqrt(gaps)))])
    assert estimate_sigma(times, mids) == pytest.approx(0.2, rel=0.05)


@pytest.mark.parametrize(
    ("times", "mids", "match"),
    [
        ([], [], "at least two"),
        ([1.0], [1.0], "at least two"),
        ([1.0, 1.0], [1.0, 2.0], "zero time"),
        ([2.0, 1.0], [1.0, 2.0], "non-decreasing"),
        ([0.0, 1.0], [1.0], "equal length"),
        ([0.0, 1.0], [1.0, float("nan")], "finite"),
    ],
)
def test_sigma_bad_input(times: list[float], mids: list[float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        estimate_sigma(times, mids)


@given(
    scale=st.floats(0.01, 100.0),
    shift=st.floats(-1e3, 1e3),
    seed=st.integers(0, 1000),
)
@settings(max_examples=40, deadline=None)
def test_sigma_scales_with_price_and_ignores_level(scale: float, shift: float, seed: int) -> None:
    times, mids = brownian(1.0, 200, 1.0, seed)
    base = estimate_sigma(times, mids)
    assert estimate_sigma(times, mids * scale) == pytest.approx(base * scale, rel=1e-9)
    assert estimate_sigma(times, mids + shift) == pytest.approx(base, rel=1e-6)


def poisson_depths(A: float, kappa: float, duration: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.exponential(1.0 / kappa, rng.poisson(A * duration))


def test_mle_recovers_a_and_kappa_within_10_percent() -> None:
    depths = poisson_depths(A=3.0, kappa=25.0, duration=3000.0, seed=3)
    a_fit, kappa = fit_intensity(depths, 3000.0)
    assert a_fit == pytest.approx(3.0, rel=0.10)
    assert kappa == pytest.approx(25.0, rel=0.10)


def test_mle_is_closed_form() -> None:
    a_fit, kappa = fit_intensity([0.1, 0.2, 0.3, 0.4], duration=2.0)
    assert a_fit == pytest.approx(2.0)  # 4 arrivals / 2 s
    assert kappa == pytest.approx(1 / 0.25)


def test_mle_with_min_depth_undoes_a_touch_offset() -> None:
    # Depths shifted by a half-spread of 0.05: the rate of reaching delta >= 0.05 is still A e^{-k delta}.
    A_true, kappa_true, offset = 2.0, 20.0, 0.05
    rng = np.random.default_rng(4)
    n = rng.poisson(A_true * math.exp(-kappa_true * offset) * 5000.0)
    depths = offset + rng.exponential(1 / kappa_true, n)
    a_fit, kappa = fit_intensity(depths, 5000.0, min_depth=offset)
    assert kappa == pytest.approx(kappa_true, rel=0.10)
    assert a_fit == pytest.approx(A_true, rel=0.15)
    # Ignoring the offset biases kappa down, which is why the option exists.
    assert fit_intensity(depths, 5000.0)[1] < 0.6 * kappa_true


def test_least_squares_recovers_a_and_kappa_within_15_percent() -> None:
    depths = poisson_depths(A=3.0, kappa=25.0, duration=3000.0, seed=5)
    a_fit, kappa = fit_intensity(depths, 3000.0, bin_width=0.01)
    assert a_fit == pytest.approx(3.0, rel=0.15)
    assert kappa == pytest.approx(25.0, rel=0.15)


@pytest.mark.parametrize(
    ("depths", "duration", "kwargs", "match"),
    [
        ([], 10.0, {}, "empty"),
        ([0.1], 0.0, {}, "duration"),
        ([0.0, 0.0], 10.0, {}, "identifiable"),
        ([0.1, 0.2], 10.0, {"min_depth": 1.0}, "min_depth"),
        ([0.1, 0.2], 10.0, {"bin_width": 0.0}, "bin_width"),
        ([0.1, 0.11], 10.0, {"bin_width": 1.0}, "two depth bins"),
    ],
)
def test_intensity_bad_input(depths: list[float], duration: float, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fit_intensity(depths, duration, **kwargs)


@given(scale=st.floats(0.001, 1000.0), seed=st.integers(0, 1000))
@settings(max_examples=40, deadline=None)
def test_kappa_scales_inversely_with_depth_units(scale: float, seed: int) -> None:
    depths = np.random.default_rng(seed).exponential(1.0, 50) + 1e-9
    a1, k1 = fit_intensity(depths, 10.0)
    a2, k2 = fit_intensity(depths * scale, 10.0)
    assert a1 == pytest.approx(a2)
    assert k2 == pytest.approx(k1 / scale, rel=1e-9)


def test_glft_suggestion_is_the_core_formula() -> None:
    s = suggest_parameters(sigma=0.05, A=2.0, kappa=20.0, gamma=0.5, order_size=1.0)
    assert (s["glft_half_spread"], s["glft_skew"]) == glft_coefficients(0.5, 0.05, 2.0, 20.0)


def test_suggestions_are_consistent() -> None:
    s = suggest_parameters(sigma=0.05, A=2.0, kappa=20.0, gamma=0.5, order_size=0.1, horizon=60.0)
    assert s["as_skew"] == pytest.approx(0.5 * 0.05**2 * 60.0)
    # glft: per order of 0.1; linear: the same skew per base unit, the same half-spread
    assert s["linear_skew"] == pytest.approx(s["glft_skew"] / 0.1)
    assert s["linear_half_spread"] == s["glft_half_spread"]
    assert s["as_half_spread"] == pytest.approx(math.log1p(0.5 / 20.0) / 0.5 + s["as_skew"] / 2)
    # At the limit the skew has moved the centre by about 3 half-spreads (rounded down to whole lots).
    moved = s["linear_skew"] * s["max_position"] / s["linear_half_spread"]
    assert 3.0 - s["linear_skew"] * 0.1 / s["linear_half_spread"] - 1e-9 <= moved <= 3.0 + 1e-9
    assert round(s["max_position"] / 0.1, 9) == round(s["max_position"] / 0.1)


@given(gamma=st.floats(0.01, 10.0), sigma=st.floats(0.001, 1.0))
@settings(max_examples=40, deadline=None)
def test_more_risk_aversion_more_skew_smaller_limit(gamma: float, sigma: float) -> None:
    lo = suggest_parameters(sigma, 1.0, 10.0, gamma, 1.0)
    hi = suggest_parameters(sigma, 1.0, 10.0, gamma * 2, 1.0)
    assert hi["as_skew"] > lo["as_skew"]
    assert hi["glft_skew"] > lo["glft_skew"]
    assert hi["max_position"] <= lo["max_position"]
    assert lo["max_position"] >= 1.0


def test_suggest_rejects_zero_sigma() -> None:
    with pytest.raises(ValueError, match="sigma"):
        suggest_parameters(0.0, 1.0, 10.0, 0.1, 1.0)
