"""One trial: overrides validated, the shared backtest run, several recordings combined, the inventory path."""

from __future__ import annotations

import math
import pickle

import pytest

from bot.errors import UserError
from bot.research.backtest import run_backtest
from bot.research.recording import read_recording
from bot.research.tune.trial import METRICS, inventory_path, run_trial, trial_params


def test_a_trial_is_the_shared_backtest(sim_path, base):
    events = read_recording(sim_path)
    overrides = {"strategy.skew": 0.5, "risk.max_position": 0.02}
    row = run_trial([events], base, overrides, "all", "abc")
    bare = run_backtest(events, "BTC/USDT", trial_params(base, overrides))
    assert list(row)[:4] == ["id", "p.strategy.skew", "p.risk.max_position", "split"]
    assert list(row)[4:] == list(METRICS)
    assert row["total_pnl"] == bare.total_pnl and row["fills"] == bare.fills > 0
    assert row["q_std"] == bare.q_std and row["max_abs_q"] == bare.max_abs_q <= 0.02
    assert row["limit"] == 0.02 and row["orders_per_fill"] == bare.orders_placed / bare.fills


def test_two_recordings_sum_and_pool(sim_path, base):
    events = read_recording(sim_path)
    one = run_trial([events], base, {"strategy.skew": 0.5})
    two = run_trial([events, events], base, {"strategy.skew": 0.5})
    assert two["fills"] == 2 * one["fills"] and two["events"] == 2 * one["events"]
    assert math.isclose(two["total_pnl"], 2 * one["total_pnl"])
    assert two["max_abs_q"] == one["max_abs_q"]
    # the same path twice: the pooled time-weighted std is the path's own
    assert math.isclose(two["q_std"], one["q_std"], rel_tol=1e-9)


@pytest.mark.parametrize(("key", "value", "said"), [
    ("strategy.nope", 1, "no such setting"),
    ("risk.max_loss", 1.0, "does not read it"),
    ("skew", 1.0, "not a setting to tune"),
    ("strategy.skew", -1.0, "strategy.skew=-1.0"),
    ("strategy.model", "best", "strategy.model=best"),
])
def test_bad_overrides_are_one_line(base, key, value, said):
    with pytest.raises(UserError) as err:
        trial_params(base, {key: value})
    assert len(err.value.lines) == 1 and said in err.value.lines[0]


def test_base_pickles(base):
    assert pickle.loads(pickle.dumps(base)) == base


def test_inventory_path_steps_with_the_fills(sim_path, base):
    overrides = {"strategy.skew": 0.5}
    times, q = inventory_path([sim_path], "BTC/USDT", overrides, base)
    row = run_trial([read_recording(sim_path)], base, overrides)
    assert len(times) == len(q) == row["fills"] + 2
    assert times[0] == 0.0 and times[-1] == row["duration"] and times == sorted(times)
    assert q[-1] == pytest.approx(row["final_q"]) and max(map(abs, q)) == pytest.approx(row["max_abs_q"])
