"""The recording's event classes (bot/research/events.py), compiled by mypyc where a compiler exists."""

from __future__ import annotations

import copy
import pickle

import pytest

from bot.research.events import BookEvent, Event, TradeEvent


@pytest.mark.parametrize("event", [
    BookEvent(1.5, "BTC/USDT", ((100.0, 1.0),), ((101.0, 2.0),), False),
    BookEvent(2.0, "BTC/USDT", (), ()),
    TradeEvent(2.5, "BTC/USDT", 100.5, 0.25, "sell", "7"),
    TradeEvent(3.0, "ETH/USDT", 10.0, 1.0),
])
def test_events_pickle_and_copy_on_either_build(event: Event) -> None:
    """For multiprocessing and copies: a compiled class cannot use the default reduction, hence __reduce__."""
    for twin in (pickle.loads(pickle.dumps(event)), copy.copy(event), copy.deepcopy(event)):
        assert twin == event and type(twin) is type(event)


def test_events_are_frozen_and_an_int_time_reads_as_a_number() -> None:
    event = BookEvent(1, "BTC/USDT", (), ())
    assert event.ts == 1.0 and event.snapshot is True
    with pytest.raises(AttributeError):  # dataclasses.FrozenInstanceError
        event.ts = 2.0  # type: ignore[misc]
