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
- :func:`plain`: a number without a unit step (a count of seconds, a model estimate) to ``PLAIN_DIGITS``
  significant digits: the binary noise of float arithmetic goes, the value's own digits stay.
- :func:`plain_text`: :func:`plain` as text in fixed-point notation (``0.00001``, not ``1e-05``), for
  messages.
- :func:`exact`: an exact decimal (a balance, a drift) as plain text: ``-0.00000012``, not ``-1.2E-7``;
  ``0.002``, not ``0.00200000``.
- :class:`Steps`: one symbol's tick and lot, so a caller that shows many numbers carries both at once.
- :func:`money_text`: :func:`money` as text with its 4 decimals (``12.3400``).
- :func:`fixed`: text at a step's digits, trailing zeros kept (``30000.70``): for printed tables, where a
  float's shortest form would drop them or go to exponent form (``1e-05``).
- :func:`position_text`: a position as text at the lot's digits, more (to the satoshi) where a base-currency
  fee left dust below the lot.
None passes through every function unchanged (:func:`fixed` shows it as ``-``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import overload

MONEY_DIGITS = 4
SIZE_DIGITS = 8  # sizes without a known lot: the satoshi
PLAIN_DIGITS = 10  # significant digits of a number without a step (float noise starts at the 16th)


@lru_cache(maxsize=256)  # a process shows a few steps: each symbol's tick and lot
def decimals(step: float) -> int:
    """Digits after the decimal point of ``step``'s shortest decimal form (0 for a whole step), read to
    :data:`PLAIN_DIGITS` significant digits: a step computed in floats (``3 * 0.00001``) counts 5, not 20."""
    if step <= 0:
        return SIZE_DIGITS
    exponent = Decimal(repr(plain(step))).normalize().as_tuple().exponent
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


@overload
def plain(x: float) -> float: ...
@overload
def plain(x: None) -> None: ...
@overload
def plain(x: float | None) -> float | None: ...
def plain(x: float | None) -> float | None:
    """``x`` to :data:`PLAIN_DIGITS` significant digits (``0.30000000000000004`` reads ``0.3``)."""
    if x is None:
        return None
    return float(f"{float(x):.{PLAIN_DIGITS}g}") + 0.0


def exact(x: Decimal) -> str:
    """``x`` in fixed-point notation without trailing zeros (its every digit kept)."""
    text = format(x.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def plain_text(x: float) -> str:
    """``x`` to :data:`PLAIN_DIGITS` significant digits as fixed-point text without trailing zeros."""
    return exact(Decimal(repr(plain(x))))


def money_text(x: float | None) -> str:
    """A quote-currency amount as text with exactly :data:`MONEY_DIGITS` decimals; ``-`` for None."""
    return "-" if x is None else f"{money(x):.{MONEY_DIGITS}f}"


def fixed(x: float | None, step: float, extra: int = 0) -> str:
    """``x`` as text with exactly ``decimals(step) + extra`` digits after the point; ``-`` for None."""
    if x is None:
        return "-"
    return f"{at_step(x, step, extra):.{decimals(step) + extra}f}"


def position_text(q: float, lot: float) -> str:
    """``q`` as text at ``lot``'s digits, or at its own up to :data:`SIZE_DIGITS` where it holds dust below the lot
    (``-0.00135`` at a lot of 0.00001, ``0.000999`` at 0.00001, ``0.00000`` for a flat book)."""
    digits = min(max(decimals(lot) if lot > 0 else 0, decimals(abs(q)) if q else 0), SIZE_DIGITS)
    return fixed(q, 10.0**-digits)


@dataclass(frozen=True, slots=True)
class Steps:
    """One symbol's display steps: prices at ``tick``, sizes at ``lot`` (a step of 0, not known or not
    stepped, shows :data:`SIZE_DIGITS` digits)."""

    tick: float = 0.0
    lot: float = 0.0

    def price(self, x: float | None, extra: int = 0) -> float | None:
        """A price at the tick (``extra`` digits finer for a model value between ticks)."""
        return at_step(x, self.tick, extra)

    def size(self, x: float | None) -> float | None:
        """An order's or a fill's size at the lot."""
        return at_step(x, self.lot)

    def position(self, x: float | None) -> float | None:
        """A position at the lot's digits, or the satoshi's where finer: a fee paid in the base currency leaves
        dust below the lot that the position really holds."""
        return None if x is None else round(float(x), max(decimals(self.lot), SIZE_DIGITS)) + 0.0
