"""The ``mmbot`` command line: one subcommand per module in ``bot.commands``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from bot import __version__
from bot.errors import UserError

# Subcommand modules under bot/commands, in the order `mmbot --help` lists them.
COMMANDS: tuple[str, ...] = ("quote", "simulate", "status", "calibrate", "run", "compare", "sim", "record", "backtest",
                             "reset_kill", "report", "pause", "importer", "tune", "convert")


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad usage as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mmbot",
        description="Inventory-aware market-making bot (symmetric, linear skew, Avellaneda-Stoikov, GLFT).",
    )
    parser.add_argument("--version", action="version", version=f"mmbot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"bot.commands.{name}")
        added = module.add_parser(sub)  # one parser, or a tuple of them sharing ``run`` (pause, resume)
        for command in added if isinstance(added, tuple) else (added,):
            command.set_defaults(handler=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except UserError as exc:
        for line in exc.lines:
            print(f"mmbot: {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
