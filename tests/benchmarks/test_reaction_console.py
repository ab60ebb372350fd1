"""The console variant of the reaction benchmark: its blocks and how each sample is assigned to one (no timing
assertions)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.reaction import NONE, PAGES, by_label, plan

CLOCK = time.get_clock_info("perf_counter").implementation


@given(st.integers(1, 5), st.integers(1, 50))
def test_blocks_alternate_none_pages_pages_none_with_equal_rounds(quads: int, per_block: int) -> None:
    blocks = plan(4 * quads * per_block, 4 * quads)
    assert [label for label, _ in blocks] == [NONE, PAGES, PAGES, NONE] * quads
    assert {n for _, n in blocks} == {per_block}


def test_without_blocks_one_block_without_pages() -> None:
    assert plan(1000, 0) == [(NONE, 1000)]


@pytest.mark.skipif("CLOCK_MONOTONIC" not in CLOCK, reason="the bot's stamps compare with the sim's only on Linux")
def test_each_sample_counts_for_the_block_it_happened_in() -> None:
    spans = [(NONE, 0, 100), (PAGES, 200, 300), (PAGES, 300, 400), (NONE, 500, 600)]
    blocks = [0, 1, 2, 2, 3]  # each w2w sample's block
    w2w = [1_000_000, 2_000_000, 4_000_000, 6_000_000, 3_000_000]  # ns
    bot = {"clock": CLOCK, "internal_ns": [10_000, 20_000, 30_000, 40_000, 50_000],
           "book_abs_ns": [50, 250, 350, 450, 550]}  # 450: between blocks (switching), in neither
    out = by_label(blocks, spans, w2w, bot)
    assert out[NONE]["wire_to_wire_ms"]["n"] == 2 and out[NONE]["wire_to_wire_ms"]["p50"] == pytest.approx(2.0)
    assert out[PAGES]["wire_to_wire_ms"]["n"] == 3 and out[PAGES]["wire_to_wire_ms"]["p50"] == pytest.approx(4.0)
    assert out[NONE]["bot_internal_us"]["n"] == 2 and out[NONE]["bot_internal_us"]["p50"] == pytest.approx(30.0)
    assert out[PAGES]["bot_internal_us"]["n"] == 2 and out[PAGES]["bot_internal_us"]["p50"] == pytest.approx(25.0)
    assert out[NONE]["blocks"] == 2 and out[PAGES]["blocks"] == 2
    assert [p50 for p50, _ in out[PAGES]["block_w2w_ms"]] == pytest.approx([2.0, 5.0])


def test_bot_internal_is_not_split_across_clocks_that_do_not_compare() -> None:
    out = by_label([0], [(NONE, 0, 10)], [1000], {"clock": "other", "internal_ns": [5], "book_abs_ns": [5]})
    assert out[NONE]["bot_internal_us"] is None and out[NONE]["wire_to_wire_ms"]["n"] == 1
