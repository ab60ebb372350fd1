"""``mmbot reset-kill``: clear a latched kill switch so ``mmbot run`` may quote again.

The kill latch lives in the account's journal (see ``risk.state_dir``); pass the same ``--config``
(and environment) as ``mmbot run`` so the same journal is found. Prints what was cleared.
Exit codes: 0 cleared (or nothing was latched), 2 bad config or unreadable journal.
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path
from typing import Any

from bot.config import load_settings
from bot.errors import UserError
from bot.live.journal import LATCH_SUFFIX, MEMORY, Journal, JournalError, describe_kill, journal_for, journal_path


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "reset-kill",
        aliases=["reset_kill"],  # the module name, as bot/cli.py registers commands by module
        help="clear a latched kill switch (after checking the account)",
        description="Clear a latched kill switch so `mmbot run` may quote again (same --config as the run).",
    )
    p.add_argument("--config", metavar="FILE", help="the TOML config `mmbot run` used")
    return p


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    path = journal_path(settings)
    if path == MEMORY:
        print("mmbot: this venue keeps no journal (in-process sim or paper): nothing is latched")
        return 0
    if not path.exists() and not path.with_name(path.name + LATCH_SUFFIX).exists():
        print(f"mmbot: no journal at {path}: nothing is latched")
        return 0
    journal = journal_for(settings)
    try:
        return _reset(journal, path)
    except JournalError as exc:  # unreadable, or it cannot take the clearing (disk full, read-only)
        raise UserError(f"{exc}; the kill stays latched") from None
    finally:
        journal.close()


def _reset(journal: Journal, path: Path) -> int:
    """Clear what is latched (in the journal and in the latch file next to it); prints what."""
    line = describe_kill(journal)
    if line is None:
        print(f"mmbot: no kill latched ({path})")
        return 0
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "operator"
    journal.clear_kills(f"mmbot reset-kill by {who}")
    print(f"mmbot: cleared: {line} ({path})")
    return 0
