"""The perpetual's basis to its spot mid and its funding schedule (pure; randomness from a given RNG).

- Basis, bps of the spot mid: an Ornstein-Uhlenbeck process around ``basis_bps`` (exact discretisation:
  ``b = m + (b - m) e^(-theta dt) + sd N(0,1)``), plus Poisson(``basis_shock_rate / 3600 * dt``) shocks of
  ``+-basis_shock_bps`` (random sign) that then decay at the same reversion. ``shock`` adds one at once.
- Funding: settles at each multiple of ``funding_interval`` since the epoch (Binance's 00/08/16 UTC for
  8 h). The rate is ``clamp(mean premium + interest_rate, +-funding_cap)``, rounded to 1e-8, where the
  premium ``(mark - index) / index`` is averaged over time since the last settlement.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np

from bot.sim.settings import PerpSpec

RATE_QUANTUM = Decimal("0.00000001")


class Basis:
    """The basis in bps; ``advance`` draws in a fixed order (normal, then shocks)."""

    def __init__(self, spec: PerpSpec, rng: np.random.Generator) -> None:
        self.spec = spec
        self.rng = rng
        self.bps = spec.basis_bps

    def advance(self, dt: float) -> None:
        s = self.spec
        theta, mean = s.basis_reversion, s.basis_bps
        if theta > 0:
            decay = math.exp(-theta * dt)
            sd = s.basis_volatility * math.sqrt((1.0 - decay * decay) / (2.0 * theta))
        else:
            decay, sd = 1.0, s.basis_volatility * math.sqrt(dt)
        self.bps = mean + (self.bps - mean) * decay
        if sd > 0:
            self.bps += sd * float(self.rng.normal())
        if s.basis_shock_rate > 0:
            for _ in range(int(self.rng.poisson(s.basis_shock_rate / 3600.0 * dt))):
                self.shock(s.basis_shock_bps if self.rng.random() < 0.5 else -s.basis_shock_bps)

    def shock(self, bps: float) -> None:
        self.bps += bps


class Funding:
    """The premium average since the last settlement and the next settlement time (ms)."""

    def __init__(self, spec: PerpSpec, now_ms: int) -> None:
        self.spec = spec
        self.interval_ms = max(1, round(spec.funding_interval * 1000))
        self.next_ms = (now_ms // self.interval_ms + 1) * self.interval_ms
        self._weighted = 0.0
        self._time = 0.0
        self._premium = 0.0

    def observe(self, premium: float, dt: float) -> None:
        """The premium index held for ``dt`` seconds."""
        self._premium = premium
        self._weighted += premium * dt
        self._time += dt

    def rate(self) -> Decimal:
        """The rate the next settlement would pay (the predicted rate of premiumIndex)."""
        premium = self._weighted / self._time if self._time > 0 else self._premium
        cap = self.spec.funding_cap
        raw = Decimal(repr(premium)) + self.spec.interest_rate
        return max(-cap, min(cap, raw)).quantize(RATE_QUANTUM, rounding=ROUND_HALF_EVEN)

    def due(self, now_ms: int) -> bool:
        return now_ms >= self.next_ms

    def settled(self, scheduled: bool) -> None:
        """A settlement happened: reset the average; a scheduled one moves the next time on."""
        self._weighted = 0.0
        self._time = 0.0
        if scheduled:
            self.next_ms += self.interval_ms
