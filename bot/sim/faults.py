"""Injected faults: which request, message or socket to break, drawn from a seeded RNG.

The settings can be replaced at run time (admin endpoint); ``gap_next`` and ``drop_now`` are
one-shot requests that the server consumes.
"""

from __future__ import annotations

import math
import random

from bot.sim.settings import FaultSettings


class Faults:
    def __init__(self, settings: FaultSettings, seed: int) -> None:
        self.settings = settings
        self._rng = random.Random(seed ^ 0x5EED)
        self.gap_next = 0
        self.drop_now = False

    def update(self, **changes: object) -> FaultSettings:
        """Apply partial changes (validated by the settings' own class); returns the new settings."""
        self.settings = type(self.settings).model_validate(self.settings.model_dump() | changes)
        return self.settings

    def http_status(self) -> int | None:
        """An injected HTTP failure status for this request, or None."""
        s = self.settings
        if not (s.http_429_fraction or s.http_418_fraction or s.http_5xx_fraction):
            return None
        u = self._rng.random()
        if u < s.http_429_fraction:
            return 429
        u -= s.http_429_fraction
        if u < s.http_418_fraction:
            return 418
        u -= s.http_418_fraction
        if u < s.http_5xx_fraction:
            return 503
        return None

    def reject_order(self) -> bool:
        return self.settings.reject_fraction > 0 and self._rng.random() < self.settings.reject_fraction

    def unknown_fate(self) -> bool:
        """Answer this (already executed) order request with 503 -1007?"""
        p = self.settings.unknown_fate_fraction
        return p > 0 and self._rng.random() < p

    def gap(self) -> bool:
        """Skip this depth diff?"""
        if self.gap_next > 0:
            self.gap_next -= 1
            return True
        p = self.settings.gap_probability
        return p > 0 and self._rng.random() < p

    def drop(self, dt: float) -> bool:
        """Drop all sockets during this interval of ``dt`` seconds?"""
        if self.drop_now:
            self.drop_now = False
            return True
        rate = self.settings.drop_sockets_rate
        return rate > 0 and self._rng.random() < 1.0 - math.exp(-rate * dt)
