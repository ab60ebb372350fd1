"""The risk gate between the quote model and the order reconciler.

Each symbol's :class:`RiskGate` turns a :class:`~bot.core.quote.Quote` into the reconciler's targets.
While the shared :class:`KillSwitch` is tripped, or the symbol has any pause reason (a stale book,
a venue outage), every target is withdrawn, so the reconciler cancels what rests. Pauses clear
themselves (``resume``); a kill does not. This is the seam where the risk-controls work (worst-case
limits, loss limits, latching and persistence of the kill) plugs in: :mod:`bot.live.guard` trips the kill switch
from the triggers in :mod:`bot.risk.triggers` and counts pauses (stale or crossed book, venue outage)
towards escalation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.core.quote import Quote
from bot.core.reconcile import Side, Target


@dataclass
class KillSwitch:
    """Process-wide: once tripped, no symbol quotes again in this process."""

    reason: str | None = None
    on_trip: Callable[[str], None] | None = None  # the service's kill action (journal, log, stop)

    @property
    def tripped(self) -> bool:
        return self.reason is not None

    def trip(self, reason: str) -> bool:
        """Trip with ``reason``; False if it was already tripped (the first reason is kept).

        ``on_trip`` runs synchronously, before any task can act on the tripped state.
        """
        if self.reason is not None:
            return False
        self.reason = reason
        if self.on_trip is not None:
            self.on_trip(reason)
        return True


@dataclass
class RiskGate:
    """Per-symbol gate: pauses by name, plus the shared kill switch."""

    kill: KillSwitch
    pauses: dict[str, str] = field(default_factory=dict)
    on_pause: Callable[[str, str], None] | None = None  # told when a pause begins (escalation)

    def pause(self, key: str, detail: str) -> bool:
        """Add a pause; True if it is new."""
        new = key not in self.pauses
        self.pauses[key] = detail
        if new and self.on_pause is not None:
            self.on_pause(key, detail)
        return new

    def resume(self, key: str) -> bool:
        """Clear a pause; True if it was set."""
        return self.pauses.pop(key, None) is not None

    @property
    def open(self) -> bool:
        return not self.kill.tripped and not self.pauses

    def targets(self, quote: Quote | None) -> dict[Side, Target | None]:
        """What the reconciler should have resting: both sides withdrawn unless the gate is open."""
        if quote is None or not self.open:
            return {"buy": None, "sell": None}
        bid = Target("buy", quote.bid, quote.bid_size) if quote.bid is not None and quote.bid_size > 0 else None
        ask = Target("sell", quote.ask, quote.ask_size) if quote.ask is not None and quote.ask_size > 0 else None
        return {"buy": bid, "sell": ask}
