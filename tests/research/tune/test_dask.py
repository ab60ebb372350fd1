"""The same sweep on a Dask LocalCluster (2 worker processes) through ``--scheduler``: the local run's rows, the
recordings read from the shared path or shipped once per worker."""

from __future__ import annotations

import json

import pytest

from bot.cli import main

distributed = pytest.importorskip("dask.distributed")

SWEEP = ["--maker-fee", "0", "--grid", "strategy.skew=0,0.5,5", "--grid", "strategy.half_spread=0.01,0.03",
         "--walk-forward", "0.6"]


def _rows(out):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in json.loads((out / "trials.json").read_text())]


def test_a_local_cluster_gives_the_local_rows(sim_path, tmp_path, capsys):
    assert main(["tune", "--data", str(sim_path), *SWEEP, "--out", str(tmp_path / "local"), "--workers", "1"]) == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        for name, extra in (("shared", []), ("shipped", ["--ship-data"])):
            capsys.readouterr()
            assert main(["tune", "--data", str(sim_path), *SWEEP, "--out", str(tmp_path / name),
                         "--scheduler", cluster.scheduler_address, *extra, "--json"]) == 0
            report = json.loads(capsys.readouterr().out)
            assert report["computed"] == 12 and report["workers"] == 2
            assert 1 <= report["reads"] <= 2  # once per worker process, not per trial
            assert _rows(tmp_path / name) == _rows(tmp_path / "local")
