"""The maker fee the quotes are floored against, and where it came from (pure).

Rates are fractions of notional (0.001 = 10 bp; negative = a rebate). Precedence: the config's
``strategy.maker_fee`` (bps) over the venue's commission endpoint over the ccxt market's ``maker``;
when none is known the floor assumes no fee and says so (``source="unknown"``).
"""

from __future__ import annotations

from dataclasses import dataclass

BPS = 10_000.0


@dataclass(frozen=True, slots=True)
class MakerFee:
    """A maker fee rate and its source: ``config``, ``venue`` (commission endpoint), ``market`` (ccxt's
    market table, which may be the exchange's default tier rather than this account's) or ``unknown``."""

    rate: float
    source: str

    @property
    def bps(self) -> float:
        return round(self.rate * BPS, 6)


def resolve_maker_fee(configured_bps: float | None, venue_rate: float | None, market_rate: float | None) -> MakerFee:
    """The first known of: the configured bps, the venue's account rate, the ccxt market's rate."""
    if configured_bps is not None:
        return MakerFee(configured_bps / BPS, "config")
    if venue_rate is not None:
        return MakerFee(venue_rate, "venue")
    if market_rate is not None:
        return MakerFee(market_rate, "market")
    return MakerFee(0.0, "unknown")
