"""``mmbot calibrate``: estimate sigma, A and kappa from a recording and suggest model parameters."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from bot.config import load_settings
from bot.core.calibration import estimate_sigma, fit_intensity, suggest_parameters
from bot.core.display import at_step
from bot.errors import UserError
from bot.research.backtest import infer_tick
from bot.research.events import Event
from bot.research.recording import read_meta, read_recording
from bot.research.replay import calibration_samples, symbols_in


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "calibrate",
        help="estimate sigma, A, kappa from a recording and suggest A-S/GLFT/linear-skew parameters",
        description=(
            "Reads a recording (JSON lines, see bot/research/recording.py), estimates the mid's sigma "
            "(price per sqrt(second)) and fits lambda(delta) = A*exp(-kappa*delta), the per-side Poisson "
            "rate of taker arrivals reaching depth delta from the mid; then suggests model parameters."
        ),
    )
    parser.add_argument("--data", required=True, type=Path, help="recording file (.jsonl or .jsonl.gz)")
    parser.add_argument("--symbol", help="symbol to calibrate (default: the only one in the file)")
    parser.add_argument("--config", metavar="FILE", help="TOML config whose order size (and gamma) are the defaults")
    parser.add_argument(
        "--gamma", type=float, default=None, help="risk aversion per (tick x order) (default: the config's)"
    )
    parser.add_argument(
        "--order-size", type=float, default=None,
        help="order size in base units: the as/glft inventory unit (default: the config's execution.order_size)",
    )
    parser.add_argument("--tick", type=float, default=None, help="price tick (default: the recording's)")
    parser.add_argument("--horizon", type=float, default=60.0, help="A-S horizon T - t in seconds")
    parser.add_argument("--min-depth", type=float, default=0.0, help="fit only arrivals at least this far from the mid")
    parser.add_argument(
        "--bin-width", type=float, default=None, help="least-squares fit on this depth grid instead of MLE"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    return parser


def _positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise UserError(f"{name} must be a positive number, got {value}")


def _side_fit(depths: np.ndarray, duration: float, args: argparse.Namespace) -> dict[str, float] | None:
    try:
        A, kappa = fit_intensity(depths, duration, bin_width=args.bin_width, min_depth=args.min_depth)
    except ValueError:
        return None
    return {"A": A, "kappa": kappa, "arrivals": int(depths.size)}


def calibrate(args: argparse.Namespace) -> dict[str, Any]:
    """Everything the command prints, as a dict (UserError on unusable input)."""
    try:
        events = read_recording(args.data)
    except OSError as exc:
        raise UserError(f"--data: cannot read {args.data}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UserError(f"--data: {args.data}: {exc}") from None
    symbols = symbols_in(events)
    if not symbols:
        raise UserError(f"--data: {args.data} holds no book or trade events")
    symbol = args.symbol
    if symbol is None:
        if len(symbols) > 1:
            raise UserError(f"--symbol is required: the recording has {', '.join(symbols)}")
        symbol = symbols[0]
    elif symbol not in symbols:
        raise UserError(f"--symbol {symbol!r} is not in the recording (it has {', '.join(symbols)})")
    settings = load_settings(args.config)
    cfg = settings.for_symbol(symbol)
    strategy, execution = cfg.strategy, cfg.execution
    gamma = args.gamma if args.gamma is not None else strategy.gamma
    order_size = args.order_size if args.order_size is not None else execution.order_size
    samples = calibration_samples(events, symbol)
    depths = samples.all_depths
    try:
        sigma = estimate_sigma(samples.times, samples.mids)
        A_both, kappa = fit_intensity(depths, samples.duration, bin_width=args.bin_width, min_depth=args.min_depth)
    except ValueError as exc:
        raise UserError(f"cannot calibrate {symbol} from {args.data}: {exc}") from None
    if sigma == 0:
        raise UserError(f"cannot calibrate {symbol} from {args.data}: the mid never moved (sigma = 0)")
    # A–S's lambda is per side; pooled arrivals of both sides (same kappa) have twice the rate.
    A = A_both / 2.0
    tick = args.tick or _recorded_tick(args.data, events, symbol)
    try:
        suggestions = suggest_parameters(sigma, A, kappa, gamma, order_size, horizon=args.horizon, tick=tick)
    except ValueError as exc:
        raise UserError(f"cannot suggest parameters: {exc}") from None
    return {
        "symbol": symbol,
        "data": str(args.data),
        "duration": samples.duration,
        "mid_samples": int(samples.mids.size),
        "arrivals": int(depths.size),
        "trades_before_first_mid": samples.trades_skipped,
        "median_half_spread": float(np.median(samples.half_spreads)),
        "min_depth": args.min_depth,
        "sigma": sigma,
        "A": A,
        "kappa": kappa,
        "by_side": {
            "buy": _side_fit(samples.buy_depths, samples.duration, args),
            "sell": _side_fit(samples.sell_depths, samples.duration, args),
        },
        "fit": "mle" if args.bin_width is None else f"least-squares, bin width {args.bin_width}",
        "suggestions": suggestions,
    }


def _recorded_tick(path: Path, events: list[Event], symbol: str) -> float:
    """The recording's tick: its meta line's, else the smallest gap between its prices."""
    try:
        markets = read_meta(path).get("markets")
    except (OSError, ValueError):
        markets = None
    info = markets.get(symbol) if isinstance(markets, dict) else None
    if isinstance(info, dict) and info.get("tick"):
        return float(info["tick"])
    try:
        return infer_tick(events, symbol)
    except UserError as exc:
        raise UserError(f"{exc.lines[0]}; pass --tick") from None


def strategy_block(report: dict[str, Any]) -> list[str]:
    """The suggestions as config tables for the symbol, ready to paste (prices at the tick, 2 digits finer)."""
    s, symbol = report["suggestions"], report["symbol"]
    tick = s["tick"]
    return [
        f'[symbols."{symbol}".strategy]',
        'model = "glft"                     # or "as", or "linear" (half_spread and skew below)',
        f"gamma = {s['gamma']:g}                      # per (tick x order): inventory in orders, prices in ticks",
        f"sigma = {s['sigma']:.4g}",
        f"A = {s['A']:.4g}",
        f"kappa = {s['kappa']:.4g}",
        f"horizon = {s['horizon']:g}",
        f"half_spread = {at_step(s['linear_half_spread'], tick, 2)}",
        f"skew = {s['linear_skew']:.4g}                       # linear: price per base unit of inventory",
        f'[symbols."{symbol}".risk]',
        f"max_position = {at_step(s['max_position'], s['order_size'])}",
        f'[symbols."{symbol}".execution]',
        f"order_size = {s['order_size']:g}",
    ]


def _text(report: dict[str, Any]) -> str:
    s = report["suggestions"]
    tick = s["tick"]
    sides = []
    for name in ("buy", "sell"):
        fit = report["by_side"][name]
        if fit is not None:
            sides.append(f"{name} takers A={fit['A']:.4g} kappa={fit['kappa']:.4g} (n={fit['arrivals']})")
    lines = [
        f"calibration of {report['symbol']} from {report['data']}: {report['mid_samples']} mid samples, "
        f"{report['arrivals']} taker arrivals over {report['duration']:.1f} s ({report['fit']})",
        f"  sigma  {report['sigma']:.6g} price/sqrt(s)",
        f"  A      {report['A']:.6g} arrivals/s per side at the mid",
        f"  kappa  {report['kappa']:.6g} per price unit",
    ]
    if sides:
        lines.append("  by side: " + "; ".join(sides))
    lines.append(
        f"  median half-spread at the touch {report['median_half_spread']:.6g} (fit from depth "
        f"{report['min_depth']:g}; if trades rarely print inside the touch, pass --min-depth near it)"
    )
    lines += [
        f"suggestions for gamma={s['gamma']:g} per (tick x order), order size {s['order_size']:g}, tick {tick:g}, "
        f"horizon {s['horizon']:g} s:",
        f"  A-S     half-spread {at_step(s['as_half_spread'], tick, 2)}, reservation skew "
        f"{at_step(s['as_skew'], tick, 2)} per order",
        f"  GLFT    half-spread {at_step(s['glft_half_spread'], tick, 2)}, skew {at_step(s['glft_skew'], tick, 2)} "
        "per order",
        f"  linear  half-spread {at_step(s['linear_half_spread'], tick, 2)}, skew {s['linear_skew']:.4g} per base "
        f"unit, limit {at_step(s['max_position'], s['order_size'])}",
        "config (paste into your TOML):",
        *("  " + line for line in strategy_block(report)),
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    for flag, value in (("--gamma", args.gamma), ("--order-size", args.order_size), ("--tick", args.tick)):
        if value is not None:
            _positive(flag, value)
    _positive("--horizon", args.horizon)
    if not (math.isfinite(args.min_depth) and args.min_depth >= 0):
        raise UserError(f"--min-depth must be a non-negative number, got {args.min_depth}")
    if args.bin_width is not None:
        _positive("--bin-width", args.bin_width)
    report = calibrate(args)
    print(json.dumps(report, indent=2) if args.json else _text(report))
    return 0
