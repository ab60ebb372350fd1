"""Numbers as an operator reads them: prices at the tick's precision, sizes at the lot's, money without
float noise (pure).

- :func:`decimals` of a step: the digits after the point that the step needs (0.01 -> 2, 0.00001 -> 5,
  0.5 -> 1, 1 -> 0), from its shortest decimal form.
- :func:`at_step`: ``x`` rounded to those digits (a price at the tick's, a size at the lot's); with
  ``extra`` digits more for model values that live between ticks (a reservation price).
- :func:`money`: quote-currency amounts to ``MONEY_DIGITS`` decimals (a hundredth of a cent of USDT):
  ``29.960010000003`` reads ``29.96``, ``0.00012999`` reads ``0.0001``, ``-0.0`` reads ``0.0`` (JSON prints
  a float below 1e-4 in exponent form, so finer digits would not read better).
- :func:`bps`: a rate in basis points to 2 decimals.
None passes through every function unchanged.
"""

from __future__ import annotations

from decimal import Decimal
from typing import overload

MONEY_DIGITS = 4
SIZE_DIGITS = 8  # sizes without a known lot: the satoshi


def decimals(step: float) -> int:
    """Digits after the decimal point of ``step``'s shortest decimal form (0 for a whole step)."""
    if step <= 0:
        return SIZE_DIGITS
    exponent = Decimal(repr(float(step))).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else SIZE_DIGITS


@overload
def at_step(x: float, step: float, extra: int = 0) -> float: ...
@overload
def at_step(x: None, step: float, extra: int = 0) -> None: ...
@overload
def at_step(x: float | None, step: float, extra: int = 0) -> float | None: ...
def at_step(x: float | None, step: float, extra: int = 0) -> float | None:
    """``x`` rounded to ``decimals(step) + extra`` digits (a step of 0 keeps :data:`SIZE_DIGITS`)."""
    if x is None:
        return None
    return round(float(x), decimals(step) + extra) + 0.0


@overload
def money(x: float) -> float: ...
@overload
def money(x: None) -> None: ...
@overload
def money(x: float | None) -> float | None: ...
def money(x: float | None) -> float | None:
    """A quote-currency amount to :data:`MONEY_DIGITS` decimals."""
    if x is None:
        return None
    return round(float(x), MONEY_DIGITS) + 0.0


@overload
def bps(rate: float) -> float: ...
@overload
def bps(rate: None) -> None: ...
@overload
def bps(rate: float | None) -> float | None: ...
def bps(rate: float | None) -> float | None:
    """A rate (0.001) in basis points (10.0), to 2 decimals."""
    if rate is None:
        return None
    return round(float(rate) * 10_000.0, 2) + 0.0
