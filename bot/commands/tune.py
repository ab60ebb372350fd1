"""``mmbot tune``: sweep strategy, risk and execution settings over recordings with the shared backtest; the
table of every trial, the frontier, the recommended config block and the walk-forward report.

Each trial is the config's settings for the symbol plus the trial's overrides (``--grid``, ``--range``,
``--space FILE.toml``), replayed by the backtest ``mmbot backtest`` runs, on every ``--data`` recording. Trials run
on all local cores (``--workers N``; 1 = in this process) or on a Dask cluster (``--scheduler tcp://HOST:8786``,
``pip install mmbot[cluster]``). Finished trials are cached in ``OUT/cache.jsonl`` (keyed by settings, data and
version), so an interrupted sweep resumes where it stopped. With ``--walk-forward F`` (default 0.7; 0 = off) every
trial also runs on the held-out last part of the time span; the choice is made on the first part. See
docs/research.md, "Tuning".
Exit codes: 0 done, 2 bad arguments, config, space or data, 130 interrupted (the finished trials' table written).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.argtypes import non_negative, positive
from bot.commands.backtest import add_fee_flags, choose_symbol, market_of, reading
from bot.core.display import Steps, money, plain
from bot.errors import UserError
from bot.research.recording import read_meta
from bot.research.tune import report
from bot.research.tune.cache import Cache
from bot.research.tune.data import file_sha256
from bot.research.tune.objective import KINDS, Objective, choose, score, skew_picks
from bot.research.tune.runner import DataRef, Stats
from bot.research.tune.runner import run as run_sweep
from bot.research.tune.space import Space, build_space
from bot.research.tune.sweep import in_order, plan, splits_of
from bot.research.tune.trial import TuneBase, inventory_path

DEFAULT_OUT = Path("tune-results")
BLOCK_FILE = "recommended.toml"


def _fraction(text: str) -> float:
    value = non_negative(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be 0 (off) or between 0 and 1 (got {text})")
    return value


def _count(text: str, least: int = 0) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be >= {least} (got {text})")
    return value


def _workers(text: str) -> int:
    return _count(text, 1)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("tune", help="sweep settings over recordings with the backtest: table, frontier, "
                              "recommended block, walk-forward", description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, action="append", required=True, metavar="FILE",
                   help="recording (.jsonl, .jsonl.gz, .mmb); repeat for several (metrics summed over them)")
    p.add_argument("--config", metavar="FILE", help="TOML config: the base settings every trial overrides")
    p.add_argument("--symbol", help="symbol to tune (default: the only one in the recordings)")
    p.add_argument("--space", type=Path, metavar="FILE.toml",
                   help="search space: [space] KEY = [values] or {lo, hi, n}; optional [objective], [constraints]")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="values of one setting, e.g. strategy.skew=0,0.5,1 (repeatable)")
    p.add_argument("--range", action="append", default=[], metavar="KEY=LO:HI:N",
                   help="N evenly spaced values from LO to HI inclusive (repeatable)")
    p.add_argument("--objective", choices=KINDS, help="pnl (default): P&L net of fees; risk: P&L - lambda x q_std^2; "
                   "pareto: the P&L / q_std frontier, the chosen point its best risk objective")
    p.add_argument("--risk-lambda", type=non_negative, metavar="X",
                   help="weight of the inventory variance (quote per base unit squared); needed by risk and pareto")
    p.add_argument("--max-q-frac", type=float, metavar="F", help="constraint: max |q| <= limit x F (default 1)")
    p.add_argument("--min-fills", type=_count, metavar="N", help="constraint: fills >= N (default 1)")
    p.add_argument("--walk-forward", type=_fraction, default=0.7, metavar="FRAC",
                   help="fit on the first FRAC of the time span, check on the rest (default 0.7; 0 = off)")
    p.add_argument("--workers", type=_workers, metavar="N", help="local processes (default: every core; 1 = here)")
    p.add_argument("--scheduler", metavar="tcp://HOST:8786", help="run the trials on this Dask cluster")
    p.add_argument("--ship-data", action="store_true",
                   help="with --scheduler: send the recordings to each worker once (default: read the same path)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="DIR",
                   help=f"output folder: tables, pictures, page, block, cache (default {DEFAULT_OUT})")
    p.add_argument("--latency-ms", type=non_negative, default=0.0, metavar="N", help="order latency (default 0)")
    p.add_argument("--tick", type=positive, help="price tick (default: from the recording)")
    p.add_argument("--lot", type=non_negative, help="size step, 0 = none (default: from the recording)")
    p.add_argument("--no-cache", action="store_true", help="run every trial again (results still cached)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    add_fee_flags(p)
    return p


def objective_of(args: argparse.Namespace, space: Space) -> Objective:
    """The objective and constraints: the flags, else the space file's, else the defaults (UserError if bad)."""
    opts = space.options
    kind = args.objective or opts.get("kind", "pnl")
    lam = args.risk_lambda if args.risk_lambda is not None else opts.get("risk_lambda")
    frac = args.max_q_frac if args.max_q_frac is not None else opts.get("max_q_frac", 1.0)
    fills = args.min_fills if args.min_fills is not None else opts.get("min_fills", 1)
    try:
        if lam is not None:
            lam = float(lam)
        if isinstance(fills, bool) or not isinstance(fills, int) or not isinstance(frac, int | float):
            raise ValueError("max_q_frac must be a number and min_fills a whole number")
        return Objective(kind, lam, float(frac), fills)
    except (TypeError, ValueError) as exc:
        raise UserError(str(exc)) from None


def _market(args: argparse.Namespace) -> tuple[str, TuneBase]:
    """The symbol (in every recording) and the sweep's base (rules from the first recording's meta)."""
    paths: list[Path] = args.data
    metas = [reading(p, lambda p=p: read_meta(p)) for p in paths]
    symbol = choose_symbol(paths[0], metas[0], args.symbol)
    for path, meta in zip(paths[1:], metas[1:], strict=True):
        choose_symbol(path, meta, symbol)
    rules, base_ccy, quote_ccy = market_of(paths[0], metas[0], symbol, args.tick, args.lot)
    base = TuneBase.load(args.config, symbol, rules, args.latency_ms / 1000.0, args.maker_fee, args.min_edge,
                         base_ccy, quote_ccy)
    return symbol, base


def _pictures(rows: list[dict[str, Any]], chosen: str | None, base: TuneBase, data: list[Path], out: Path,
              limit: float) -> dict[str, Path]:
    """The frontier and the inventory paths (chosen, too weak, too strong skew) as PNGs; {} without matplotlib
    (one line says how to get it)."""
    try:
        from bot.research.tune import plots
    except ImportError:
        print("mmbot: no pictures: pip install mmbot[plot]", file=sys.stderr)
        return {}
    pictures: dict[str, Path] = {}
    try:
        pictures["frontier: inventory risk against spread given up and P&L"] = plots.frontier_png(
            rows, chosen, out / "frontier.png", risk="q_std", quote=base.quote, base=base.base)
        if chosen is not None:
            by_id = {r["id"]: r for r in rows}
            labels = {"best": chosen, **skew_picks(rows, chosen)}
            paths = {}
            for label, trial in labels.items():
                overrides = {k[2:]: v for k, v in by_id[trial].items() if k.startswith("p.")}
                shown = ", ".join(f"{k.split('.')[-1]} {report.param_text(k, v)}" for k, v in overrides.items())
                paths[f"{label} ({shown})" if shown else label] = inventory_path(data, base.symbol, overrides, base)
            pictures["inventory paths: the best, a too-weak and a too-strong skew"] = plots.paths_png(
                paths, limit, out / "paths.png", base=base.base)
    except plots.PlotsUnavailableError as exc:
        print(f"mmbot: no pictures: {exc.lines[0]}", file=sys.stderr)
    return {k: v for k, v in pictures.items() if v is not None}


MONEY = frozenset({"total_pnl", "spread_captured", "inventory_pnl", "fees", "skew_cost", "volume_quote", "objective"})
POSITIONS = frozenset({"q_std", "max_abs_q", "final_q", "limit"})
BPS = frozenset({"markout_1s_bps", "markout_10s_bps"})


def shown_row(row: dict[str, Any], steps: Steps) -> dict[str, Any]:
    """A row as the JSON output shows it: money to 4 decimals, positions at the lot (the satoshi where finer),
    markouts to 2 decimals of a bp, other numbers without float noise."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, bool) or not isinstance(value, float):
            out[key] = value
        elif key in MONEY:
            out[key] = money(value)
        elif key in POSITIONS:
            out[key] = steps.position(value)
        elif key in BPS:
            out[key] = round(value, 2) + 0.0
        else:
            out[key] = plain(value)
    return out


def run(args: argparse.Namespace) -> int:
    if args.ship_data and args.scheduler is None:
        raise UserError("--ship-data sends the recordings to a Dask cluster's workers: add --scheduler")
    space = build_space(args.grid, args.range, args.space)
    objective = objective_of(args, space)
    symbol, base = _market(args)
    steps = Steps(base.tick, base.lot)
    # absolute paths: a Dask worker reading the shared path may run in another folder
    refs = [DataRef(str(p.resolve()), reading(p, lambda p=p: file_sha256(p))) for p in args.data]
    fraction = args.walk_forward
    tasks = plan(space.trials(), base, refs, fraction)
    out: Path = args.out
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out: cannot create {out}: {exc.strerror or exc}") from None
    cache = Cache(out)
    done = {} if args.no_cache else cache.load()
    todo = [t for t in tasks if t.key not in done]
    rows = {t.key: done[t.key] for t in tasks if t.key in done}
    with cache:
        def finished(key: str, row: dict[str, Any]) -> None:
            cache.add(key, row)
            rows[key] = row

        stats = run_sweep(todo, refs, base, fraction, finished, args.workers, args.scheduler, args.ship_data)
    scored = score(in_order(tasks, rows), objective)
    if any(r["events"] == 0 for r in scored):
        raise UserError(f"--data: a recording holds no events of {symbol}")
    csv_path, json_path = report.write_table(scored, out)
    if stats.interrupted:
        print(f"mmbot: interrupted: {len(scored)} of {len(tasks)} trials done ({len(tasks) - len(todo)} from the "
              f"cache); their table: {csv_path}, {json_path}; run the same command again to resume",
              file=sys.stderr)
        return 130
    return _outputs(args, symbol, base, steps, scored, objective, fraction, stats, len(tasks) - len(todo),
                    (csv_path, json_path))


def _outputs(args: argparse.Namespace, symbol: str, base: TuneBase, steps: Steps, scored: list[dict[str, Any]],
             objective: Objective, fraction: float, stats: Stats, cached: int, tables: tuple[Path, Path]) -> int:
    """Choose, draw, write the block and the page, print (text or one JSON object)."""
    out: Path = args.out
    fit_split = splits_of(fraction)[0]
    fitted = [r for r in scored if r["split"] == fit_split]
    chosen = choose(fitted)
    chosen_row = next((r for r in fitted if r["id"] == chosen), None)
    overrides = {} if chosen_row is None else {k[2:]: v for k, v in chosen_row.items() if k.startswith("p.")}
    block = report.recommended_block(symbol, overrides, steps) if chosen_row is not None else ""
    files: dict[str, str] = {"csv": str(tables[0]), "json": str(tables[1])}
    if block:
        (out / BLOCK_FILE).write_text(block if block.endswith("\n") else block + "\n", encoding="utf-8")
        files["recommended"] = str(out / BLOCK_FILE)
    walk = []
    if fraction:
        walk = report.walk_forward_lines(fitted, [r for r in scored if r["split"] == "out"], objective, steps)
    limit = chosen_row["limit"] if chosen_row is not None else (fitted[0]["limit"] if fitted else 0.0)
    pictures = _pictures(fitted, chosen, base, args.data, out, limit)
    for caption, path in pictures.items():
        files[caption.split(":")[0]] = str(path)
    files["html"] = str(report.write_html(out, fitted, chosen, pictures, block, walk, steps,
                                          title=f"mmbot tune {symbol}"))
    none_line = (f"no trial meets the constraints (max |q| <= {objective.max_q_frac:g} x limit, fills >= "
                 f"{objective.min_fills}): nothing to recommend")
    if args.json:
        print(json.dumps({"symbol": symbol, "trials": len(scored), "computed": stats.done, "cached": cached,
                          "workers": stats.workers, "reads": stats.reads, "seconds": round(stats.seconds, 3),
                          "objective": objective.kind,
                          "chosen": chosen, "chosen_row": None if chosen_row is None else shown_row(chosen_row, steps),
                          "recommended": block or None,
                          "walk_forward": walk, "files": files}, default=str))
        return 0
    print(f"tune {symbol}: {len(fitted)} trials" + (f" fitted on the first {fraction:.0%} of the time span"
                                                     if fraction else "")
          + f", {stats.done} run on {stats.workers} worker(s) in {stats.seconds:.1f} s (recordings read "
            f"{stats.reads} times), {cached} from the cache; "
            f"objective {objective.kind}")
    print(report.format_table(fitted, steps, chosen_id=chosen))
    if block:
        print(f"\nrecommended (trial {chosen}):\n{block.rstrip()}")
    else:
        print(f"\n{none_line}")
    if walk:
        print("\n" + "\n".join(walk))
    print("\nwrote " + ", ".join(files.values()))
    return 0
