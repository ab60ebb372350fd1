"""bot.core.display: prices at the tick, sizes at the lot, money to 4 decimals, no float noise."""

from __future__ import annotations

import json
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bot.core.display import (
    MONEY_DIGITS,
    SIZE_DIGITS,
    Steps,
    at_step,
    decimals,
    exact,
    fixed,
    money,
    money_text,
    plain,
    plain_text,
    position_text,
)

STEPS = st.sampled_from([1.0, 0.5, 0.1, 0.01, 0.001, 0.0001, 0.00001, 1e-6, 1e-8, 0.25, 5.0])


def digits_of(x: float) -> int:
    """Digits after the point of ``x``'s shortest form (what JSON and repr print)."""
    exponent = Decimal(repr(x)).normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def test_the_issue_examples() -> None:
    assert money(29999.960010000003) == 29999.96
    assert money(3.9960000000872244e-05) == 0.0
    assert at_step(29999.960010000003, 0.01) == 29999.96
    assert json.dumps(at_step(30000.72, 0.01)) == "30000.72"
    assert json.dumps(at_step(0.00123, 0.00001)) == "0.00123"
    assert plain(0.1 + 0.2) == 0.3


def test_decimals_of_steps() -> None:
    assert [decimals(s) for s in (0.01, 0.00001, 0.5, 1.0, 10.0, 0.25)] == [2, 5, 1, 0, 0, 2]
    assert decimals(0.0) == SIZE_DIGITS
    assert decimals(3 * 0.00001) == 5 and decimals(0.1 * 3) == 1  # 3.0000000000000004e-05, 0.30000000000000004


@given(k=st.integers(-10**9, 10**9), step=STEPS)
def test_a_price_on_the_grid_survives_exactly(k: int, step: float) -> None:
    """k ticks computed in float (noise and all) reads exactly as the decimal k * tick."""
    exact = Decimal(k) * Decimal(repr(step))
    shown = at_step(k * step, step)
    assert shown == float(exact)
    assert digits_of(shown) <= decimals(step)


@given(x=st.floats(-1e9, 1e9, allow_nan=False), step=STEPS, extra=st.integers(0, 2))
def test_at_step_digits_bound_and_idempotent(x: float, step: float, extra: int) -> None:
    shown = at_step(x, step, extra)
    d = decimals(step) + extra
    assert digits_of(shown) <= d
    assert abs(shown - x) <= 0.5 * 10.0**-d + abs(x) * 1e-15
    assert at_step(shown, step, extra) == shown


@given(cents=st.integers(-10**11, 10**11), noise=st.floats(-1e-7, 1e-7))
def test_money_drops_noise_below_its_digits(cents: int, noise: float) -> None:
    """A hundredth-of-a-cent amount with noise far below it reads as that amount."""
    amount = cents / 10**MONEY_DIGITS
    assert money(amount + amount * 1e-15 + noise * 1e-3) == amount
    assert digits_of(money(amount + noise)) <= MONEY_DIGITS


@given(a=st.integers(-10**6, 10**6), b=st.integers(-10**6, 10**6))
def test_plain_reads_a_sum_of_decimals_as_written(a: int, b: int) -> None:
    assert plain(a / 100 + b / 1000) == float(Decimal(a) / 100 + Decimal(b) / 1000)


def test_none_passes_through() -> None:
    steps = Steps(0.01, 0.001)
    assert at_step(None, 0.01) is None and money(None) is None and plain(None) is None
    assert steps.price(None) is None and steps.size(None) is None
    assert fixed(None, 0.01) == "-"


def test_fixed_keeps_the_steps_digits() -> None:
    assert fixed(30000.7, 0.01) == "30000.70"
    assert fixed(30000.72, 0.01) == "30000.72"
    assert fixed(0.00001, 0.00001) == "0.00001"  # not 1e-05
    assert fixed(29999.960010000003, 0.01, 2) == "29999.9600"
    assert fixed(-0.0, 0.01) == "0.00"


def test_steps_price_and_size() -> None:
    steps = Steps(tick=0.01, lot=0.00001)
    assert steps.price(30000.724999) == 30000.72
    assert steps.price(30000.724999, extra=2) == 30000.725
    assert steps.size(0.0012300000000000002) == 0.00123
    assert Steps().size(0.123456789123) == 0.12345679  # no lot known: the satoshi


def test_exact_decimals_read_without_exponent_or_padding() -> None:
    assert exact(Decimal("-0.00000012")) == "-0.00000012"  # str() gives -1.2E-7
    assert exact(Decimal("0.00200000")) == "0.002"
    assert exact(Decimal("100")) == "100"  # normalize() alone gives 1E+2
    assert exact(Decimal("-0E-8")) == "0"


@given(units=st.integers(-10**12, 10**12), places=st.integers(0, 12))
def test_exact_keeps_every_digit(units: int, places: int) -> None:
    x = Decimal(units).scaleb(-places)
    assert Decimal(exact(x)) == x
    assert "E" not in exact(x)


def test_plain_text_reads_without_exponent_or_noise() -> None:
    assert plain_text(0.00001) == "0.00001"  # f"{x:g}" and str() give 1e-05
    assert plain_text(0.1 + 0.2) == "0.3"
    assert plain_text(30000.72) == "30000.72"  # f"{x:g}" gives 30000.7
    assert plain_text(-2.0) == "-2"


def test_a_position_keeps_the_dust_a_base_fee_leaves() -> None:
    steps = Steps(tick=0.01, lot=0.00001)
    assert steps.position(0.00123 - 0.00000123) == 0.00122877  # at the lot it would read 0.00123
    assert steps.position(0.1 + 0.2) == 0.3 and steps.position(None) is None
    assert Steps(tick=0.0001, lot=1.0).position(100.0 + 1e-12) == 100.0


def test_money_text_has_its_four_decimals() -> None:
    assert money_text(29999.960010000003) == "29999.9600"
    assert money_text(-0.00001) == "0.0000" and money_text(None) == "-"


@given(lots=st.integers(-10**6, 10**6), dust=st.integers(0, 9))
def test_a_position_reads_at_the_lot_whatever_its_sign(lots: int, dust: int) -> None:
    """Whole lots of 0.00001 read with 5 decimals, long or short; a base fee's dust (satoshis) adds digits."""
    q = lots * 0.00001
    assert position_text(q, 0.00001) == f"{q:.5f}"
    if dust and lots:
        with_dust = round(q + (dust if lots > 0 else -dust) * 1e-8, 8)
        assert position_text(with_dust, 0.00001) == f"{with_dust:.8f}"
