"""``mmbot import``: history traders already have (Tardis.dev, Binance public data) into a recording.

``--format NAME FILE [FILE ...]`` names the format of the files after it; repeat it for files of other formats
(a book file and a trades file): ``mmbot import --format tardis-incremental-l2 book.csv.gz --format
tardis-trades trades.csv.gz --symbol BTC/USDT --out btc.mmb``. The formats, their columns and sources are in
:mod:`bot.research.importers`. Every file's events of ``--symbol`` are merged in time order (at equal times
trades first, then the command line's order of the files) and streamed into ``--out``, a recording in the
format its suffix says (``.mmb`` binary, ``.jsonl``, ``.jsonl.gz``). Its meta holds ``symbols``, ``markets``
(the symbol's ``tick``: ``--tick`` or inferred from the prices, :func:`bot.research.backtest.infer_tick`;
``lot``: ``--lot`` or inferred from the sizes, :func:`bot.research.importers.infer_lot`; base and quote) and
``source`` (each file's format and name), so ``mmbot backtest --data OUT`` needs no more flags.
Prints one line: events by kind, the span, tick and lot (said when inferred), the file written.
Exit codes: 0 done, 2 bad arguments or a file not in its format (one line; a partial output is removed).
"""

from __future__ import annotations

import argparse
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from bot.argtypes import positive
from bot.commands.convert import open_output
from bot.core.display import plain_text
from bot.errors import UserError
from bot.research.backtest import infer_tick
from bot.research.events import BookEvent, Event
from bot.research.importers import FORMATS, Importer, LotProbe, merged

CAPTURE = "capture"
CLOCKS = ("exchange", CAPTURE)
#: events read ahead to infer the tick and lot when not given
SAMPLE = 200_000


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "import",
        aliases=["importer"],  # the module name, as bot/cli.py registers commands by module ("import" is a keyword)
        help="import Tardis.dev or Binance public data CSV files into a recording",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--format", nargs="+", action="append", required=True, metavar=("NAME", "FILE"),
                   dest="inputs", help=f"a format ({', '.join(FORMATS)}) then its files (.csv, .csv.gz, .zip); "
                                       "repeat for files of another format")
    p.add_argument("--symbol", required=True, help="the symbol, as the bot names it (BTC/USDT)")
    p.add_argument("--out", type=Path, required=True, metavar="FILE",
                   help="recording to write (.mmb, .jsonl, .jsonl.gz)")
    p.add_argument("--clock", choices=CLOCKS, default=CLOCKS[0],
                   help="what stamps the events: the exchange's time (default; the capture time where the exchange "
                        "gives none) or, for Tardis files, the capture time (local_timestamp) always, the order "
                        "they are written in: for an exchange whose times go back")
    p.add_argument("--tick", type=positive, help="price tick (default: inferred from the prices)")
    p.add_argument("--lot", type=positive, help="size step (default: inferred from the sizes)")
    return p


def _inputs(groups: list[list[str]]) -> list[tuple[Importer, Path]]:
    """``--format`` groups -> (importer, file) pairs in command-line order."""
    out: list[tuple[Importer, Path]] = []
    for name, *files in groups:
        importer = FORMATS.get(name)
        if importer is None:
            raise UserError(f"--format: unknown format {name!r} (known: {', '.join(FORMATS)})")
        if not files:
            raise UserError(f"--format {name}: give the files after the format's name")
        out.extend((importer, Path(file)) for file in files)
    return out


def events(inputs: list[tuple[Importer, Path]], symbol: str, capture_clock: bool) -> Iterator[Event]:
    """Every input's events of ``symbol``, merged in time order (streamed)."""
    return merged(importer.read(path, symbol, capture_clock) for importer, path in inputs)


@dataclass
class Tally:
    """What passed through: events by kind and the time span."""

    snapshots: int = 0
    diffs: int = 0
    trades: int = 0
    first: float | None = None
    last: float | None = None

    def counted(self, stream: Iterator[Event]) -> Iterator[Event]:
        for event in stream:
            if isinstance(event, BookEvent):
                if event.snapshot:
                    self.snapshots += 1
                else:
                    self.diffs += 1
            else:
                self.trades += 1
            if self.first is None:
                self.first = event.ts
            self.last = event.ts
            yield event

    @property
    def total(self) -> int:
        return self.snapshots + self.diffs + self.trades


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _checked(stream: Iterator[Event]) -> Iterator[Event]:
    """``stream`` with its read and format errors as one-line UserErrors."""
    try:
        yield from stream
    except OSError as exc:
        raise UserError(f"cannot read {exc.filename or 'an input'}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _steps(args: argparse.Namespace, inputs: list[tuple[Importer, Path]],
           capture: bool) -> tuple[float, float, list[str]]:
    """The tick and lot (given, else inferred in one pass over the first :data:`SAMPLE` events) and which
    were inferred."""
    tick, lot = args.tick, args.lot
    inferred = [name for name, given in (("tick", tick), ("lot", lot)) if given is None]
    probe = LotProbe()
    sample = probe.through(_checked(islice(events(inputs, args.symbol, capture), SAMPLE)))
    if tick is None:
        try:
            tick = infer_tick(sample, args.symbol)
        except ValueError as exc:  # the inference's own: the files' errors come as UserErrors
            if next(_checked(events(inputs, args.symbol, capture)), None) is None:
                raise UserError(f"no events of {args.symbol} in the files given") from None
            raise UserError(f"{exc}; pass --tick") from None
    if lot is None:
        deque(sample, maxlen=0)  # the rest of the sample, if the tick did not need it all
        lot = probe.lot
    return float(tick), float(lot), inferred


def run(args: argparse.Namespace) -> int:
    inputs = _inputs(args.inputs)
    capture = args.clock == CAPTURE
    if capture:
        timeless = sorted({importer.name for importer, _ in inputs if importer.capture_clock is None})
        if timeless:
            raise UserError(f"--clock {CAPTURE}: {', '.join(timeless)} files have no capture time")
    out: Path = args.out
    for _, path in inputs:
        if path.exists() and out.exists() and path.resolve() == out.resolve():
            raise UserError(f"--out {out} is one of the inputs")
    tick, lot, inferred = _steps(args, inputs, capture)
    base, _, quote = args.symbol.partition("/")
    meta = {
        "source": [{"format": importer.name, "file": path.name} for importer, path in inputs],
        "clock": args.clock,
        "symbols": [args.symbol],
        "markets": {args.symbol: {"tick": tick, "lot": lot, "base": base, "quote": quote.split(":")[0] or None}},
    }
    tally = Tally()
    writer = open_output(out, meta, "--out")
    try:
        with writer:
            writer.write(tally.counted(_checked(events(inputs, args.symbol, capture))))
    except OSError as exc:
        out.unlink(missing_ok=True)
        raise UserError(f"--out: cannot write {out}: {exc.strerror or exc}") from None
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    if tally.first is None or tally.last is None:
        out.unlink(missing_ok=True)
        raise UserError(f"no events of {args.symbol} in the files given")
    said = {name: " (inferred)" if name in inferred else "" for name in ("tick", "lot")}
    print(f"imported {tally.total:,} events of {args.symbol} (book: {_count(tally.snapshots, 'snapshot')}, "
          f"{_count(tally.diffs, 'diff')}; {_count(tally.trades, 'trade')}) "
          f"from {_when(tally.first)} to {_when(tally.last)} UTC ({plain_text(tally.last - tally.first)} s); "
          f"tick {plain_text(tick)}{said['tick']}, lot {plain_text(lot)}{said['lot']} -> {out}")
    return 0
