"""bench/seeds.py: the summary events read generically, the statistics, the seed list and the table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.seeds import SeedRun, collect, read_summaries, seed_list, stats, table

SUMMARY = {
    "event": "summary", "symbol": "SOL/USDT", "base": "SOL", "quote": "USDT", "fills": 7, "volume_base": 5.2,
    "q": 0.767, "max_abs_q": 1.0, "mid": 99.96, "realized_pnl": 0.2163, "fees": 0.0, "total_pnl": 0.1933,
    "orders_placed": 29, "open_orders_left": 0, "q_exact": "0.767", "venue_base_delta": "0.767",
    "new_component": -0.5, "markouts": {"1s": {"markout": -0.09, "count": 7, "notional": 523.4, "bps": -1.77},
                                        "60s": {"markout": 0.0, "count": 0, "bps": None}},
    "tick": 0.01, "lot": 0.001, "duration": 16.1, "stop_reason": "duration", "timestamp": "t", "level": "info",
}


def test_summary_columns_are_money_fills_and_max_q_at_any_depth() -> None:
    lines = ["not json", json.dumps({"event": "fill", "symbol": "SOL/USDT"}), json.dumps(SUMMARY)]
    (columns,) = read_summaries(lines).values()
    assert columns == {"fills": 7.0, "max_abs_q": 1.0, "realized_pnl": 0.2163, "fees": 0.0, "total_pnl": 0.1933,
                       "new_component": -0.5, "markouts.1s.markout": -0.09, "markouts.60s.markout": 0.0}


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=20))
def test_stats_bound_the_mean(values: list[float]) -> None:
    s = stats(values)
    assert s["min"] - 1e-6 <= s["mean"] <= s["max"] + 1e-6
    assert s["std"] >= 0 and (len(values) > 1 or s["std"] == 0)


def test_stats_std_is_the_sample_std() -> None:
    assert stats([1.0, 3.0])["std"] == pytest.approx(math.sqrt(2))


@given(st.integers(0, 50), st.integers(0, 20))
def test_seed_list_of_a_range(first: int, extra: int) -> None:
    assert seed_list(f"{first}-{first + extra}") == list(range(first, first + extra + 1))


@pytest.mark.parametrize("bad", ["", "a", "3-1", "1-", "1,,2"])
def test_seed_list_refuses_what_is_not_seeds(bad: str) -> None:
    with pytest.raises(ValueError):
        seed_list(bad)


def test_table_rows_stats_and_failures(tmp_path: Path) -> None:
    (tmp_path / "seed-1.jsonl").write_text(json.dumps(SUMMARY) + "\n", encoding="utf-8")
    (tmp_path / "seed-2.jsonl").write_text(json.dumps(SUMMARY | {"total_pnl": -0.8067}) + "\n", encoding="utf-8")
    (tmp_path / "seed-3.jsonl").write_text("{}\n", encoding="utf-8")
    runs = [collect(1, tmp_path), collect(2, tmp_path), collect(3, tmp_path), collect(4, tmp_path, 1)]
    assert [r.failed for r in runs] == [None, None, "no summary event", "no log seed-4.jsonl"]
    text = table(runs, "abc1234")
    assert text.startswith("Version: `abc1234`; 2 of 4 runs summarised.")
    header = next(line for line in text.splitlines() if line.startswith("| seed"))
    assert header.split(" | ")[1:4] == ["fills", "max_abs_q", "total_pnl"]
    assert "markouts.1s.markout" in header and header.index("markouts.1s") < header.index("markouts.60s")
    mean = next(line for line in text.splitlines() if line.startswith("| mean"))
    assert mean.split(" | ")[3] == "-0.3067"
    assert "seed 3: FAILED (no summary event)" in text and "seed 4: FAILED" in text


def test_a_run_that_exits_non_zero_is_failed_even_with_a_summary(tmp_path: Path) -> None:
    (tmp_path / "seed-5.jsonl").write_text(json.dumps(SUMMARY) + "\n", encoding="utf-8")
    run = collect(5, tmp_path, 1)
    assert run == SeedRun(5, run.symbols, "exit code 1") and run.symbols
