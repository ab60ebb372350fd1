"""The risk gate's state: the process-wide :class:`KillSwitch` and each symbol's pauses (:class:`RiskGate`).

What they do to the quotes is the decision layer's rule (:func:`bot.core.strategy.decide` withdraws both sides
while the kill is tripped or any pause holds); which pauses hold is :func:`bot.core.strategy.pauses`, applied
by the quoter. Pauses clear themselves (``resume``), but the operator's (:data:`MANUAL`: ``POST /pause``), which
only ``POST /resume`` clears (it lasts this process only: a restart quotes again), and the hedge leg's
(:data:`HEDGE`), which the service clears when the breach ends; a kill does not clear.
:mod:`bot.live.guard` trips the kill switch from the triggers in :mod:`bot.risk.triggers` and counts pauses
towards escalation (``on_pause``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

MANUAL = "manual"  #: the operator's pause (``POST /pause``): only :meth:`RiskGate.release` clears it
#: the hedge leg's pause of its spot symbol (a hedge risk breach with action "pause": the service sets and clears it)
HEDGE = "hedge"
#: pauses set and cleared from outside the quoter (its watchdog never clears them)
EXTERNAL = frozenset({MANUAL, HEDGE})


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

    def hold(self, detail: str) -> bool:
        """The operator's pause (:data:`MANUAL`); True if it is new. It is no fault: ``on_pause`` (escalation
        towards the kill) is not told."""
        new = MANUAL not in self.pauses
        self.pauses[MANUAL] = detail
        return new

    def release(self) -> bool:
        """Clear the operator's pause; True if it was set."""
        return self.resume(MANUAL)

    @property
    def held(self) -> bool:
        """True while the operator's pause holds."""
        return MANUAL in self.pauses

    @property
    def open(self) -> bool:
        return not self.kill.tripped and not self.pauses
