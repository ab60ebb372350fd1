"""The recording reader's book levels: the column-at-a-time check agrees with the entry-by-entry one."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.research.recording import _levels_by_entry, _valid_levels, event_from_dict, iter_events

_number = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.sampled_from([0, 0.0, -0.0, 1, 1.5, 1e308, True, False]),
)
_value = st.one_of(_number, st.none(), st.text(max_size=2))
_entry = st.one_of(
    st.tuples(_number, _number).map(list),  # the usual pair
    st.lists(_value, max_size=4),  # too short, too long, odd types
    _value,  # not a pair at all
    st.tuples(_number, _number),
)


def _by_entry(raw: list) -> tuple | None:
    try:
        return _levels_by_entry(raw, "bids")
    except ValueError:
        return None


@given(st.lists(_entry, min_size=1, max_size=8))
def test_column_check_accepts_only_what_the_entry_check_accepts_and_reads_it_the_same(raw: list) -> None:
    fast = _valid_levels(raw)
    if fast is not None:
        slow = _by_entry(raw)
        assert slow is not None, raw
        assert fast == slow
        assert all(type(p) is float and type(q) is float for p, q in fast)


@given(st.lists(st.tuples(st.floats(min_value=1e-9, max_value=1e9), st.floats(min_value=0, max_value=1e9)),
                min_size=1, max_size=50))
def test_well_formed_levels_take_the_column_check(pairs: list[tuple[float, float]]) -> None:
    raw = [list(p) for p in pairs]
    assert _valid_levels(raw) == tuple(pairs)


@pytest.mark.parametrize(
    ("bids", "match"),
    [
        ([[1, 1], [True, 1]], "'bids' price must be a finite number, got True"),
        ([[1, 1], [2, -1]], "price must be > 0 and size >= 0"),
        ([[1, 1], [0, 1]], "price must be > 0 and size >= 0"),
        ([[1, 1], 5], "pairs, got 5"),
        ([[1, 1], ["2", 1]], "got '2'"),
        ([[1, 1], [math.inf, 1]], "finite number, got inf"),
        ([[1, 1], [math.nan, 1]], "finite number, got nan"),
        ([[1, 1], [10**400, 1]], "finite number"),  # an int too large for a float
    ],
)
def test_a_bad_level_is_named_once_the_column_check_fails(bids: list, match: str) -> None:
    assert _valid_levels(bids) is None
    with pytest.raises(ValueError, match=re.escape(match)):
        event_from_dict({"type": "book", "ts": 1, "symbol": "X", "snapshot": False, "bids": bids})


def test_a_line_of_good_levels_reads_as_floats() -> None:
    line = '{"type": "book", "ts": 1, "symbol": "X", "bids": [[100, 2], [99.5, 0]], "asks": []}'
    (event,) = iter_events([line])
    assert event.bids == ((100.0, 2.0), (99.5, 0.0)) and event.asks == ()
    assert all(type(x) is float for level in event.bids for x in level)
