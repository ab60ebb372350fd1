"""The hedge leg's own risk triggers over time (pure; times in monotonic seconds, sizes in base units).

:meth:`HedgeRisk.observe` answers, at each look, the breaches that hold now (an empty list: all clear, so a pause
taken on a breach ends at the first empty answer):

- ``failure``: ``failures`` (hedge errors/rejects in a row, counted by the leg) ``>= max_failures``;
- ``unhedged``: ``max(|net|, |limit_net|) > max_unhedged`` held at every look for ``unhedged_seconds`` in a row
  (``net`` = spot q x ratio + booked hedge position; ``limit_net`` = the same counting in-flight hedge orders as
  filled: the booked view catches a hedge that does not fill, the in-flight view one that hedges twice); a
  look within the limit restarts the clock;
- ``basis``: ``|basis_bps| > basis_band_bps`` (None: not known, no breach);
- ``margin``: ``margin_ratio < min_margin_ratio`` (margin balance / |position notional|; None = no position).

:func:`worst_case_hedge` is the pre-trade check's number: ``|position|`` if the in-flight orders and the new one
all fill, or only the new one does (``max(|p + o|, |p + f + o|)``, signed ``f`` and ``o``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from bot.core.display import exact
from bot.core.hedge import HedgeOrder

BreachKind = Literal["failure", "unhedged", "basis", "margin"]


@dataclass(frozen=True, slots=True)
class HedgeBreach:
    kind: BreachKind
    detail: str


@dataclass
class HedgeRisk:
    """One leg's triggers (thresholds from ``HedgeLegSettings``); ``observe`` at every look."""

    max_unhedged: Decimal
    unhedged_seconds: float
    basis_band_bps: float
    min_margin_ratio: float
    max_failures: int
    unhedged_since: float | None = field(default=None, init=False)

    def observe(
        self,
        now: float,
        net: Decimal,
        limit_net: Decimal,
        basis_bps: float | None,
        margin_ratio: float | None,
        failures: int,
    ) -> list[HedgeBreach]:
        """The breaches holding at ``now`` (module docstring)."""
        out: list[HedgeBreach] = []
        if failures >= self.max_failures:
            out.append(HedgeBreach("failure", f"{failures} hedge failures in a row (max_failures {self.max_failures})"))
        worst = max(abs(net), abs(limit_net))
        if worst > self.max_unhedged:
            if self.unhedged_since is None:
                self.unhedged_since = now
            held = now - self.unhedged_since
            if held >= self.unhedged_seconds:
                out.append(HedgeBreach("unhedged", f"net exposure {exact(worst)} beyond max_unhedged "
                                       f"{exact(self.max_unhedged)} for {held:.1f}s"))
        else:
            self.unhedged_since = None
        if basis_bps is not None and abs(basis_bps) > self.basis_band_bps:
            out.append(HedgeBreach("basis", f"basis {basis_bps:.2f} bps beyond {self.basis_band_bps:g} bps"))
        if margin_ratio is not None and margin_ratio < self.min_margin_ratio:
            out.append(HedgeBreach("margin", f"margin ratio {margin_ratio:.4f} below {self.min_margin_ratio:g}"))
        return out


def worst_case_hedge(position: Decimal, in_flight: Decimal, order: HedgeOrder) -> Decimal:
    """The largest ``|position|`` reachable once ``order`` is sent (module docstring)."""
    signed = order.amount if order.side == "buy" else -order.amount
    return max(abs(position + signed), abs(position + in_flight + signed))
