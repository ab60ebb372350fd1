"""The run summary prints decimals so that equal values read the same."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bot.live.summary import plain


def test_plain_drops_trailing_zeros_and_never_uses_exponents() -> None:
    assert plain(Decimal("-0.00128990")) == "-0.0012899"
    assert plain(Decimal("10.000")) == "10"
    assert plain(Decimal("0E-8")) == "0"
    assert plain(Decimal("1E-8")) == "0.00000001"


@given(st.decimals(allow_nan=False, allow_infinity=False, places=8, min_value=-10**6, max_value=10**6))
def test_equal_decimals_print_the_same(x: Decimal) -> None:
    rescaled = x.quantize(Decimal("1E-10"))
    assert plain(x) == plain(rescaled)
    assert Decimal(plain(x)) == x
