"""Snapping prices and sizes to a venue's grid, robust to binary floating point.

The grid count of ``x`` is taken from ``y = x / step`` rounded to 9 decimals, so that, e.g.,
99.50 / 0.01 = 9949.999... counts as 9950 steps: ``steps_down = floor(round(y, 9))`` and
``steps_up = ceil(round(y, 9))``. Results are rounded to :func:`grid_digits` decimals (3 below the
step) so that 9950 * 0.01 prints 99.5.

Speed (these run several times per quote): ``round(y, 9)`` goes through a decimal conversion, so it
is only called when it can matter. With ``k`` the integer nearest ``y`` and ``e = y - k`` (exact):
if ``|e| < 4e-10`` the 9-decimal rounding of ``y`` is ``k`` itself; if ``|e| > 6e-10`` it is a
different 9-decimal on the same side of ``k`` (and strictly between ``k - 1`` and ``k + 1``), whose
nearest double is no farther from it than ``y`` is, so floor/ceil of it equal floor/ceil of ``y``;
only in between is ``round(y, 9)`` evaluated. The results are identical to the plain formulas.
"""

from __future__ import annotations

import math
from math import floor

_DIGITS: dict[float, int] = {}  # grid_digits memo: a process sees a handful of distinct steps
_GRID: dict[float, dict[int, float]] = {}  # on_grid memo per step (quotes revisit the same prices)
_FLOORED: dict[float, dict[float, float]] = {}  # floor_to memo per step
_MEMO_MAX = 4096  # per step: ~0.4 MiB at most (a long-running bot sees the price wander)


def grid_digits(step: float) -> int:
    """Decimals kept by :func:`on_grid`: 3 below the step's leading digit (at least 3)."""
    digits = _DIGITS.get(step)
    if digits is None:
        if len(_DIGITS) >= 1024:
            _DIGITS.clear()
        digits = _DIGITS[step] = max(0, -math.floor(math.log10(step))) + 3
    return digits


def steps_down(x: float, step: float) -> int:
    """Largest n with n*step <= x (up to float noise): ``floor(round(x / step, 9))``."""
    y = x / step
    k = round(y)  # the nearest grid count; e = y - k is exact (see the module docstring)
    e = y - k
    if -4e-10 < e < 4e-10:
        return k
    if e > 6e-10 or e < -6e-10:
        return floor(y)
    return floor(round(y, 9))


def steps_up(x: float, step: float) -> int:
    """Smallest n with n*step >= x (up to float noise): ``ceil(round(x / step, 9))``, which is
    ``-steps_down(-x, step)`` exactly (negation is exact, ``round`` is symmetric, ``ceil(z) = -floor(-z)``)."""
    return -steps_down(-x, step)


def on_grid(n: int, step: float) -> float:
    """n*step without trailing float noise: ``round(n * step, grid_digits(step))``."""
    grid = _GRID.get(step)
    if grid is None:
        if len(_GRID) >= 64:
            _GRID.clear()
        grid = _GRID[step] = {}
    price = grid.get(n)
    if price is None:
        if len(grid) >= _MEMO_MAX:
            grid.clear()
        price = grid[n] = round(n * step, grid_digits(step))
    return price


def floor_to(x: float, step: float) -> float:
    """x rounded down to a multiple of step: ``on_grid(steps_down(x, step), step)``, memoised per step
    (sizes are snapped to the lot on every quote and mostly take a handful of values)."""
    floored = _FLOORED.get(step)
    if floored is None:
        if len(_FLOORED) >= 64:
            _FLOORED.clear()
        floored = _FLOORED[step] = {}
    value = floored.get(x)
    if value is None:
        if len(floored) >= _MEMO_MAX:
            floored.clear()
        value = floored[x] = on_grid(steps_down(x, step), step)
    return value


def ceil_to(x: float, step: float) -> float:
    """x rounded up to a multiple of step."""
    return on_grid(steps_up(x, step), step)
