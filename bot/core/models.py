"""Quote models: where to centre the quotes and how far from the centre to put them.

Every model returns ``(centre, half_spread)`` in price units, before the fee floor, the minimum spread
and tick rounding; the bid is ``centre - half_spread`` and the ask ``centre + half_spread``.
Inventory ``q`` and its target ``q*`` are in base units. ``linear`` reads them as given. ``as`` and
``glft`` work in hftbacktest's units: inventory in orders, ``n = (q - q*) / order_size`` (Gueant's
Delta = one order), and prices in ticks: ``s = sigma / tick``, ``k = kappa * tick``; their centre offset
and half-spread (in ticks) are multiplied by ``tick`` at the end. So gamma is risk aversion per (tick x
order) and gives the same skew in ticks per order for any two markets alike in ticks (BTC at 30,000 and an
asset at 1.0), whatever their price, tick and order size.

- ``symmetric``: centre = mid, half = ``half_spread``.
- ``linear``: centre = mid - skew*(q - q*), half = ``half_spread``; ``skew`` is price per base unit.
- ``as`` (Avellaneda & Stoikov 2008): with tau = T - t, in ticks,
  r = mid - n*gamma*s^2*tau and total spread gamma*s^2*tau + (2/gamma)*ln(1 + gamma/k) around r.
  ``horizon_mode="rolling"``: tau = horizon always (24/7 markets);
  ``"session"``: tau = horizon - (t mod horizon), counting down and restarting each session.
- ``glft`` (Gueant, Lehalle & Fernandez-Tapia 2013, infinite-horizon closed-form approximation,
  Gueant 2017): with lambda(delta) = A*exp(-k*delta) the rate at which an order at distance delta
  (ticks) fills, and Delta = one order, in ticks
  delta_bid(n) = c1 + (2n + 1)/2 * s*c2, delta_ask(n) = c1 - (2n - 1)/2 * s*c2, where
  c1 = (1/gamma)*ln(1 + gamma/k) and c2 = sqrt(gamma/(2*A*k) * (1 + gamma/k)^(1 + k/gamma)).
  Equivalently: half = c1 + s*c2/2, skew = s*c2 per order, centre = mid - skew*n.

Fee floor (:func:`fee_floor`): with maker fee rate ``f`` (negative for a rebate) and a wanted edge ``e``
(a rate), a bid at ``c - h`` filled and valued at the centre ``c`` earns ``h - f*(c - h)``, an ask at
``c + h`` earns ``h - f*(c + h)``; both are at least ``e*c`` when ``h >= c*(f + e)/(1 - |f|)``. The
pipeline raises the model's half-spread to that floor (never below 0), keeping the centre: the skew stays.

Units: sigma in price per sqrt(second), A per second, kappa per price unit (the estimators' and the config's
units; the models convert them to ticks), times in seconds, gamma per (tick x order), fee and edge as rates
(10 bp = 0.001).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.core.registry import MODELS, ModelName, reads_estimates

if TYPE_CHECKING:
    from bot.config import StrategySettings
    from bot.core.quote import QuoteState

__all__ = ["MODELS", "ModelName", "ModelParams", "reads_estimates"]


@dataclass(frozen=True, slots=True)
class ModelParams:
    """Parameters of the quote model (see the module docstring for each model's formula).

    ``sigma``, ``kappa`` and ``A`` are fallbacks, replaced by live estimates in QuoteInputs.
    ``min_spread`` is the minimum distance between bid and ask (applied in the pipeline).
    ``order_size`` (base units per order) and ``tick`` (price per tick) are the inventory and price units of
    ``as``/``glft`` (both > 0).
    ``maker_fee`` (rate, negative = rebate) and ``min_edge`` (rate) set the fee floor of the half-spread.
    """

    model: str = "linear"
    half_spread: float = 0.05
    skew: float = 0.01
    target_q: float = 0.0
    gamma: float = 0.1
    sigma: float = 0.5
    kappa: float = 10.0
    A: float = 1.0
    horizon: float = 60.0
    horizon_mode: str = "rolling"
    min_spread: float = 0.0
    order_size: float = 1.0
    tick: float = 1.0
    maker_fee: float = 0.0
    min_edge: float = 0.0

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; expected one of {', '.join(MODELS)}")
        if self.horizon_mode not in ("rolling", "session"):
            raise ValueError(f"unknown horizon_mode {self.horizon_mode!r}")
        if not self.order_size > 0:
            raise ValueError(f"order_size must be > 0, got {self.order_size!r}")
        if not self.tick > 0:
            raise ValueError(f"tick must be > 0, got {self.tick!r}")
        if not abs(self.maker_fee) < 1:
            raise ValueError(f"maker_fee is a rate (0.001 = 10 bp), got {self.maker_fee!r}")

    @property
    def reads_time(self) -> bool:
        """Whether quotes depend on ``QuoteInputs.t`` (only the ``as`` model's session horizon)."""
        return self.model == "as" and self.horizon_mode == "session"

    def half_floor(self, centre: float) -> float:
        """The fee floor of the half-spread at ``centre`` (:func:`fee_floor`)."""
        return fee_floor(centre, self.maker_fee, self.min_edge)

    @classmethod
    def from_settings(
        cls, strategy: StrategySettings, order_size: float, tick: float, maker_fee: float
    ) -> ModelParams:
        """From the validated ``[strategy]`` config section, the symbol's order size and tick, and its maker fee
        rate (the venue's, or the config's ``maker_fee`` override: see :func:`bot.core.fees.resolve_maker_fee`)."""
        return cls(
            model=strategy.model,
            half_spread=strategy.half_spread,
            skew=strategy.skew,
            target_q=strategy.target_q,
            gamma=strategy.gamma,
            sigma=strategy.sigma,
            kappa=strategy.kappa,
            A=strategy.A,
            horizon=strategy.horizon,
            horizon_mode=strategy.horizon_mode,
            min_spread=strategy.min_spread,
            order_size=order_size,
            tick=tick,
            maker_fee=maker_fee,
            min_edge=strategy.min_edge / 10_000.0,
        )


def fee_floor(centre: float, maker_fee: float, min_edge: float) -> float:
    """Smallest half-spread at which a maker fill on either side earns ``min_edge * centre`` net of the fee:
    ``max(0, centre*(maker_fee + min_edge)/(1 - |maker_fee|))`` (rates; a rebate lowers it)."""
    floor = centre * (maker_fee + min_edge) / (1.0 - abs(maker_fee))
    return floor if floor > 0.0 else 0.0


def symmetric(mid: float, half_spread: float) -> tuple[float, float]:
    """Centre at the mid, fixed half-spread."""
    return mid, half_spread


def linear(mid: float, q: float, target_q: float, skew: float, half_spread: float) -> tuple[float, float]:
    """Centre = mid - skew*(q - q*), fixed half-spread."""
    return mid - skew * (q - target_q), half_spread


def time_to_horizon(t: float, horizon: float, mode: str) -> float:
    """tau = T - t: ``horizon`` when rolling; ``horizon - (t mod horizon)`` for sessions (in (0, horizon])."""
    if mode == "rolling":
        return horizon
    return horizon - (t % horizon)


def avellaneda_stoikov(
    mid: float, n: float, gamma: float, sigma: float, kappa: float, tau: float, tick: float = 1.0
) -> tuple[float, float]:
    """In ticks (s = sigma/tick, k = kappa*tick): reservation offset n*gamma*s^2*tau (n: inventory off target, in
    orders) and half of gamma*s^2*tau + (2/gamma)ln(1+gamma/k); returned in price: ``(mid - offset*tick,
    half*tick)``."""
    s = sigma / tick
    risk = gamma * s * s * tau
    half = 0.5 * risk + math.log1p(gamma / (kappa * tick)) / gamma
    return mid - n * risk * tick, half * tick


def glft_coefficients(gamma: float, sigma: float, A: float, kappa: float, tick: float = 1.0) -> tuple[float, float]:
    """GLFT (Delta = one order), in price: (half-spread at q = q*, skew per order).

    In ticks (s = sigma/tick, k = kappa*tick): half = c1 + s*c2/2 and skew = s*c2 with c1 = ln(1 + gamma/k)/gamma
    and c2 = sqrt(gamma/(2*A*k) * (1 + gamma/k)^(1 + k/gamma)); both are multiplied by ``tick``.
    """
    k = kappa * tick
    ratio = gamma / k
    c1 = math.log1p(ratio) / gamma
    c2 = math.sqrt(gamma / (2.0 * A * k) * (1.0 + ratio) ** (1.0 + 1.0 / ratio))
    skew = sigma / tick * c2
    return (c1 + 0.5 * skew) * tick, skew * tick


def glft(
    mid: float, n: float, gamma: float, sigma: float, A: float, kappa: float, tick: float = 1.0
) -> tuple[float, float]:
    """Centre = mid - skew*n (n: inventory off target, in orders), half = c1 + skew/2 (:func:`glft_coefficients`)."""
    half, skew = glft_coefficients(gamma, sigma, A, kappa, tick)
    return mid - skew * n, half


def centre_and_half_spread(inputs: QuoteState, params: ModelParams) -> tuple[float, float]:
    """The model's reservation price and half-spread, using live sigma/A/kappa when given."""
    model = params.model
    if model == "linear":  # linear(), inlined: this runs on every quote
        return inputs.mid - params.skew * (inputs.q - params.target_q), params.half_spread
    if model == "symmetric":
        return inputs.mid, params.half_spread
    sigma = params.sigma if inputs.sigma is None else inputs.sigma
    kappa = params.kappa if inputs.kappa is None else inputs.kappa
    n = (inputs.q - params.target_q) / params.order_size
    if model == "as":
        tau = time_to_horizon(inputs.t, params.horizon, params.horizon_mode)
        return avellaneda_stoikov(inputs.mid, n, params.gamma, sigma, kappa, tau, params.tick)
    A = params.A if inputs.A is None else inputs.A
    return glft(inputs.mid, n, params.gamma, sigma, A, kappa, params.tick)
