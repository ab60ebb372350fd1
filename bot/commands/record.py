"""``mmbot record``: record order books and public trades from a venue into a recording file.

The venue comes from the config exactly as for ``mmbot run`` (``venue.kind``, ``venue.url``,
``venue.exchange``, ``venue.symbols``): with no config the simulated exchange is started in-process.
Only public market data is read, so no keys are needed (a ``paper`` venue records its public feed).
The file is JSON lines (gzip when the name ends in ``.gz``), or the binary recording when it ends in ``.mmb``
(:mod:`bot.research.columnar`: written a chunk at a time, so a process killed outright leaves an unfinished
file that readers refuse); see :mod:`bot.research.recording`.
Ctrl-C (or SIGTERM) ends the recording early and still closes the file properly.
Exit codes: 0 done, 2 bad arguments/config/venue.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from pathlib import Path
from typing import Any

import ccxt

from bot.argtypes import positive
from bot.commands.convert import open_output
from bot.config import Settings, load_settings
from bot.core.quote import MarketRules
from bot.errors import UserError
from bot.live.endpoint import Endpoint, open_endpoint
from bot.logs import configure_logging, get_logger
from bot.research.recorder import RecordStats, record
from bot.venue.connect import create_exchange, public_feed


def _depth(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1 (got {text})")
    return value


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "record",
        help="record order books and trades from a venue (the simulated exchange by default)",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--config", metavar="FILE", help="TOML config: the venue to record (default: in-process sim)")
    p.add_argument("--duration", type=positive, required=True, metavar="SECONDS", help="how long to record")
    p.add_argument("--out", type=Path, required=True, metavar="FILE",
                   help="output file (.jsonl, .jsonl.gz or binary .mmb)")
    p.add_argument("--symbol", action="append", metavar="SYMBOL",
                   help="record this symbol (repeat for several); default venue.symbols")
    p.add_argument("--depth", type=_depth, default=25, help="book levels per side to record (default 25)")
    p.add_argument("--snapshot-every", type=positive, default=60.0, metavar="SECONDS",
                   help="write a full book snapshot this often (default 60)")
    return p


def market_info(exchange: Any, symbol: str) -> dict[str, Any]:
    """Tick, lot, min qty and min notional of ``symbol`` (for the backtester), {} if not derivable."""
    try:
        market = exchange.market(symbol)
        rules = MarketRules.from_ccxt_market(
            market, decimal_places=getattr(exchange, "precisionMode", None) == ccxt.DECIMAL_PLACES)
    except (ValueError, TypeError, KeyError, ccxt.BaseError):
        return {}
    return {"tick": rules.tick, "lot": rules.lot, "min_qty": rules.min_qty, "min_notional": rules.min_notional,
            "base": market.get("base"), "quote": market.get("quote")}


def _exchange(settings: Settings, endpoint: Any) -> Any:
    if endpoint.kind == "paper":
        return public_feed(endpoint.exchange_id, endpoint.url)
    return create_exchange(endpoint.kind, endpoint.exchange_id, endpoint.url, endpoint.api_key,
                           endpoint.api_secret, endpoint.password)


def _venue(settings: Settings) -> Any:
    """The service's venue resolution; a testnet's public data needs no keys, so none are asked for."""
    venue = settings.venue
    if venue.kind == "testnet":
        return contextlib.nullcontext(Endpoint("testnet", venue.exchange, venue.url, None, None))
    return open_endpoint(settings)


async def record_venue(settings: Settings, out: Path, duration: float, depth: int = 25,
                       snapshot_every: float = 60.0, stop: asyncio.Event | None = None) -> RecordStats:
    """Open the configured venue (starting the sim when needed) and record its symbols into ``out``."""
    log = get_logger(component="record")
    symbols = settings.venue.symbols
    async with _venue(settings) as endpoint:
        exchange = _exchange(settings, endpoint)
        try:
            try:
                await exchange.load_markets()
            except ccxt.BaseError as exc:
                where = endpoint.url or f"{endpoint.exchange_id} {endpoint.kind}"
                raise UserError(f"cannot load markets from {where}: {type(exc).__name__}: "
                                f"{' '.join(str(exc).split())[:200]}") from None
            unknown = [s for s in symbols if s not in (exchange.markets or {})]
            if unknown:
                raise UserError(f"unknown symbol {unknown[0]!r} on {endpoint.exchange_id} ({endpoint.kind})")
            meta = {"venue": endpoint.kind, "exchange": endpoint.exchange_id, "symbols": list(symbols),
                    "depth": depth, "start": time.time(), "clock": "local arrival time",
                    "markets": {s: market_info(exchange, s) for s in symbols}}
            writer = open_output(out, meta, "--out")
            with writer:
                log.info("recording", out=str(out), symbols=list(symbols), duration=duration, venue=endpoint.kind)
                try:
                    return await record(exchange, symbols, duration, writer, depth, snapshot_every, log=log,
                                        stop=stop)
                except ccxt.BadSymbol as exc:
                    raise UserError(f"cannot record: {exc}") from None
        finally:
            await exchange.close()


async def _main(settings: Settings, args: argparse.Namespace) -> RecordStats:
    """Record; Ctrl-C or SIGTERM ends the recording early (the file is closed properly)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
    try:
        return await record_venue(settings, args.out, args.duration, args.depth, args.snapshot_every, stop)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def run(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {}
    if args.symbol:
        overrides["venue"] = {"symbols": list(dict.fromkeys(args.symbol))}
    settings = load_settings(args.config, overrides)
    configure_logging(settings.logging.level, settings.logging.format, settings.secret_values())
    if args.out.is_dir() or not args.out.parent.is_dir():
        raise UserError(f"--out: {args.out} is not a writable file path")
    began = time.monotonic()
    stats = asyncio.run(_main(settings, args))
    elapsed = min(args.duration, time.monotonic() - began)
    per = ", ".join(f"{s}: {c['books']} books, {c['trades']} trades" for s, c in stats.symbols.items())
    print(f"recorded {stats.books} book events ({stats.snapshots} snapshots) and {stats.trades} trades "
          f"in {elapsed:.1f} s to {args.out}" + (f" [{per}]" if per else ""), file=sys.stdout)
    return 0
