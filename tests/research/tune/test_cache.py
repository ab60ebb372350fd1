"""The cache key and file: what changes a key, torn lines, later lines win."""

from __future__ import annotations

import json

from bot.research.tune import cache as cache_module
from bot.research.tune.cache import Cache, code_version, trial_key
from bot.research.tune.trial import trial_params


def test_the_key_follows_params_data_split_and_not_the_config_path(base):
    params = trial_params(base, {"strategy.skew": 1.0})
    key = trial_key(params, {"strategy.skew": 1.0}, base, ["aa"], "all", 0.7)
    assert key == trial_key(params, {"strategy.skew": 1.0}, base, ["aa"], "all", 0.5)  # no split: no fraction
    other = trial_params(base, {"strategy.skew": 2.0})
    assert len({key, trial_key(other, {"strategy.skew": 2.0}, base, ["aa"], "all", 0.7),
                trial_key(params, {"strategy.skew": 1.0}, base, ["bb"], "all", 0.7),
                trial_key(params, {"strategy.skew": 1.0}, base, ["aa"], "in", 0.7),
                trial_key(params, {"strategy.skew": 1.0}, base, ["aa"], "in", 0.6)}) == 5
    moved = type(base)(**{**base.__dict__, "config": "/elsewhere.toml"})
    assert trial_key(params, {"strategy.skew": 1.0}, moved, ["aa"], "all", 0.7) == key


def test_rows_survive_exactly_and_a_torn_line_is_skipped(tmp_path):
    row = {"id": "abc", "p.strategy.skew": 0.1, "total_pnl": 0.1 + 0.2, "orders_per_fill": None, "violations": []}
    with Cache(tmp_path) as cache:
        cache.add("k1", row)
    with open(tmp_path / "cache.jsonl", "a") as fh:
        fh.write('{"key": "k2", "row": {"id"')  # killed mid-write
    with Cache(tmp_path) as cache:
        cache.add("k3", {**row, "id": "def"})
        cache.add("k1", {**row, "total_pnl": 1.0})
    found = Cache(tmp_path).load()
    assert set(found) == {"k1", "k3"} and found["k3"]["total_pnl"] == 0.1 + 0.2
    assert found["k1"]["total_pnl"] == 1.0  # the later line wins
    lines = (tmp_path / "cache.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["key"] == "k1"


def test_the_key_follows_the_deciding_code(base, monkeypatch):
    """A row computed by other code (an upgraded backtest, strategy or fill model) is not served from the cache."""
    params = trial_params(base, {"strategy.skew": 1.0})
    key = trial_key(params, {"strategy.skew": 1.0}, base, ["aa"], "all", 0.7)
    assert len(code_version()) == 64
    monkeypatch.setattr(cache_module, "code_version", lambda: "another backtest")
    assert trial_key(params, {"strategy.skew": 1.0}, base, ["aa"], "all", 0.7) != key
