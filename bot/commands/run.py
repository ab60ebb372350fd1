"""``mmbot run``: quote live against the simulated exchange (default), a running sim, a testnet or paper.

Settings come from ``--config FILE``, the environment (``MMBOT_...``) and the defaults; the flags here
override them. Ctrl-C (SIGINT) or SIGTERM stops cleanly: quoting stops, every order of ours is
cancelled until the venue confirms none is open (for at most ``execution.stop_grace`` seconds), and a
summary is printed. A second Ctrl-C exits at once.
SIGUSR1 trips the kill switch (it latches: later runs refuse to start until ``mmbot reset-kill``).
Exit codes: 0 clean stop, 1 stopped by an error or the kill switch, or with orders left open or not
confirmed gone (the venue did not answer), 2 bad config/venue/keys or a latched kill switch.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import sys
from typing import Any

from bot.config import load_settings
from bot.live.service import Service
from bot.live.summary import format_summary
from bot.logs import configure_logging


def _duration(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be > 0 (got {text})")
    return value


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "run",
        help="run the market maker (simulated exchange by default)",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--config", metavar="FILE", help="TOML config (see config/*.toml)")
    p.add_argument("--duration", type=_duration, metavar="SECONDS", help="stop after this many seconds")
    p.add_argument("--log-format", choices=("auto", "json", "console"), help="log format (default: logging.format)")
    p.add_argument("--symbol", action="append", metavar="SYMBOL",
                   help="trade this symbol (repeat for several); overrides venue.symbols")
    return p


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the flags override, as a nested dict for ``load_settings(overrides=...)``."""
    out: dict[str, Any] = {}
    if args.symbol:
        out["venue"] = {"symbols": list(dict.fromkeys(args.symbol))}
    if args.log_format:
        out["logging"] = {"format": args.log_format}
    return out


async def _main(service: Service) -> int:
    loop = asyncio.get_running_loop()
    signals_seen = 0

    def on_signal(signum: int) -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen == 1:
            print("mmbot: stopping (cancelling orders); press Ctrl-C again to exit at once", file=sys.stderr)
            service.request_stop(signal.Signals(signum).name)
        else:
            print("mmbot: exiting at once; orders may remain open", file=sys.stderr)
            os._exit(130)

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread / platform
            pass
    try:  # SIGUSR1: the manual kill switch (latches; see README, "Risk controls and runbook")
        loop.add_signal_handler(signal.SIGUSR1, service.trip_kill, "manual: SIGUSR1")
        installed.append(signal.SIGUSR1)
    except (NotImplementedError, RuntimeError, ValueError, AttributeError):
        pass
    try:
        summary = await service.run()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
    print(format_summary(summary), flush=True)
    if not summary.clean or summary.kill_reason:
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config, overrides_from_args(args))
    configure_logging(settings.logging.level, settings.logging.format, settings.secret_values())
    return asyncio.run(_main(Service(settings, duration=args.duration, announce=announce)))


def announce(line: str) -> None:
    """A line for the operator on the terminal (the console's URL with its token: never in the JSON log)."""
    print(f"mmbot: {line}", file=sys.stderr, flush=True)
