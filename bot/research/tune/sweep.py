"""A sweep's plan (pure): the space's trials validated up front and turned into tasks with their cache keys.

:func:`plan` builds every trial's backtest parameters before anything runs (a bad value: UserError, one line
naming the trial), and gives one :class:`~bot.research.tune.runner.Task` per trial and split: "all" without
walk-forward (``fraction`` 0), else "in" and "out". :func:`in_order` puts rows back in the plan's order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bot.errors import UserError
from bot.research.tune.cache import trial_key
from bot.research.tune.runner import DataRef, Task
from bot.research.tune.trial import TuneBase, trial_params


def splits_of(fraction: float) -> tuple[str, ...]:
    """The splits a trial runs on: ("all",) with ``fraction`` 0, else ("in", "out")."""
    return ("all",) if fraction == 0 else ("in", "out")


def plan(trials: Sequence[Mapping[str, Any]], base: TuneBase, refs: Sequence[DataRef], fraction: float
         ) -> list[Task]:
    """One task per trial and split, in the space's order (module docstring)."""
    shas = [r.sha for r in refs]
    tasks = []
    for overrides in trials:
        try:
            params = trial_params(base, overrides)
        except UserError as exc:
            shown = ", ".join(f"{k}={v}" for k, v in overrides.items())
            raise UserError(exc.lines[0] if len(overrides) < 2 else f"{exc.lines[0]} (in the trial {shown})") from None
        for split in splits_of(fraction):
            tasks.append(Task(trial_key(params, overrides, base, shas, split, fraction), dict(overrides), split))
    return tasks


def in_order(tasks: Iterable[Task], rows: Mapping[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of the tasks that have one (``rows``: key -> row), in the tasks' order."""
    return [rows[t.key] for t in tasks if t.key in rows]
