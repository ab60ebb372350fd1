"""``mmbot report``: an HTML page (and optionally a PNG) of a run, from the bot's SQLite journal.

The journal is ``<risk.state_dir>/journal-<kind>-<exchange>-<tag>.sqlite`` (``var/`` by default); a bot
on the in-process simulator or on paper keeps it in memory only, so there is nothing to report. The page
is self-contained (charts drawn by the console's inlined chart code, no external files): inventory path,
quotes against mid, fills, P&L over time and kill events. Exit codes: 0 written, 2 missing or invalid
journal / unwritable output.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bot.errors import UserError
from bot.ops.report import load_journal, render_html, write_png


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "report",
        help="HTML report (inventory, quotes against mid, fills, P&L) from a journal",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--journal", required=True, metavar="FILE", help="the bot's SQLite journal (under risk.state_dir)")
    p.add_argument("--out", default="report.html", metavar="FILE", help="HTML file to write (default report.html)")
    p.add_argument("--png", metavar="FILE", help="also write the plots as one PNG")
    return p


def run(args: argparse.Namespace) -> int:
    journal = load_journal(args.journal)
    page = render_html(journal)
    out = Path(args.out)
    try:
        out.write_text(page, encoding="utf-8")
        if args.png:
            write_png(journal, Path(args.png))
    except OSError as exc:
        raise UserError(f"cannot write the report: {exc}") from None
    fills = sum(len(d.fills) for d in journal.symbols.values())
    extra = f" and {args.png}" if args.png else ""
    print(f"mmbot: wrote {out}{extra}: {len(journal.symbols)} symbol(s), {fills} fills, "
          f"{len(journal.kills)} kill event(s)")
    return 0
