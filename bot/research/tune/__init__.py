"""``mmbot tune``: sweep settings over recordings through the shared backtest (docs/research.md, "Tuning").

``space`` (the search space), ``trial`` (one trial: settings -> backtest -> row), ``objective`` (scores,
constraints, the choice), ``cache`` (resumable results), ``data`` (recordings read once per process),
``walkforward`` (in/out-of-sample split), ``runner`` (local processes or a Dask cluster); ``report`` and
``plots`` render the rows.
"""
