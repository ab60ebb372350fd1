"""Resumable results of a sweep: ``OUT/cache.jsonl``, one finished trial a line (I/O at the edges).

A trial's key is the sha256 of the canonical JSON (sorted keys, no spaces) of: its full backtest parameters
(``dataclasses.asdict`` of :class:`~bot.research.backtest.BacktestParams`), its overrides, the sweep's base
(:class:`~bot.research.tune.trial.TuneBase` without the config's path: its resolved settings are in it), each
recording's content sha256 (in order), the split and walk-forward fraction, mmbot's version and the sha256 of
the sources that decide a row (:func:`code_version`: the decision layer, the fill model, the backtest, the trial).
So a changed config, recording, split or mmbot's deciding code is a different trial (an upgraded mmbot does not
serve rows its predecessor computed), and a moved file is the same one. A row's ``id`` is the key's first 12 hex
digits.

:class:`Cache` appends ``{"key": ..., "row": ...}`` and flushes as each trial ends, so an interrupted sweep
keeps what finished; reading skips a torn last line. Later lines win over earlier ones with the same key.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

import bot
from bot import __version__
from bot.research.backtest import BacktestParams
from bot.research.tune.trial import TuneBase

FILE = "cache.jsonl"
#: the sources (under bot/) whose code decides a trial's row
DECIDING = ("core", "paper/fills.py", "research/backtest.py", "research/events.py", "research/l2book.py",
            "research/tune/trial.py", "commands/backtest.py")


@functools.cache
def code_version() -> str:
    """The sha256 (hex) of the :data:`DECIDING` sources' bytes, each with its path, in path order."""
    root = Path(bot.__file__).parent
    files = sorted(f for name in DECIDING for f in ((root / name).rglob("*.py") if (root / name).is_dir()
                                                     else [root / name]))
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()


def canonical(value: Any) -> str:
    """``value`` as canonical JSON (sorted keys, no spaces)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def trial_key(params: BacktestParams, overrides: Mapping[str, Any], base: TuneBase, data_shas: Sequence[str],
              split: str, fraction: float) -> str:
    """The trial's cache key (module docstring), 64 hex digits."""
    fixed = asdict(base)
    fixed.pop("config")
    blob = canonical({"params": asdict(params), "overrides": dict(overrides), "base": fixed, "data": list(data_shas),
                      "split": split, "fraction": fraction if split != "all" else None, "version": __version__,
                      "code": code_version()})
    return hashlib.sha256(blob.encode()).hexdigest()


class Cache:
    """``OUT/cache.jsonl``: :meth:`load` the finished trials, :meth:`add` one as it ends (flushed)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / FILE
        self._fh: IO[str] | None = None

    def load(self) -> dict[str, dict[str, Any]]:
        """Key -> row of every trial in the file ({} when there is none); torn or foreign lines are skipped."""
        found: dict[str, dict[str, Any]] = {}
        try:
            with open(self.path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(entry, dict) and isinstance(entry.get("key"), str) \
                            and isinstance(entry.get("row"), dict):
                        found[entry["key"]] = entry["row"]
        except FileNotFoundError:
            pass
        return found

    def add(self, key: str, row: Mapping[str, Any]) -> None:
        """Append one finished trial and flush it."""
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            torn = self.path.exists() and self.path.stat().st_size > 0 and not self._ends_with_newline()
            self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (held open for the sweep; close())
            if torn:  # an interrupted write: end its line so the next entry stays readable
                self._fh.write("\n")
        self._fh.write(canonical({"key": key, "row": dict(row)}) + "\n")
        self._fh.flush()

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as fh:
            fh.seek(-1, 2)
            return fh.read(1) == b"\n"

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
