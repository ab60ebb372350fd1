"""Grid snapping: the fast paths of steps_down/steps_up/on_grid equal the plain formulas they stand for."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from bot.core.ticks import ceil_to, floor_to, grid_digits, on_grid, steps_down, steps_up

STEPS = st.sampled_from([1e-8, 1e-6, 1e-5, 0.0001, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0])
# offsets around a grid point in units of the step, dense near the 9-decimal rounding boundary (5e-10)
OFFSETS = st.one_of(
    st.just(0.0),
    st.floats(-1e-8, 1e-8),
    st.floats(3e-10, 7e-10),
    st.floats(-7e-10, -3e-10),
    st.floats(-0.5, 0.5),
)


def plain_down(x: float, step: float) -> int:
    return math.floor(round(x / step, 9))


def plain_up(x: float, step: float) -> int:
    return math.ceil(round(x / step, 9))


@given(st.integers(-(10**8), 10**9), OFFSETS, STEPS)
def test_steps_equal_floor_and_ceil_of_the_9_decimal_rounding(n: int, offset: float, step: float) -> None:
    for x in (n * step + offset * step, (n + offset) * step, round(n * step, 8)):
        assert steps_down(x, step) == plain_down(x, step)
        assert steps_up(x, step) == plain_up(x, step)


@given(st.floats(-1e7, 1e7, allow_nan=False), STEPS)
def test_steps_on_arbitrary_values(x: float, step: float) -> None:
    assert steps_down(x, step) == plain_down(x, step)
    assert steps_up(x, step) == plain_up(x, step)


@given(st.integers(-(10**9), 10**9), STEPS)
def test_on_grid_is_the_rounded_product(n: int, step: float) -> None:
    expected = round(n * step, max(0, -math.floor(math.log10(step))) + 3)
    assert on_grid(n, step) == expected
    assert on_grid(n, step) == expected  # memoised answer too


def test_examples() -> None:
    assert steps_down(99.50, 0.01) == 9950 and steps_up(99.50, 0.01) == 9950  # 9949.999... counts as 9950
    assert floor_to(0.0029999, 0.001) == 0.002 and ceil_to(0.0020001, 0.001) == 0.003
    assert on_grid(9950, 0.01) == 99.5 and repr(on_grid(3, 0.1)) == "0.3"
    assert grid_digits(0.01) == 5 and grid_digits(1.0) == 3 and grid_digits(10.0) == 3
