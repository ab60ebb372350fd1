"""The units of the as/glft models: inventory in orders, prices in ticks (hftbacktest's convention)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.models import ModelParams, centre_and_half_spread
from bot.core.quote import QuoteInputs


def hftbacktest_glft_depths(
    gamma: float, sigma_ticks: float, A: float, k_per_tick: float, position_orders: float
) -> tuple[float, float]:
    """(bid depth, ask depth) in ticks from the formula of hftbacktest's GLFT example (Delta = 1 order, xi = gamma):
    c1 = 1/(xi*Delta) * ln(1 + xi*Delta/k), c2 = sqrt(gamma/(2*A*Delta*k) * (1 + xi*Delta/k)^(k/(xi*Delta) + 1)),
    half spread = c1 + Delta/2 * c2 * sigma, skew = c2 * sigma, bid depth = half + skew*q, ask depth = half - skew*q.
    Written here from the published formula (not mmbot's code), so it checks mmbot's independently."""
    xi, delta = gamma, 1.0
    c1 = 1.0 / (xi * delta) * math.log(1.0 + xi * delta / k_per_tick)
    growth = (1.0 + xi * delta / k_per_tick) ** (k_per_tick / (xi * delta) + 1.0)
    c2 = math.sqrt(gamma / (2.0 * A * delta * k_per_tick) * growth)
    half = c1 + delta / 2.0 * c2 * sigma_ticks
    skew = c2 * sigma_ticks
    return half + skew * position_orders, half - skew * position_orders


# (gamma, sigma in ticks per sqrt(s), A per s, kappa per tick): hftbacktest's example region and two others
GLFT_SETS = [(0.05, 1.5, 0.8, 0.6), (0.1, 4.0, 1.0, 0.5), (1.0, 10.0, 5.0, 0.2)]


@pytest.mark.parametrize(("gamma", "sigma_t", "A", "k_t"), GLFT_SETS)
@pytest.mark.parametrize(("mid", "tick", "order_size"), [(30000.0, 0.01, 0.002), (1.0, 0.0001, 60.0)])
@pytest.mark.parametrize("orders", [-7.0, 0.0, 3.0])
def test_glft_matches_hftbacktest_formula(
    gamma: float, sigma_t: float, A: float, k_t: float, mid: float, tick: float, order_size: float, orders: float
) -> None:
    """mmbot's config units (sigma per price, kappa per price, q in base units) give hftbacktest's depths in ticks."""
    params = ModelParams("glft", gamma=gamma, sigma=sigma_t * tick, A=A, kappa=k_t / tick, order_size=order_size,
                         tick=tick)
    centre, half = centre_and_half_spread(QuoteInputs(mid=mid, q=orders * order_size), params)
    bid_depth, ask_depth = hftbacktest_glft_depths(gamma, sigma_t, A, k_t, orders)
    assert (mid - (centre - half)) / tick == pytest.approx(bid_depth, rel=1e-9)
    assert ((centre + half) - mid) / tick == pytest.approx(ask_depth, rel=1e-9, abs=1e-9)


def test_the_issue_measurement_now_skews_visibly() -> None:
    """Issue 19 measured 0.00002 USDT of GLFT skew at q = 0.01 BTC with sim.toml's old parameters (q in BTC):
    with q in orders of 0.002 BTC and prices in ticks of 0.01 the same parameters skew by ~11 ticks."""
    params = ModelParams("glft", gamma=0.1, sigma=0.04, kappa=50.0, A=1.0, order_size=0.002, tick=0.01)
    centre, _ = centre_and_half_spread(QuoteInputs(mid=30000.0, q=0.01), params)
    bid_depth, _ = hftbacktest_glft_depths(0.1, 4.0, 1.0, 0.5, 5.0)
    half_t, _ = hftbacktest_glft_depths(0.1, 4.0, 1.0, 0.5, 0.0)
    assert (30000.0 - centre) / 0.01 == pytest.approx(bid_depth - half_t, rel=1e-9)
    assert 10.0 < (30000.0 - centre) / 0.01 < 12.0


scales = st.floats(1e-3, 1e3)


@given(model=st.sampled_from(["as", "glft"]), price_scale=scales, size_scale=scales, orders=st.floats(-30, 30),
       gamma=st.floats(0.01, 2.0), sigma_t=st.floats(0.1, 20.0), k_t=st.floats(0.05, 5.0), tau=st.floats(0.1, 60.0))
def test_same_gamma_same_skew_in_ticks(
    model: str, price_scale: float, size_scale: float, orders: float, gamma: float, sigma_t: float, k_t: float,
    tau: float,
) -> None:
    """Two markets alike in ticks (sigma and kappa per tick equal) at different prices, ticks and order sizes:
    the same gamma and the same inventory in orders give the same centre offset and half-spread in ticks."""
    def in_ticks(mid: float, tick: float, order_size: float) -> tuple[float, float]:
        params = ModelParams(model, gamma=gamma, sigma=sigma_t * tick, kappa=k_t / tick, A=1.0, horizon=tau,
                             order_size=order_size, tick=tick)
        centre, half = centre_and_half_spread(QuoteInputs(mid=mid, q=orders * order_size), params)
        return (mid - centre) / tick, half / tick

    btc = in_ticks(30000.0, 0.01, 0.002)
    other = in_ticks(30000.0 * price_scale, 0.01 * price_scale, 0.002 * size_scale)
    assert other == pytest.approx(btc, rel=1e-6, abs=1e-6)


def test_as_and_glft_differ_with_the_same_parameters() -> None:
    """A-S and GLFT are different models: with one parameter set their skews differ (they coincided by accident
    when both rounded to no skew at all)."""
    base = {"gamma": 0.1, "sigma": 0.04, "kappa": 50.0, "A": 1.0, "horizon": 1.0, "order_size": 0.002, "tick": 0.01}
    inputs = QuoteInputs(mid=30000.0, q=0.01)
    as_centre, _ = centre_and_half_spread(inputs, ModelParams("as", **base))  # type: ignore[arg-type]
    glft_centre, _ = centre_and_half_spread(inputs, ModelParams("glft", **base))  # type: ignore[arg-type]
    assert abs((30000.0 - as_centre) - (30000.0 - glft_centre)) > 0.01  # more than a tick apart
    assert as_centre < 30000.0 - 0.01 and glft_centre < 30000.0 - 0.01  # both lean a tick or more at 5 orders
