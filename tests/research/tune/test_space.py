"""The search space: grids, ranges, the TOML file, flags over the file, one-line errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import UserError
from bot.research.tune.space import MAX_TRIALS, build_space, parse_range, spaced


def test_grid_and_range_make_the_product_in_order():
    space = build_space(["strategy.skew=0,0.5,1"], ["strategy.half_spread=0.01:0.05:5"])
    assert space.axes == {"strategy.skew": [0.0, 0.5, 1.0], "strategy.half_spread": [0.01, 0.02, 0.03, 0.04, 0.05]}
    trials = space.trials()
    assert len(trials) == space.size == 15
    assert trials[0] == {"strategy.skew": 0.0, "strategy.half_spread": 0.01}
    assert trials[1] == {"strategy.skew": 0.0, "strategy.half_spread": 0.02}  # the last axis varies fastest


def test_values_take_the_settings_types():
    space = build_space(["strategy.model=linear,glft", "execution.post_only=true,false",
                         "risk.max_notional=none,1000"], ["execution.requote_ticks=0:3:7"])
    assert space.axes["strategy.model"] == ["linear", "glft"]
    assert space.axes["execution.post_only"] == [True, False]
    assert space.axes["risk.max_notional"] == [None, 1000.0]
    ticks = space.axes["execution.requote_ticks"]
    assert ticks == [0, 1, 2, 3] and all(type(v) is int for v in ticks)  # ints stay ints, repeats dropped


def test_a_range_has_no_float_noise():
    _, values = parse_range("strategy.skew=0:0.3:4")
    assert values == [0.0, 0.1, 0.2, 0.3]


def test_the_file_and_the_flags(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text('[space]\n"strategy.skew" = [0, 1, 2]\n"strategy.half_spread" = {lo = 0.01, hi = 0.03, n = 3}\n'
                    '[objective]\nkind = "risk"\nrisk_lambda = 2.0\n[constraints]\nmin_fills = 5\n')
    space = build_space(["strategy.skew=4,5"], [], path)
    assert space.axes == {"strategy.skew": [4.0, 5.0], "strategy.half_spread": [0.01, 0.02, 0.03]}
    assert space.options == {"kind": "risk", "risk_lambda": 2.0, "min_fills": 5}


@pytest.mark.parametrize(("grids", "ranges", "said"), [
    (["strategy.skw=1,2"], [], "strategy.skw: no such setting"),
    (["skew=1"], [], "not a setting to tune"),
    (["strategy.skew"], [], "expected KEY=V1,V2"),
    (["strategy.skew=a,b"], [], "'a' is not a number"),
    (["execution.requote_ticks=1.5"], [], "not a whole number"),
    (["execution.post_only=yes"], [], "not true or false"),
    (["strategy.skew=1"], ["strategy.skew=0:1:3"], "given twice"),
    ([], ["strategy.skew=0:1"], "expected KEY=LO:HI:N"),
    ([], ["strategy.skew=0:1:0"], "whole number >= 1"),
    ([], ["strategy.model=0:1:3"], "needs a numeric setting"),
    ([], ["strategy.skew=0:1:1000", "strategy.gamma=0.1:1:1000"], f"more than {MAX_TRIALS}"),
])
def test_bad_input_is_one_line(grids, ranges, said):
    with pytest.raises(UserError) as err:
        build_space(grids, ranges)
    assert len(err.value.lines) == 1 and said in err.value.lines[0]


@pytest.mark.parametrize(("text", "said"), [
    ('[space]\n"strategy.skew" = []\n', "empty list"),
    ('[space]\n"strategy.skew" = {lo = 0, hi = 1}\n', "expected a list of values"),
    ('[space]\n"strategy.skew" = ["x"]\n', "not a number"),
    ('[objective]\nkind = "pnl"\nlambda = 1\n', "[objective] lambda: unknown key"),
    ('[spaces]\n', "[spaces]: unknown table"),
    ('[space\n', "invalid TOML"),
])
def test_a_bad_file_is_one_line(tmp_path, text, said):
    path = tmp_path / "space.toml"
    path.write_text(text)
    with pytest.raises(UserError) as err:
        build_space([], [], path)
    assert len(err.value.lines) == 1 and said in err.value.lines[0]


@given(st.floats(0, 100), st.floats(0, 100), st.integers(2, 50))
def test_a_float_range_keeps_its_ends_count_and_order(lo, hi, n):
    values = spaced("strategy.skew", lo, hi, n)
    assert len(values) == n and values[0] == pytest.approx(lo, abs=1e-9) and values[-1] == pytest.approx(hi, abs=1e-9)
    assert values == sorted(values, reverse=hi < lo)


@given(st.integers(0, 1000), st.integers(0, 1000), st.integers(2, 50))
def test_an_int_range_stays_int_without_repeats(lo, hi, n):
    values = spaced("execution.requote_ticks", lo, hi, n)
    assert all(type(v) is int for v in values) and len(set(values)) == len(values)
    assert values[0] == lo and values[-1] == hi and len(values) == min(n, abs(hi - lo) + 1)
