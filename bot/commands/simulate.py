"""``mmbot simulate``: reproduce a published market-making experiment (Avellaneda–Stoikov 2008)."""

from __future__ import annotations

import argparse
import json
import math

from bot.errors import UserError
from bot.research.as2008 import PAPER_TABLE_GAMMA_0_1, AS2008Params, format_table, simulate

MODELS = ("as2008",)
MAX_PATHS = 1_000_000


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "simulate",
        help="reproduce the Avellaneda-Stoikov (2008) Monte Carlo (inventory vs symmetric strategy)",
        description=(
            "Monte Carlo of Avellaneda & Stoikov (2008), section 3: s0=100, T=1, sigma=2, dt=0.005, "
            "A=140, k=1.5; the inventory strategy against the symmetric one with the same spread."
        ),
    )
    parser.add_argument("--model", default="as2008", help="experiment to run (only: as2008)")
    parser.add_argument("--gamma", type=float, default=0.1, help="risk aversion (paper: 0.1, 0.01, 0.5)")
    parser.add_argument("--paths", type=int, default=1000, help="number of simulated paths (paper: 1000)")
    parser.add_argument("--seed", type=int, default=None, help="random seed for a reproducible run")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def run(args: argparse.Namespace) -> int:
    if args.model not in MODELS:
        raise UserError(f"--model: unknown model {args.model!r} (choose from: {', '.join(MODELS)})")
    if not (math.isfinite(args.gamma) and args.gamma > 0):
        raise UserError(f"--gamma must be a positive number, got {args.gamma}")
    if not 1 <= args.paths <= MAX_PATHS:
        raise UserError(f"--paths must be between 1 and {MAX_PATHS}, got {args.paths}")
    if args.seed is not None and args.seed < 0:
        raise UserError(f"--seed must be a non-negative integer, got {args.seed}")
    result = simulate(AS2008Params(gamma=args.gamma), paths=args.paths, seed=args.seed)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
        return 0
    print(format_table(result))
    if args.gamma == 0.1:
        print("paper, table 1 (gamma=0.1):")
        for name, row in PAPER_TABLE_GAMMA_0_1.items():
            print(
                f"{name:<10} {row['spread']:>8.2f} {row['profit_mean']:>9.2f} {row['profit_std']:>12.2f} "
                f"{row['final_q_mean']:>9.2f} {row['final_q_std']:>13.2f}"
            )
    return 0
