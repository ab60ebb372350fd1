"""``mmbot convert IN OUT``: a recording into the other format (JSON lines <-> binary ``.mmb``).

IN is read in either format (recognised by its content); OUT's format is chosen by its suffix: ``.mmb`` the
binary columnar recording (:mod:`bot.research.columnar`), ``.jsonl`` JSON lines, ``.jsonl.gz`` gzipped. The
meta (symbols, markets, venue...) is carried over and the events are streamed, so memory stays flat. Prints
one line: events, bytes written, seconds. Exit codes: 0 done, 2 bad input (nothing is left at OUT).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path
from typing import Any

from bot.errors import UserError
from bot.research.recording import RecordingWriter, create_recording, iter_recording, read_meta


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "convert",
        help="convert a recording between JSON lines and the binary format (.mmb)",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("input", type=Path, metavar="IN", help="recording to read (JSON lines, .gz, or .mmb)")
    p.add_argument("output", type=Path, metavar="OUT", help="file to write: .mmb binary, else .jsonl[.gz]")
    return p


def convert(source: Path, target: Path) -> int:
    """Stream ``source``'s meta and events into a new recording at ``target``; returns the event count.

    UserError (one line) when ``source`` cannot be read or is not a recording, or ``target`` cannot be
    written; a partly written ``target`` is removed."""
    if source.resolve() == target.resolve():
        raise UserError(f"OUT is IN ({target}): write to another file")
    try:
        meta = read_meta(source)
    except OSError as exc:
        raise UserError(f"IN: cannot read {source}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UserError(f"IN: {source}: {exc}") from None
    if target.is_dir() or not target.parent.is_dir():
        raise UserError(f"OUT: {target} is not a writable file path")
    writer = open_output(target, meta, "OUT")
    try:
        with writer:
            return writer.write(iter_recording(source))
    except OSError as exc:
        _remove(target)
        name = exc.filename if exc.filename is not None else target
        raise UserError(f"cannot convert: {name}: {exc.strerror or exc}") from None
    except ValueError as exc:  # IN malformed past its first line, or an event OUT's format cannot hold
        _remove(target)
        raise UserError(f"cannot convert {source}: {exc}") from None


def open_output(target: Path, meta: dict[str, Any], flag: str) -> RecordingWriter:
    """A new recording at ``target`` (format by suffix, :func:`create_recording`); UserError naming ``flag``
    (one line) when it cannot be created or its suffix asks for a format that does not exist."""
    try:
        return create_recording(target, meta)
    except OSError as exc:
        raise UserError(f"{flag}: cannot write {target}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UserError(f"{flag}: {exc}") from None


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def run(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    events = convert(args.input, args.output)
    seconds = time.perf_counter() - began
    size = args.output.stat().st_size
    print(f"converted {events} events from {args.input} to {args.output}: {size} bytes in {seconds:.2f} s")
    return 0
