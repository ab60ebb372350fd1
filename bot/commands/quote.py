"""``mmbot quote``: what would the bot quote here? Prints one JSON object.

Parameters not given come from the ``[strategy]``, ``[risk]`` and ``[execution]`` sections of
``--config FILE`` when given, else from the settings defaults; flags override both. Values are
validated by the same pydantic models as the config file. One exception: without ``--config``
and ``--limit`` there is no position limit (the settings default of 1 base unit would hide the
model's answer for larger inventories), so ``--limit`` shows the limit's effect explicitly.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from pydantic import BaseModel

from bot.config import ExecutionSettings, RiskSettings, StrategySettings, load_settings
from bot.core import MarketRules, QuoteInputs
from bot.core.models import MODELS
from bot.errors import UserError
from bot.ops.explore import merged, quote_document

# settings field -> the flag that sets it (for error messages)
FLAGS = {"max_position": "--limit", "order_size": "--size", "A": "--A"}
STRATEGY_FIELDS = (
    "model", "half_spread", "skew", "target_q", "gamma", "sigma", "kappa", "A", "horizon",
    "horizon_mode", "min_spread", "min_edge", "maker_fee",
)  # fmt: skip


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite (got {text})")
    return value


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "quote",
        help="print the quote the bot would make for a given mid and inventory (JSON)",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--config", metavar="FILE", help="TOML config whose strategy/risk/execution are the defaults")
    p.add_argument("--symbol", help="apply this symbol's overrides from --config")
    m = p.add_argument_group("model")
    m.add_argument("--model", help=" | ".join(MODELS))
    m.add_argument("--half-spread", type=_finite, help="symmetric/linear: centre-to-quote distance")
    m.add_argument("--skew", type=_finite, help="linear: price shift per unit of inventory")
    m.add_argument("--target-q", type=_finite, help="inventory target q*")
    m.add_argument("--gamma", type=_finite, help="as/glft: risk aversion")
    m.add_argument("--sigma", type=_finite, help="as/glft: volatility, price per sqrt(second)")
    m.add_argument("--kappa", type=_finite, help="as/glft: order-arrival decay per price unit")
    m.add_argument("--A", type=_finite, help="glft: order-arrival rate at the touch per second")
    m.add_argument("--horizon", type=_finite, help="as: T - t in seconds")
    m.add_argument("--horizon-mode", help="as: rolling | session")
    m.add_argument("--min-spread", type=_finite, help="minimum distance between bid and ask")
    m.add_argument("--min-edge", type=_finite, help="bps a maker fill must earn net of the maker fee (fee floor)")
    m.add_argument("--maker-fee", type=_finite,
                   help="maker fee in bps, negative for a rebate (default: strategy.maker_fee, else 0)")
    s = p.add_argument_group("market and inventory")
    s.add_argument("--mid", type=_finite, required=True, help="mid price")
    s.add_argument("--q", type=_finite, default=0.0, help="inventory, base units (default 0)")
    s.add_argument("--t", type=_finite, default=0.0, help="time in seconds (as session horizon)")
    s.add_argument("--best-bid", type=_finite, help="best bid, for the post-only clamp")
    s.add_argument("--best-ask", type=_finite, help="best ask, for the post-only clamp")
    s.add_argument("--open-buy", type=_finite, default=0.0, help="buy size already resting")
    s.add_argument("--open-sell", type=_finite, default=0.0, help="sell size already resting")
    r = p.add_argument_group("limits and market rules")
    r.add_argument(
        "--limit",
        type=_finite,
        help="hard position limit L (default: risk.max_position with --config, else none)",
    )
    r.add_argument("--max-notional", type=_finite, help="cap on |q| * price")
    r.add_argument("--size", type=_finite, help="order size (execution.order_size)")
    r.add_argument("--max-order-size", type=_finite, help="cap on one order's size")
    r.add_argument("--tick", type=_finite, default=0.01, help="price tick (default 0.01)")
    r.add_argument("--lot", type=_finite, default=0.0, help="size step (default 0: none)")
    r.add_argument("--min-qty", type=_finite, default=0.0, help="venue minimum size")
    r.add_argument("--min-notional", type=_finite, default=0.0, help="venue minimum size * price")
    return p


def _merge(model: type[BaseModel], base: BaseModel, overrides: dict[str, Any]) -> Any:
    """Validate ``base`` with ``overrides`` applied; errors name the flag, e.g. ``--gamma: must be > 0``."""
    return merged(model, base, overrides, FLAGS)


def _given(args: argparse.Namespace, mapping: dict[str, str]) -> dict[str, Any]:
    return {field: getattr(args, dest) for field, dest in mapping.items() if getattr(args, dest) is not None}


def run(args: argparse.Namespace) -> int:
    if args.config is not None:
        settings = load_settings(args.config)
        symbol = args.symbol or settings.venue.symbols[0]
        section = settings.for_symbol(symbol)
        strategy, risk, execution = section.strategy, section.risk, section.execution
    else:
        strategy, risk, execution = StrategySettings(), RiskSettings(), ExecutionSettings()

    strategy = _merge(StrategySettings, strategy, _given(args, {f: f for f in STRATEGY_FIELDS}))
    risk = _merge(RiskSettings, risk, _given(args, {"max_position": "limit", "max_notional": "max_notional"}))
    execution = _merge(
        ExecutionSettings, execution, _given(args, {"order_size": "size", "max_order_size": "max_order_size"})
    )

    if args.mid <= 0:
        raise UserError(f"--mid: must be > 0 (got {args.mid:g})")
    if args.tick <= 0:
        raise UserError(f"--tick: must be > 0 (got {args.tick:g})")
    for flag in ("lot", "min_qty", "min_notional", "open_buy", "open_sell"):
        if getattr(args, flag) < 0:
            raise UserError(f"--{flag.replace('_', '-')}: must be >= 0 (got {getattr(args, flag):g})")
    for flag in ("best_bid", "best_ask"):
        value = getattr(args, flag)
        if value is not None and value <= 0:
            raise UserError(f"--{flag.replace('_', '-')}: must be > 0 (got {value:g})")

    inputs = QuoteInputs(
        mid=args.mid,
        q=args.q,
        best_bid=args.best_bid,
        best_ask=args.best_ask,
        t=args.t,
        open_buy=args.open_buy,
        open_sell=args.open_sell,
    )
    rules = MarketRules(tick=args.tick, lot=args.lot, min_qty=args.min_qty, min_notional=args.min_notional)
    unlimited = args.config is None and args.limit is None
    print(json.dumps(quote_document(strategy, risk, execution, rules, inputs, unlimited=unlimited)))
    return 0
