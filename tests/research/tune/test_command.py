"""``mmbot tune`` end to end: files written, the cache resumes, Ctrl-C leaves a valid partial table, bad input."""

from __future__ import annotations

import csv
import json

import pytest

from bot.cli import main
from bot.commands import tune as tune_command
from bot.research.tune import runner

SWEEP = ["--maker-fee", "0", "--grid", "strategy.skew=0,0.5,5", "--grid", "strategy.half_spread=0.01,0.03"]


def _tune(sim_path, out, *extra: str) -> int:
    return main(["tune", "--data", str(sim_path), *SWEEP, "--out", str(out), "--workers", "1", *extra])


def test_the_sweep_writes_everything_and_resumes(sim_path, tmp_path, capsys):
    out = tmp_path / "out"
    assert _tune(sim_path, out) == 0
    text = capsys.readouterr().out
    assert "recommended (trial " in text and '[symbols."BTC/USDT".strategy]' in text and "walk-forward:" in text
    for name in ("trials.csv", "trials.json", "recommended.toml", "tune.html", "cache.jsonl"):
        assert (out / name).is_file(), name
    rows = json.loads((out / "trials.json").read_text())
    assert len(rows) == 12 and {r["split"] for r in rows} == {"in", "out"}
    assert len((out / "cache.jsonl").read_text().splitlines()) == 12
    # the same sweep again: every trial from the cache, nothing computed
    assert _tune(sim_path, out, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["computed"] == 0 and report["cached"] == 12
    chosen = report["chosen_row"]
    assert chosen["id"] == report["chosen"] and chosen["split"] == "in" and chosen["feasible"]
    assert chosen["objective"] == max(r["objective"] for r in rows if r["split"] == "in" and r["feasible"])
    assert len((out / "cache.jsonl").read_text().splitlines()) == 12


def test_the_chosen_block_loads_as_config(sim_path, tmp_path, capsys):
    from bot.config import load_settings

    out = tmp_path / "out"
    assert _tune(sim_path, out, "--walk-forward", "0", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    config = tmp_path / "config.toml"
    config.write_text('[venue]\nsymbols = ["BTC/USDT"]\n' + (out / "recommended.toml").read_text())
    chosen = report["chosen_row"]
    strategy = load_settings(config).for_symbol("BTC/USDT").strategy
    assert strategy.skew == chosen["p.strategy.skew"] and strategy.half_spread == chosen["p.strategy.half_spread"]


def test_ctrl_c_leaves_the_finished_trials_table(sim_path, tmp_path, monkeypatch, capsys):
    calls = 0
    real = runner.run_trial

    def interrupted(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "run_trial", interrupted)
    out = tmp_path / "out"
    assert _tune(sim_path, out) == 130
    assert "interrupted: 3 of 12 trials done" in capsys.readouterr().err
    with open(out / "trials.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 3
    assert len(json.loads((out / "trials.json").read_text())) == 3
    monkeypatch.setattr(runner, "run_trial", real)
    assert _tune(sim_path, out, "--json") == 0  # resumes: only the 9 missing trials run
    assert json.loads(capsys.readouterr().out)["computed"] == 9


@pytest.mark.parametrize(("extra", "said"), [
    (["--grid", "strategy.nope=1"], "strategy.nope: no such setting"),
    (["--grid", "risk.max_position=0"], "risk.max_position=0.0: "),
    (["--objective", "pareto"], "needs the risk weight"),
    (["--symbol", "ETH/USDT"], "--symbol 'ETH/USDT' is not in the recording"),
    (["--ship-data"], "add --scheduler"),
])
def test_bad_input_exit_2(sim_path, tmp_path, capsys, extra, said):
    assert _tune(sim_path, tmp_path / "out", *extra) == 2
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_no_feasible_trial_recommends_nothing(sim_path, tmp_path, capsys):
    out = tmp_path / "out"
    assert _tune(sim_path, out, "--walk-forward", "0", "--min-fills", "100000") == 0
    text = capsys.readouterr().out
    assert "no trial meets the constraints (max |q| <= 1 x limit, fills >= 100000): nothing to recommend" in text
    assert not (out / "recommended.toml").exists() and (out / "trials.csv").is_file()


def test_workers_get_absolute_paths(sim_path, tmp_path, monkeypatch, capsys):
    """A Dask worker reading the shared path may run in another folder: the recording goes out absolute."""
    seen = []
    real = tune_command.run_sweep

    def spy(tasks, refs, *args, **kwargs):
        seen.extend(refs)
        return real(tasks, refs, *args, **kwargs)

    monkeypatch.setattr(tune_command, "run_sweep", spy)
    monkeypatch.chdir(sim_path.parent)
    assert main(["tune", "--data", sim_path.name, *SWEEP, "--out", str(tmp_path / "out"), "--workers", "1",
                 "--walk-forward", "0"]) == 0
    assert [r.path for r in seen] == [str(sim_path)]
