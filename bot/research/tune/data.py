"""Recordings as a tuning worker holds them: read once per process, then shared by every trial (I/O).

:func:`load` keeps each recording's events in a module-level cache keyed by (path, content sha256), so a worker
process (local or on a Dask cluster) reads a file on the first trial that needs it and never again;
:func:`split` caches the walk-forward parts the same way. :func:`file_sha256` streams a file's content hash.
``reads`` counts the files actually read in this process (what the runner reports and the tests check).
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from bot.errors import UserError
from bot.research.events import Event
from bot.research.recording import read_recording
from bot.research.tune.walkforward import split_events

_EVENTS: dict[tuple[str, str], list[Event]] = {}
_PARTS: dict[tuple[str, str, float], tuple[list[Event], list[Event]]] = {}
_SHIPPED: dict[str, Path] = {}
reads = 0


def forget() -> None:
    """Empty this process's caches (a forked worker starts with none of its parent's recordings)."""
    global reads
    _EVENTS.clear()
    _PARTS.clear()
    reads = 0


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """The sha256 (hex) of a file's bytes, read in chunks (memory flat in the file's size)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def load(path: str, sha: str) -> list[Event]:
    """The events of the recording at ``path`` whose content hash is ``sha`` (read on the first call only);
    UserError (one line) when it cannot be read or is not a recording."""
    global reads
    key = (path, sha)
    events = _EVENTS.get(key)
    if events is None:
        try:
            events = read_recording(path)
        except OSError as exc:
            raise UserError(f"--data: cannot read {path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise UserError(f"--data: {path}: {exc}") from None
        _EVENTS[key] = events
        reads += 1
    return events


def part(path: str, sha: str, split: str, fraction: float) -> list[Event]:
    """The events a trial of ``split`` replays: all of them ("all"), or the walk-forward part "in"/"out" at
    ``fraction`` of the time span (:func:`bot.research.tune.walkforward.split_events`), cached per process."""
    events = load(path, sha)
    if split == "all":
        return events
    key = (path, sha, fraction)
    parts = _PARTS.get(key)
    if parts is None:
        parts = _PARTS[key] = split_events(events, fraction)
    return parts[0] if split == "in" else parts[1]


def shipped(name: str, sha: str, content: bytes) -> str:
    """A local path holding ``content`` (a recording shipped to this worker as bytes), written once per process
    into a temporary folder (removed when the process exits); ``name`` keeps the file's suffix (the reader picks
    the format by it)."""
    path = _SHIPPED.get(sha)
    if path is None:
        folder = Path(tempfile.mkdtemp(prefix="mmbot-tune-"))
        atexit.register(shutil.rmtree, folder, True)  # removed when the worker process exits
        path = folder / (sha[:16] + "-" + Path(name).name)
        with open(path, "wb") as fh:
            fh.write(content)
        _SHIPPED[sha] = path
    return os.fspath(path)
