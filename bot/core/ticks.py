"""Snapping prices and sizes to a venue's grid, robust to binary floating point.

``x / step`` is rounded to 9 decimals before floor/ceil so that, e.g., 99.50 / 0.01 = 9949.999...
counts as 9950 steps; results are rounded to a few digits below the step so 9950 * 0.01 prints 99.5.
"""

from __future__ import annotations

import math


def steps_down(x: float, step: float) -> int:
    """Largest n with n*step <= x (up to float noise)."""
    return math.floor(round(x / step, 9))


def steps_up(x: float, step: float) -> int:
    """Smallest n with n*step >= x (up to float noise)."""
    return math.ceil(round(x / step, 9))


def on_grid(n: int, step: float) -> float:
    """n*step without trailing float noise."""
    return round(n * step, max(0, -math.floor(math.log10(step))) + 3)


def floor_to(x: float, step: float) -> float:
    """x rounded down to a multiple of step."""
    return on_grid(steps_down(x, step), step)


def ceil_to(x: float, step: float) -> float:
    """x rounded up to a multiple of step."""
    return on_grid(steps_up(x, step), step)
