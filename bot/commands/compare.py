"""``mmbot compare``: symmetric vs linear skew vs hard limit vs A–S vs GLFT on the same synthetic flow."""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
from pathlib import Path

from bot.core.display import money, plain
from bot.errors import UserError
from bot.research.compare import FlowParams, StrategyResult, compare, compare_with_hedge, format_table, strategies
from bot.research.hedged import PerpParams, as_dict, format_hedged

PLOT_HINT = "--plot needs matplotlib: pip install 'mmbot[plot]' (or pip install matplotlib)"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    d = FlowParams()
    parser = subparsers.add_parser(
        "compare",
        help="compare quote models side by side on one identical synthetic order flow",
        description=(
            "Every strategy sees the same seeded takers and mid path; the run lasts until the symmetric "
            "strategy has --fills fills. Strategies are quoted by the bot's own make_quote."
        ),
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the flow (default 1)")
    parser.add_argument("--json", action="store_true", help="print JSON (one object per strategy)")
    parser.add_argument("--plot", type=Path, metavar="FILE.png", help="save the inventory paths (matplotlib)")
    parser.add_argument("--mid", type=float, default=d.mid, help=f"starting mid (default {d.mid:.2f})")
    parser.add_argument("--half-spread", type=float, default=d.half_spread, help="symmetric/linear half-spread")
    parser.add_argument("--sell-share", type=float, default=d.sell_share, help="fraction of takers that sell")
    parser.add_argument("--skew", type=float, default=d.skew, help="linear skew, price per lot of inventory")
    parser.add_argument("--limit", type=float, default=d.limit, help="hard limit in lots (linear+limit)")
    parser.add_argument("--fills", type=int, default=d.fills, help="fills of the symmetric run (sets the length)")
    parser.add_argument("--maker-fee", type=float, default=0.0, metavar="BPS",
                        help="maker fee in bps (negative = rebate), charged on every fill and flooring every "
                             "strategy's half-spread as the bot does (default 0)")
    parser.add_argument("--min-edge", type=float, default=0.0, metavar="BPS",
                        help="bps of the mid a fill must earn net of the maker fee (the fee floor; default 0)")
    add_hedge_flags(parser, band=2.0, with_strategy=True)
    return parser


def add_hedge_flags(parser: argparse.ArgumentParser, band: float | None, with_strategy: bool = False) -> None:
    """``--hedged`` and the synthetic perpetual's flags (shared with ``mmbot backtest``); ``band`` None: the
    config's ``[hedge]`` leg settings give band and ratio."""
    p = PerpParams()
    group = parser.add_argument_group("hedged variant (a synthetic perpetual beside the spot flow)")
    group.add_argument("--hedged", action="store_true",
                       help="also run the flow hedged in a synthetic perp and print hedged vs unhedged")
    if band is not None:
        group.add_argument("--hedge-band", type=float, default=band, help=f"act beyond this |net| (default {band:g})")
        group.add_argument("--hedge-ratio", type=float, default=p.ratio, help="hedge units per spot unit (default 1)")
    if band is None:  # (compare's --seed seeds its flow and the perp alike)
        group.add_argument("--seed", type=int, default=1, help="seed of the synthetic perp's basis (default 1)")
    if with_strategy:
        group.add_argument("--hedge-strategy", default="symmetric", help="whose fills are hedged (default symmetric)")
    group.add_argument("--basis-shock-bps", type=float, default=0.0, metavar="BPS",
                       help="one basis shock of this size (bps of the spot mid), also measured (default none)")
    group.add_argument("--shock-at", type=float, metavar="SECONDS",
                       help="when the shock hits, seconds after the start (default the middle of the run)")
    group.add_argument("--basis-volatility", type=float, default=p.basis_volatility, metavar="BPS",
                       help=f"OU volatility of the basis, bps per sqrt(s) (default {p.basis_volatility:g})")
    group.add_argument("--pnl-horizon", type=float, default=p.pnl_horizon, metavar="SECONDS",
                       help=f"std(dP&L) is over this horizon (default {p.pnl_horizon:g})")
    group.add_argument("--funding-interval", type=float, default=p.funding_interval, metavar="SECONDS",
                       help=f"seconds between funding payments (default {p.funding_interval:g})")
    group.add_argument("--perp-taker-fee", type=float, default=p.taker_fee * 1e4, metavar="BPS",
                       help=f"taker fee of a hedge fill (default {p.taker_fee * 1e4:g})")


def perp_of(args: argparse.Namespace, **leg: float) -> PerpParams:
    """The flags as :class:`PerpParams` (``leg``: band, ratio, ... from elsewhere, else the flags')."""
    check_hedge_flags(args)
    if "band" not in leg:
        leg = {**leg, "band": args.hedge_band, "ratio": args.hedge_ratio}
    return PerpParams(basis_shock_bps=args.basis_shock_bps, shock_at=args.shock_at,
                      basis_volatility=args.basis_volatility,
                      funding_interval=args.funding_interval, pnl_horizon=args.pnl_horizon,
                      taker_fee=args.perp_taker_fee / 1e4, **leg)


def check_hedge_flags(args: argparse.Namespace) -> None:
    """Bad hedged-variant flags: one-line UserError (before anything runs)."""
    values = {"--basis-shock-bps": args.basis_shock_bps, "--basis-volatility": args.basis_volatility,
              "--perp-taker-fee": args.perp_taker_fee, "--funding-interval": args.funding_interval,
              "--pnl-horizon": args.pnl_horizon}
    if args.shock_at is not None:
        values["--shock-at"] = args.shock_at
    flags = "hedge_band" in args
    if flags:
        values.update({"--hedge-band": args.hedge_band, "--hedge-ratio": args.hedge_ratio})
    for flag, value in values.items():
        if not math.isfinite(value):
            raise UserError(f"{flag} must be a finite number, got {value}")
    if args.seed < 0:
        raise UserError(f"--seed must be a non-negative integer, got {args.seed}")
    if args.shock_at is not None and args.shock_at < 0:
        raise UserError(f"--shock-at must be >= 0, got {args.shock_at:g}")
    if args.pnl_horizon <= 0:
        raise UserError(f"--pnl-horizon must be > 0, got {args.pnl_horizon:g}")
    if args.funding_interval <= 0:
        raise UserError(f"--funding-interval must be > 0, got {args.funding_interval:g}")
    if args.basis_volatility < 0:
        raise UserError(f"--basis-volatility must be >= 0, got {args.basis_volatility:g}")
    if not 0 <= args.perp_taker_fee < 100:
        raise UserError(f"--perp-taker-fee is in bps and must be between 0 and 100, got {args.perp_taker_fee:g}")
    if abs(args.basis_shock_bps) > 10_000:
        raise UserError(f"--basis-shock-bps must be within +-10000, got {args.basis_shock_bps:g}")
    if flags and args.hedge_band < 0:
        raise UserError(f"--hedge-band must be >= 0, got {args.hedge_band:g}")
    if flags and not 0 < args.hedge_ratio <= 10:
        raise UserError(f"--hedge-ratio must be in (0, 10], got {args.hedge_ratio:g}")


def _check(args: argparse.Namespace) -> FlowParams:
    if args.seed < 0:
        raise UserError(f"--seed must be a non-negative integer, got {args.seed}")
    values = {
        "--mid": args.mid,
        "--half-spread": args.half_spread,
        "--sell-share": args.sell_share,
        "--skew": args.skew,
        "--limit": args.limit,
        "--maker-fee": args.maker_fee,
        "--min-edge": args.min_edge,
    }
    for flag, value in values.items():
        if not math.isfinite(value):
            raise UserError(f"{flag} must be a finite number, got {value}")
    if args.mid <= 0:
        raise UserError(f"--mid must be positive, got {args.mid}")
    if args.half_spread < 0:
        raise UserError(f"--half-spread must be >= 0, got {args.half_spread}")
    if not 0 <= args.sell_share <= 1:
        raise UserError(f"--sell-share must be between 0 and 1, got {args.sell_share}")
    if args.skew <= 0:
        raise UserError(f"--skew must be positive, got {args.skew}")
    if args.limit <= 0:
        raise UserError(f"--limit must be positive, got {args.limit}")
    if not -100 < args.maker_fee < 100:
        raise UserError(f"--maker-fee is in bps and must be between -100 and 100, got {args.maker_fee:g}")
    if not -10_000 <= args.min_edge <= 10_000:
        raise UserError(f"--min-edge is in bps and must be between -10000 and 10000, got {args.min_edge:g}")
    if not 1 <= args.fills <= 20_000:
        raise UserError(f"--fills must be between 1 and 20000, got {args.fills}")
    if args.plot is not None and importlib.util.find_spec("matplotlib") is None:
        raise UserError(PLOT_HINT)
    return FlowParams(
        mid=args.mid,
        half_spread=args.half_spread,
        sell_share=args.sell_share,
        skew=args.skew,
        limit=args.limit,
        fills=args.fills,
        maker_fee=args.maker_fee / 10_000.0,
        min_edge=args.min_edge / 10_000.0,
        max_arrivals=max(FlowParams().max_arrivals, 50 * args.fills),
    )


def save_plot(results: list[StrategyResult], params: FlowParams, path: Path) -> None:
    """Inventory paths side by side, one panel per strategy, sharing the y axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(3.2 * len(results), 3.2), sharey=True)
    for ax, r in zip(axes, results, strict=True):
        ax.plot(r.q_path, linewidth=1.0)
        ax.axhline(0.0, color="grey", linewidth=0.5)
        if r.name == "linear+limit":
            for y in (params.limit, -params.limit):
                ax.axhline(y, color="red", linewidth=0.7, linestyle="--")
        ax.set_title(f"{r.name}\nmax|q| {r.max_abs_q:g}")
        ax.set_xlabel("taker arrival")
    axes[0].set_ylabel("inventory q (lots)")
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=100)
    except OSError as exc:
        raise UserError(f"--plot: cannot write {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)


#: strategy result fields in the quote currency (money, to 4 decimals); every other number is shown plain
MONEY_FIELDS = frozenset({"spread_pnl", "mtm_pnl", "spread_given_up", "fees"})


def shown(values: dict[str, object]) -> dict[str, object]:
    """``values`` as the JSON output shows them: money to 4 decimals, other floats without float noise."""
    out: dict[str, object] = {}
    for key, value in values.items():
        if isinstance(value, float):
            out[key] = money(value) if key in MONEY_FIELDS else plain(value)
        else:
            out[key] = value
    return out


def _shown_all(value: object) -> object:
    """Every float inside ``value`` to 4 decimals (money and the hedged variant's sizes alike)."""
    if isinstance(value, float):
        return money(value)
    if isinstance(value, dict):
        return {k: _shown_all(v) for k, v in value.items()}
    return value


def run(args: argparse.Namespace) -> int:
    params = _check(args)
    hedged = None
    if args.hedged:
        if args.hedge_strategy not in strategies(params):
            raise UserError(f"--hedge-strategy must be one of {', '.join(strategies(params))}, "
                            f"got {args.hedge_strategy!r}")
        perp = perp_of(args, tick=params.tick)
        results, arrivals, hedged = compare_with_hedge(params, perp, args.seed, args.hedge_strategy)
    else:
        results, arrivals = compare(params, seed=args.seed)
    if args.plot is not None:
        save_plot(results, params, args.plot)
    if args.json:
        payload = {
            "params": shown({**params.__dict__, "gamma": params.gamma, "seed": args.seed, "arrivals": arrivals}),
            "strategies": [shown(r.as_dict()) for r in results],
        }
        if hedged is not None:
            payload["hedged"] = {"strategy": args.hedge_strategy, **_shown_all(as_dict(hedged))}
        print(json.dumps(payload, indent=2))
    else:
        print(format_table(results, params, arrivals))
        if hedged is not None:
            print(format_hedged(hedged, perp, args.hedge_strategy))
        if args.plot is not None:
            print(f"inventory paths saved to {args.plot}")
    return 0
