"""CSV files as numbered rows: the thin I/O under the importers' pure parsers.

:func:`open_rows` reads ``.csv``, ``.csv.gz`` (gzip, recognised by the suffix) and ``.zip`` (an archive holding
exactly one ``.csv``, as data.binance.vision ships them) as UTF-8 CSV, yielding ``(line number, cells)`` with
the line number of the row's first line (1 for the header). Streamed: memory does not grow with the file.
A file that cannot be read as such (bad gzip or zip, not UTF-8 text, a zip without exactly one csv) raises
``ValueError`` with one line naming the file; a missing file raises ``OSError``.
"""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from bot.research.importers.rows import Row


def _zip_member(archive: zipfile.ZipFile, path: Path) -> str:
    names = [info.filename for info in archive.infolist() if not info.is_dir()]
    csvs = [name for name in names if name.lower().endswith(".csv")]
    if len(csvs) != 1:
        held = ", ".join(names[:5]) + (" ..." if len(names) > 5 else "") if names else "nothing"
        raise ValueError(f"{path}: expected a .zip holding one .csv, it holds {held}")
    return csvs[0]


def _rows(text: IO[str]) -> Iterator[Row]:
    reader = csv.reader(text)
    start = 1
    for cells in reader:
        yield start, cells
        start = reader.line_num + 1


def open_rows(path: Path) -> Iterator[Row]:
    """The rows of the CSV file at ``path`` (see the module docstring), streamed."""
    name = path.name.lower()
    try:
        if name.endswith(".zip"):
            with zipfile.ZipFile(path) as archive, archive.open(_zip_member(archive, path)) as raw:
                yield from _rows(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
        elif name.endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8", newline="") as text:
                yield from _rows(text)
        else:
            with open(path, encoding="utf-8", newline="") as text:
                yield from _rows(text)
    except (UnicodeDecodeError, EOFError, gzip.BadGzipFile, zipfile.BadZipFile, zlib.error,
            csv.Error) as exc:
        raise ValueError(f"{path}: not a CSV text file ({type(exc).__name__}: {exc})") from None
