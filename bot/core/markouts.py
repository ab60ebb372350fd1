"""Markouts: how the mid moved after each of our fills, signed against us (pure).

For a fill at time ``t`` of signed amount ``sign * a`` (buy +1, sell -1) whose reference mid is ``mid_fill``,
its markout at horizon ``h`` is the adverse selection::

    -sign * a * (mid(t + h) - mid_fill)        (quote currency; positive = the market moved against the fill)

with ``mid(t + h)`` the first mid observed at or after ``t + h`` (the mid feed's next observation, not an
interpolation). :class:`Markouts` is fed ``fill(t, sign, amount, mid, price)`` and ``mid(t, mid)`` on one clock
(the caller says which: the live service's monotonic clock, the recording's timestamps in a backtest), both in
non-decreasing time order. A fill is counted at a horizon only once that horizon has elapsed (``t + h`` reached
by an observed mid); fills still pending are not counted anywhere. Per horizon it keeps the sum, the count and
the resolved fills' notional (``a * price``) and how late the mids used came (``lags``: the sum of
``t_mid - (t + h)``, so a sparse mid feed shows), so the mean markout in bps of the filled notional is
``sum / notional * 1e4``.

Memory is the pending fills only (one deque per horizon, whose heads are due first); a mid observed before the
earliest due time costs one comparison (``t < next_due``), which a hot caller can make inline.
"""

from __future__ import annotations

import math
from collections import deque

from bot.core.display import bps, money

#: the horizons (s) the live service, the backtest and the report use
HORIZONS: tuple[float, ...] = (1.0, 10.0, 60.0)


def label(horizon: float) -> str:
    """A horizon's name in fields and metrics: 1.0 -> '1s', 0.5 -> '0.5s'."""
    return f"{horizon:g}s"


class Markouts:
    """Markouts of fills at fixed horizons (see the module docstring)."""

    __slots__ = ("_first", "_pending", "_queues", "counts", "horizons", "lags", "next_due", "notional", "sums")

    def __init__(self, horizons: tuple[float, ...] = HORIZONS) -> None:
        if not horizons or any(not (h >= 0.0 and math.isfinite(h)) for h in horizons):
            raise ValueError(f"markout horizons must be finite and >= 0, got {horizons}")
        self.horizons = horizons
        self.sums = [0.0] * len(horizons)
        self.counts = [0] * len(horizons)
        self.notional = [0.0] * len(horizons)
        self.lags = [0.0] * len(horizons)  # sum over resolved fills of (time of the mid used - (t + h))
        self.next_due = math.inf  # the earliest time at which a pending fill resolves
        self._first = min(horizons)
        # per horizon: (fill time, signed amount, mid at the fill, notional), in time order (due = time + horizon)
        self._pending: list[deque[tuple[float, float, float, float]]] = [deque() for _ in horizons]
        self._queues = list(zip(horizons, self._pending, strict=True))

    @property
    def pending(self) -> int:
        """Fills not yet resolved at the longest horizon."""
        return max(len(d) for d in self._pending)

    def fill(self, t: float, sign: int, amount: float, mid: float, price: float) -> None:
        """A fill at ``t`` (``sign`` +1 buy, -1 sell) whose reference mid is ``mid``."""
        entry = (t, sign * amount, mid, amount * price)  # one tuple, queued at every horizon
        for pending in self._pending:
            pending.append(entry)
        due = t + self._first
        if due < self.next_due:  # fed in time order: an earlier pending fill is due no later than this one
            self.next_due = due

    def mid(self, t: float, mid: float) -> None:
        """A mid observed at ``t``: resolves every pending fill due at or before ``t`` with it."""
        if t < self.next_due:
            return
        sums, counts, notional, lags = self.sums, self.counts, self.notional, self.lags
        due = math.inf
        for k, (h, pending) in enumerate(self._queues):
            while pending:
                t_fill, signed, mid_fill, value = pending[0]
                if t_fill + h > t:
                    if t_fill + h < due:
                        due = t_fill + h
                    break
                pending.popleft()
                sums[k] -= signed * (mid - mid_fill)
                counts[k] += 1
                notional[k] += value
                lags[k] += t - (t_fill + h)
        self.next_due = due

    def rate(self, k: int) -> float | None:
        """Horizon ``k``'s markouts as a share of the resolved fills' notional (None before any)."""
        value = self.notional[k]
        return self.sums[k] / value if value > 0.0 else None

    def table(self) -> dict[str, dict[str, float | int | None]]:
        """Per horizon label (``"1s"``): ``markout`` (:func:`money`), ``count``, ``notional`` (:func:`money`) and
        ``bps`` (:func:`bps`, None before any), as an operator reads them."""
        return {label(h): {"markout": money(self.sums[k]), "count": self.counts[k],
                           "notional": money(self.notional[k]), "bps": bps(self.rate(k))}
                for k, h in enumerate(self.horizons)}

    def fields(self) -> dict[str, float | int | None]:
        """Per horizon, as an operator reads them: ``markout_<h>`` (quote currency, :func:`money`),
        ``markout_<h>_count`` (fills resolved) and ``markout_<h>_bps`` (:func:`bps` of :meth:`rate`)."""
        out: dict[str, float | int | None] = {}
        for k, h in enumerate(self.horizons):
            name = "markout_" + label(h)
            out[name] = money(self.sums[k])
            out[name + "_count"] = self.counts[k]
            out[name + "_bps"] = bps(self.rate(k))
        return out
