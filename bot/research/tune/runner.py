"""Run a sweep's trials: in this process, on local processes, or on a Dask distributed cluster (I/O).

:func:`run` takes the trials still to do (:class:`Task`: cache key, overrides, split) and calls ``on_row(key,
row)`` in this process as each one ends (in completion order). Each trial runs :func:`execute` where it is
scheduled: the recordings come from that process's cache (:mod:`bot.research.tune.data`: read on the first
trial, never again), and only the row travels back (no fill log).

* ``workers=1``: in this process. ``workers=N`` (default ``os.cpu_count()``): a ``ProcessPoolExecutor`` of N
  processes, at most 2N trials queued at once; the workers ignore SIGINT, so Ctrl-C reaches only this process.
* ``scheduler="tcp://HOST:8786"``: a ``dask.distributed.Client`` (dask imported only then; missing: one line
  naming ``pip install mmbot[cluster]``; an unreachable scheduler: one line after a 5 s timeout). The workers
  read the recordings from the same path by default (a shared file system); with ``ship=True`` the client reads
  each file once and broadcasts its bytes to every worker (``client.scatter(..., broadcast=True)``); a worker
  writes them to a temporary file once and reads that, so nothing is sent per trial.

Ctrl-C: the trials not started are cancelled, those running finish (their rows are kept) and :func:`run`
returns with ``interrupted`` set. Progress goes to ``stream``: trials done/total, rate and ETA, rewritten in
place on a terminal, a line every few seconds otherwise.
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bot.errors import UserError
from bot.research.tune import data
from bot.research.tune.trial import TuneBase, run_trial

OnRow = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class DataRef:
    """A recording as the client names it: its path and content sha256."""

    path: str
    sha: str


@dataclass(frozen=True)
class Task:
    """One trial to run: its cache key, overrides and split ("all", "in", "out")."""

    key: str
    overrides: dict[str, Any]
    split: str


@dataclass
class Stats:
    """How a run went: trials done of ``total``, the workers, the recording files read during the run (over every
    worker: a worker reads a file once), wall seconds, and whether Ctrl-C cut it short."""

    total: int
    done: int = 0
    workers: int = 1
    reads: int = 0
    seconds: float = 0.0
    interrupted: bool = False

    def ended(self, reads: int) -> None:
        """One trial ended; its worker read ``reads`` recording files for it."""
        self.done += 1
        self.reads += reads


def execute(refs: Sequence[DataRef], base: TuneBase, task: Task, fraction: float,
            *contents: bytes) -> tuple[dict[str, Any], int]:
    """Run one trial where it is scheduled: (row, recordings this trial had to read: 0 once
    the worker holds them). ``contents``: the recordings' bytes when shipped (else each is read from its path)."""
    before = data.reads
    paths = [data.shipped(r.path, r.sha, c) for r, c in zip(refs, contents, strict=True)] if contents \
        else [r.path for r in refs]
    events = [data.part(path, r.sha, task.split, fraction) for path, r in zip(paths, refs, strict=True)]
    start = time.perf_counter()
    row = run_trial(events, base, task.overrides, task.split, task.key[:12])
    row["seconds"] = time.perf_counter() - start
    return row, data.reads - before


class Progress:
    """Trials done/total, rate and ETA on ``stream`` (module docstring)."""

    def __init__(self, total: int, stream: IO[str], every: float = 5.0) -> None:
        self.total, self.stream, self.every = total, stream, every
        self.tty = stream.isatty()
        self.start = self._last = time.monotonic()
        self._width = 0

    def line(self, done: int) -> str:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = done / elapsed
        eta = "-" if done == 0 else f"{(self.total - done) / rate:.0f} s"
        return f"tune: {done}/{self.total} trials, {rate:.2f}/s, ETA {eta}"

    def update(self, done: int) -> None:
        now = time.monotonic()
        if self.tty:
            text = self.line(done)
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
            self.stream.flush()
        elif now - self._last >= self.every or done == self.total:
            self._last = now
            print(self.line(done), file=self.stream, flush=True)

    def close(self) -> None:
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()


def run(tasks: Sequence[Task], refs: Sequence[DataRef], base: TuneBase, fraction: float, on_row: OnRow,
        workers: int | None = None, scheduler: str | None = None, ship: bool = False,
        stream: IO[str] | None = None) -> Stats:
    """Run ``tasks`` (module docstring) and return how it went."""
    progress = Progress(len(tasks), stream if stream is not None else sys.stderr)
    stats = Stats(len(tasks))
    start = time.monotonic()
    try:
        if scheduler is not None:
            _run_dask(tasks, refs, base, fraction, on_row, scheduler, ship, stats, progress)
        elif (workers or os.cpu_count() or 1) == 1 or len(tasks) <= 1:
            _run_here(tasks, refs, base, fraction, on_row, stats, progress)
        else:
            _run_pool(tasks, refs, base, fraction, on_row, min(workers or os.cpu_count() or 1, len(tasks)), stats,
                      progress)
    finally:
        progress.close()
        stats.seconds = time.monotonic() - start
    return stats


def _run_here(tasks: Sequence[Task], refs: Sequence[DataRef], base: TuneBase, fraction: float, on_row: OnRow,
              stats: Stats, progress: Progress) -> None:
    try:
        for task in tasks:
            row, reads = execute(refs, base, task, fraction)
            on_row(task.key, row)
            stats.ended(reads)
            progress.update(stats.done)
    except KeyboardInterrupt:
        stats.interrupted = True


def _worker_start() -> None:
    """A pool worker's start: Ctrl-C is the parent's to handle; no recording inherited from the parent (each
    worker reads its own once, so the count of reads is what happened)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    data.forget()


def _run_pool(tasks: Sequence[Task], refs: Sequence[DataRef], base: TuneBase, fraction: float, on_row: OnRow,
              workers: int, stats: Stats, progress: Progress) -> None:
    stats.workers = workers
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_worker_start)
    queue = iter(tasks)
    running: dict[Future[tuple[dict[str, Any], int]], Task] = {}
    try:
        try:
            for task in queue:
                running[pool.submit(execute, refs, base, task, fraction)] = task
                while len(running) >= 2 * workers:
                    _collect(running, on_row, stats, progress)
            while running:
                _collect(running, on_row, stats, progress)
        except KeyboardInterrupt:
            stats.interrupted = True
            for future in running:
                future.cancel()
            for future in list(running):  # the ones already running finish: their rows are kept
                if not future.cancelled():
                    row, reads = future.result()
                    on_row(running[future].key, row)
                    stats.ended(reads)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _collect(running: dict[Future[tuple[dict[str, Any], int]], Task], on_row: OnRow, stats: Stats,
             progress: Progress) -> None:
    done, _ = wait(running, return_when=FIRST_COMPLETED)
    for future in done:
        task = running.pop(future)
        row, reads = future.result()
        on_row(task.key, row)
        stats.ended(reads)
        progress.update(stats.done)


def connect(scheduler: str, timeout: float = 5.0) -> Any:
    """A ``dask.distributed.Client`` of ``scheduler`` (UserError, one line, when dask is missing or the
    scheduler does not answer within ``timeout`` seconds)."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise UserError("--scheduler needs dask's distributed scheduler: pip install mmbot[cluster]") from None
    try:
        return Client(scheduler, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"--scheduler {scheduler}: cannot reach the scheduler ({reason})") from None


def _run_dask(tasks: Sequence[Task], refs: Sequence[DataRef], base: TuneBase, fraction: float, on_row: OnRow,
              scheduler: str, ship: bool, stats: Stats, progress: Progress) -> None:
    from dask.distributed import as_completed

    client = connect(scheduler)
    try:
        stats.workers = max(1, len(client.scheduler_info().get("workers", {})))
        contents = [client.scatter(Path(r.path).read_bytes(), broadcast=True) for r in refs] if ship else []
        window = 4 * stats.workers
        queue = iter(tasks)
        pending: dict[Any, Task] = {}

        def submit(task: Task) -> Any:
            future = client.submit(execute, refs, base, task, fraction, *contents, pure=False)
            pending[future] = task
            return future

        first = [submit(task) for task in itertools.islice(queue, window)]
        flow = as_completed(first, loop=client.loop)
        try:
            for future in flow:
                task = pending.pop(future)
                row, reads = future.result()
                on_row(task.key, row)
                stats.ended(reads)
                progress.update(stats.done)
                following = next(queue, None)
                if following is not None:
                    flow.add(submit(following))
        except KeyboardInterrupt:
            stats.interrupted = True
            client.cancel(list(pending))
    finally:
        client.close()
