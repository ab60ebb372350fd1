"""The runners: local processes give the in-process rows, a recording is read once per worker, the cache resumes."""

from __future__ import annotations

import io

import pytest

from bot.errors import UserError
from bot.research.tune import data
from bot.research.tune.cache import Cache
from bot.research.tune.runner import DataRef, Progress, run
from bot.research.tune.space import build_space
from bot.research.tune.sweep import in_order, plan

METRIC_FREE = ("seconds",)


def _tasks(sim_path, base, fraction=0.0):
    space = build_space(["strategy.skew=0,0.5,2", "risk.max_position=0.01,0.05"])
    refs = [DataRef(str(sim_path), data.file_sha256(sim_path))]
    return plan(space.trials(), base, refs, fraction), refs


def _sweep(tasks, refs, base, fraction=0.0, **kwargs):
    rows: dict[str, dict] = {}
    stats = run(tasks, refs, base, fraction, lambda key, row: rows.__setitem__(key, row), stream=io.StringIO(),
                **kwargs)
    return in_order(tasks, rows), stats


def _same(a, b):
    strip = [{k: v for k, v in r.items() if k not in METRIC_FREE} for r in a]
    return strip == [{k: v for k, v in r.items() if k not in METRIC_FREE} for r in b]


def test_processes_equal_in_process_and_read_once_per_worker(sim_path, base):
    tasks, refs = _tasks(sim_path, base, 0.7)
    here, _ = _sweep(tasks, refs, base, 0.7, workers=1)
    assert len(here) == len(tasks) == 12 and {r["split"] for r in here} == {"in", "out"}
    pooled, stats = _sweep(tasks, refs, base, 0.7, workers=2)
    assert _same(here, pooled)
    assert stats.done == 12 and stats.workers == 2 and not stats.interrupted
    assert 1 <= stats.reads <= 2  # one read per worker process that ran a trial, not one per trial (12)


def test_a_second_run_computes_nothing_and_a_half_cache_resumes(sim_path, base, tmp_path):
    tasks, refs = _tasks(sim_path, base)
    with Cache(tmp_path) as cache:
        rows, _ = _sweep(tasks[:3], refs, base, workers=1)  # an interrupted sweep: half the trials done
        for task, row in zip(tasks[:3], rows, strict=True):
            cache.add(task.key, row)
    done = Cache(tmp_path).load()
    missing = [t for t in tasks if t.key not in done]
    assert len(missing) == 3
    rest, stats = _sweep(missing, refs, base, workers=1)
    assert stats.done == 3
    full, _ = _sweep(tasks, refs, base, workers=1)
    assert _same(in_order(tasks, done | {t.key: r for t, r in zip(missing, rest, strict=True)}), full)


def test_ctrl_c_in_a_pool_keeps_the_finished_rows(sim_path, base):
    tasks, refs = _tasks(sim_path, base)
    rows: dict[str, dict] = {}

    def on_row(key, row):
        rows[key] = row
        if len(rows) == 2:
            raise KeyboardInterrupt  # what Ctrl-C does in the parent while it waits

    stats = run(tasks, refs, base, 0.0, on_row, workers=2, stream=io.StringIO())
    # the row whose callback was interrupted is not counted; the trials already running finished and were kept
    assert stats.interrupted and stats.done == len(rows) - 1 and len(rows) <= len(tasks)
    assert all(r["id"] == k[:12] for k, r in rows.items())


def test_progress_lines_off_a_terminal():
    stream = io.StringIO()
    progress = Progress(4, stream, every=3600.0)
    for done in range(1, 5):
        progress.update(done)
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tune: 4/4 trials, ") and "ETA 0 s" in lines[0]


def test_no_more_worker_processes_than_trials(sim_path, base):
    tasks, refs = _tasks(sim_path, base)
    _, stats = _sweep(tasks[:2], refs, base, workers=4)
    assert stats.workers == 2 and stats.done == 2


@pytest.mark.parametrize("workers", [1, 2])
def test_a_recording_a_worker_cannot_read_is_one_line_not_a_traceback(sim_path, base, tmp_path, workers):
    """A path the workers do not share (here: gone since the client hashed it) stops the sweep with one line
    naming it, in this process and from a pool worker alike (the worker's UserError crosses the process)."""
    gone = tmp_path / "gone.jsonl.gz"
    gone.write_bytes(sim_path.read_bytes())
    tasks, refs = _tasks(gone, base)
    gone.unlink()
    with pytest.raises(UserError) as info:
        _sweep(tasks[:2], refs, base, workers=workers)
    assert len(info.value.lines) == 1 and info.value.lines[0].startswith("--data: cannot read ")
    assert "gone.jsonl.gz" in info.value.lines[0]
