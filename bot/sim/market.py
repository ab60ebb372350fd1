"""The synthetic market around one symbol: a mid price, background liquidity and taker arrivals.

All randomness comes from the symbol's own ``numpy.random.Generator``, drawn in a fixed order, so
the same seed and the same sequence of commands give the same market.

- Mid: arithmetic Brownian motion in ticks, ``mid += sigma * sqrt(dt) * N(0, 1)``. The next step's
  increment is drawn one step ahead so informed takers can trade in its direction.
- Background: ``levels`` price levels per side at ``round(mid) -/+ (half_spread + i*level_spacing)``
  ticks; level i has a Gamma(2)-distributed size with mean ``level_size * (1 + level_growth * i)``.
  Each level is resized (cancel and re-place, so it loses time priority) at ``refresh_rate`` per second.
- Takers: Poisson(``taker_rate * dt``) arrivals per step; with probability ``informed_fraction`` a
  taker trades with the sign of the next mid move, otherwise it sells with probability
  ``sell_fraction``; size is exponential with mean ``taker_size`` (at least one lot).
"""

from __future__ import annotations

import math

import numpy as np

from bot.sim.book import BUY, SELL
from bot.sim.settings import SymbolSpec


class MarketProcess:
    """State and random draws of the synthetic market for one symbol (pure, no I/O)."""

    def __init__(self, spec: SymbolSpec, rng: np.random.Generator) -> None:
        self.spec = spec
        self.rng = rng
        self.mid = float(spec.mid / spec.tick_size)
        self.step = float(spec.step_size)
        self.next_move = 0.0
        self._floor = spec.half_spread + spec.levels * spec.level_spacing + 1

    def center(self) -> int:
        """The mid rounded to a whole tick."""
        return round(self.mid)

    def advance(self, dt: float) -> None:
        """Apply the pre-drawn increment and draw the next one."""
        self.mid = max(self.mid + self.next_move, float(self._floor))
        sigma = self.spec.volatility * math.sqrt(dt)
        self.next_move = float(self.rng.normal(0.0, sigma)) if sigma > 0 else 0.0

    def level_prices(self, side: str) -> list[int]:
        """The background's desired prices on ``side``, best first."""
        c, s = self.center(), self.spec
        sign = -1 if side == BUY else 1
        return [c + sign * (s.half_spread + i * s.level_spacing) for i in range(s.levels)]

    def level_lots(self, index: int) -> int:
        """A random background size for level ``index``, in lots (>= 1)."""
        mean = self.spec.level_size * (1.0 + self.spec.level_growth * index)
        return max(1, round(float(self.rng.gamma(2.0, mean / 2.0)) / self.step))

    def resize_due(self, count: int, dt: float) -> np.ndarray:
        """For ``count`` resting background orders: which are resized this step."""
        p = 1.0 - math.exp(-self.spec.refresh_rate * dt)
        return self.rng.random(count) < p

    def arrivals(self, dt: float) -> list[tuple[str, int]]:
        """Takers arriving during this step as (side, lots)."""
        s = self.spec
        n = int(self.rng.poisson(s.taker_rate * dt)) if s.taker_rate > 0 else 0
        out: list[tuple[str, int]] = []
        for _ in range(n):
            informed = self.rng.random() < s.informed_fraction
            u = self.rng.random()
            if informed and self.next_move != 0.0:
                side = BUY if self.next_move > 0 else SELL
            else:
                side = SELL if u < s.sell_fraction else BUY
            lots = max(1, round(float(self.rng.exponential(s.taker_size)) / self.step))
            out.append((side, lots))
        return out
