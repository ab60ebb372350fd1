"""``mmbot backtest``: replay a recording through the bot's quoting, limits and the paper fill model.

Strategy, limits and requote tolerance come from ``--config`` (per-symbol overrides applied) or the
defaults; the maker fee and queue model from its ``[paper]`` section. ``--maker-fee``/``--min-edge`` (bps)
override the fee floor as ``mmbot quote``'s do, and ``--maker-fee`` the fill model's fee too: what is charged
is what is floored. Tick and lot come from the recording's meta line (``mmbot record`` stores them), else
``--tick``/``--lot``, else the tick is inferred from the recorded prices. See :mod:`bot.research.backtest` for
the replay rules.

``--driver live`` replays the recording through the live bot's own quoter, order manager and fill intake
against the paper venue on a simulated clock (:mod:`bot.research.livereplay`, latency 0) and prints the
same table; ``--driver both`` runs both drivers and says whether they decide and fill alike (the first
difference otherwise): a check that the backtest decides as the live bot would.
Exit codes: 0 done (``both``: the drivers agree), 1 the drivers disagree, 2 bad arguments, config or data.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from bot.argtypes import non_negative, positive
from bot.commands.compare import add_hedge_flags, check_hedge_flags, perp_of
from bot.config import Settings, StrategySettings, SymbolSettings, describe_validation_error, load_settings
from bot.core.display import Steps, money, money_text, plain, plain_text
from bot.core.fees import resolve_maker_fee
from bot.core.quote import MarketRules
from bot.core.strategy import StrategyParams
from bot.errors import UserError
from bot.research.backtest import BacktestParams, BacktestResult, infer_tick, run_backtest
from bot.research.hedged import (
    HedgedComparison,
    PerpParams,
    as_dict,
    compare_hedged,
    format_hedged,
    recorded_mids,
    sampled,
)
from bot.research.recording import iter_recording, read_meta
from bot.research.replay import symbols_in

if TYPE_CHECKING:
    from bot.research.livereplay import ReplayRun


DRIVERS = ("backtest", "live", "both")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "backtest",
        help="replay a recording through the quote models, limits and paper fill model",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--data", type=Path, required=True, metavar="FILE", help="recording (.jsonl or .jsonl.gz)")
    p.add_argument("--config", metavar="FILE", help="TOML config: strategy, risk, execution, paper")
    p.add_argument("--symbol", help="symbol to replay (default: the only one in the file)")
    p.add_argument("--latency-ms", type=non_negative, default=0.0, metavar="N",
                   help="order latency: creates and cancels take effect N ms after the decision (default 0)")
    p.add_argument("--tick", type=positive, help="price tick (default: from the recording)")
    p.add_argument("--lot", type=non_negative, help="size step, 0 = none (default: from the recording)")
    p.add_argument("--driver", choices=DRIVERS, default="backtest",
                   help="backtest (default); live: the live quoter, orders and fills over the paper venue on "
                        "a simulated clock (latency 0); both: run both and compare their decisions and fills")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    add_fee_flags(p)
    add_hedge_flags(p, band=None)
    return p


def add_fee_flags(p: argparse.ArgumentParser) -> None:
    """``--maker-fee`` and ``--min-edge`` (bps), applied by :func:`with_fee_flags`."""
    p.add_argument("--maker-fee", type=float, metavar="BPS",
                   help="maker fee in bps (negative = rebate): the fee floor's and the fill model's, so what is "
                        "charged is what is floored (default: strategy.maker_fee for the floor, [paper] maker_fee "
                        "for both when unset)")
    p.add_argument("--min-edge", type=float, metavar="BPS",
                   help="bps of the centre a maker fill must earn net of the fee (default: strategy.min_edge)")


def with_fee_flags(settings: Settings, cfg: SymbolSettings, maker_fee: float | None,
                   min_edge: float | None) -> tuple[Settings, SymbolSettings]:
    """``settings`` and ``cfg`` with the fee flags (bps) applied: ``maker_fee`` sets both ``strategy.maker_fee``
    (the floor) and ``[paper] maker_fee`` (what the fill model charges); ``min_edge`` sets ``strategy.min_edge``.
    Validated as the config's fields are (a bad value: one line naming the flag)."""
    updates: dict[str, float] = {}
    if maker_fee is not None:
        updates["maker_fee"] = maker_fee
    if min_edge is not None:
        updates["min_edge"] = min_edge
    if not updates:
        return settings, cfg
    try:
        strategy = StrategySettings.model_validate(cfg.strategy.model_dump() | updates)
        if maker_fee is not None:
            paper = type(settings.paper).model_validate(settings.paper.model_dump() | {"maker_fee": maker_fee / 1e4})
            settings = settings.model_copy(update={"paper": paper})
    except ValidationError as exc:
        flags = {"maker_fee": "--maker-fee", "min_edge": "--min-edge"}
        lines = []
        for line in describe_validation_error(exc):
            field, _, rest = line.partition(": ")
            lines.append(f"{flags.get(field.rpartition('.')[2], field)} (bps): {rest}")
        raise UserError(lines) from None
    return settings, SymbolSettings(cfg.symbol, strategy, cfg.risk, cfg.execution)


def reading(path: Path, what: Any) -> Any:
    """Run ``what()`` (which reads ``path``), turning read and format errors into one-line UserErrors."""
    try:
        return what()
    except OSError as exc:
        raise UserError(f"--data: cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UserError(f"--data: {path}: {exc}") from None


def choose_symbol(path: Path, meta: dict[str, Any], wanted: str | None) -> str:
    listed = meta.get("symbols")
    if isinstance(listed, list) and listed and all(isinstance(x, str) for x in listed):
        symbols = list(listed)
    else:  # no meta: one streaming pass to see which symbols the file has
        symbols = reading(path, lambda: symbols_in(iter_recording(path)))
    if not symbols:
        raise UserError(f"--data: {path} holds no book or trade events")
    if wanted is None:
        if len(symbols) > 1:
            raise UserError(f"--symbol is required: the recording has {', '.join(symbols)}")
        return symbols[0]
    if wanted not in symbols:
        raise UserError(f"--symbol {wanted!r} is not in the recording (it has {', '.join(symbols)})")
    return wanted


def market_of(path: Path, meta: dict[str, Any], symbol: str, tick: float | None, lot: float | None
              ) -> tuple[MarketRules, str, str]:
    """``symbol``'s market rules and currencies: tick and lot as given, else from the recording's meta (``mmbot
    record`` stores them), else the tick inferred from the recorded prices (UserError when it cannot be)."""
    info = (meta.get("markets") or {}).get(symbol) if isinstance(meta.get("markets"), dict) else None
    if not isinstance(info, dict):
        info = {}
    tick = tick or info.get("tick")
    if not tick:
        try:
            tick = reading(path, lambda: infer_tick(iter_recording(path), symbol))
        except UserError as exc:
            raise UserError(f"{exc.lines[0]}; pass --tick") from None
    lot = lot if lot is not None else float(info.get("lot") or 0.0)
    rules = MarketRules(float(tick), lot, float(info.get("min_qty") or 0.0), float(info.get("min_notional") or 0.0))
    base, _, quote = symbol.partition("/")
    return rules, str(info.get("base") or base), str(info.get("quote") or quote.split(":")[0] or "QUOTE")


class _Run:
    """A backtest run without a decision log (what the default driver returns, without the live path's import)."""

    def __init__(self, result: BacktestResult) -> None:
        self.result = result


def params_from_settings(settings: Settings, cfg: SymbolSettings, rules: MarketRules, latency: float = 0.0,
                         base: str = "BASE", quote: str = "QUOTE") -> BacktestParams:
    """The backtest's parameters: the decision layer's as the live service reads them for ``cfg.symbol``
    (:meth:`StrategyParams.from_settings`), the fill model's from ``[paper]``. The fee floor reads the fill
    model's maker fee (the simulated venue's) unless ``strategy.maker_fee`` overrides it, as live."""
    fee = resolve_maker_fee(cfg.strategy.maker_fee, settings.paper.maker_fee, None)
    return BacktestParams.of(
        StrategyParams.from_settings(cfg, rules, fee.rate), latency=latency, maker_fee=settings.paper.maker_fee,
        cancel_model=settings.paper.queue_model, post_only=cfg.execution.post_only, base=base, quote=quote,
    )


def backtest(args: argparse.Namespace) -> tuple[BacktestResult, dict[str, Any]]:
    """Run the command's backtest; returns the result and a description of the setup.

    The file is streamed (read once for the replay, plus once more only when it has no meta line
    naming its symbols, or no tick and none is given).
    """
    runs, setup = replays(args)
    return runs[-1].result, setup


def replays(args: argparse.Namespace) -> tuple[list[ReplayRun | _Run], dict[str, Any]]:
    """Run the chosen driver(s) (``args.driver``, default backtest): one run, or with ``both`` the backtest's
    then the live path's, each with its decision log; and a description of the setup (``driver`` in it
    unless it is the backtest)."""
    driver = getattr(args, "driver", "backtest")
    if driver != "backtest" and args.latency_ms > 0:
        raise UserError(f"--driver {driver} replays at latency 0 (the live path's venue answers at once): "
                        "drop --latency-ms")
    settings = load_settings(args.config)
    path: Path = args.data
    meta = reading(path, lambda: read_meta(path))
    symbol = choose_symbol(path, meta, args.symbol)
    rules, base, quote = market_of(path, meta, symbol, args.tick, args.lot)
    settings, cfg = with_fee_flags(settings, settings.for_symbol(symbol), args.maker_fee, args.min_edge)
    ex = cfg.execution
    params = params_from_settings(settings, cfg, rules, args.latency_ms / 1000.0, base, quote)
    setup = {"data": str(path), "symbol": symbol, "model": cfg.strategy.model, "latency_ms": args.latency_ms,
             "tick": rules.tick, "lot": rules.lot, "max_position": cfg.risk.max_position,
             "order_size": ex.order_size, "maker_fee": settings.paper.maker_fee}
    if driver == "backtest":
        result = reading(path, lambda: run_backtest(iter_recording(path), symbol, params))
        if result.events == 0:
            raise UserError(f"--data: {path} holds no events of {symbol}")
        return [_Run(result)], setup
    setup["driver"] = driver
    # the live path (and ccxt) is imported only when a run needs it
    from bot.research.livereplay import run_backtest_logged, run_live_replay

    runs: list[ReplayRun | _Run] = []
    if driver == "both":
        runs.append(reading(path, lambda: run_backtest_logged(iter_recording(path), symbol, params)))
    if driver != "backtest":
        runs.append(reading(path, lambda: run_live_replay(iter_recording(path), symbol, params)))
    if runs[-1].result.events == 0:
        raise UserError(f"--data: {path} holds no events of {symbol}")
    return runs, setup


#: result fields by how they read (:func:`shown`): positions, sizes, prices (a mark), money; the rest plain
POSITIONS = frozenset({"final_q", "max_abs_q", "q_std", "signed_fill_sum"})
SIZES = frozenset({"volume_base"})
PRICES = frozenset({"final_mid"})
MONEY = frozenset({"volume_quote", "realized_pnl", "unrealized_pnl", "fees", "total_pnl", "spread_captured",
                   "skew_cost", "inventory_pnl"})


def steps_of(setup: dict[str, Any]) -> Steps:
    """The display steps of the replayed symbol: the tick and lot the run used."""
    return Steps(float(setup["tick"]), float(setup["lot"]))


def _plain_all(value: Any) -> Any:
    """Every float inside ``value`` (a number, a list, a dict) without float noise."""
    if isinstance(value, float):
        return plain(value)
    if isinstance(value, dict):
        return {k: _plain_all(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_all(v) for v in value]
    return value


def shown(r: BacktestResult, steps: Steps) -> dict[str, Any]:
    """The result as the JSON output shows it: positions at the lot (to the satoshi where finer), sizes at the
    lot, the mark at the tick (a digit finer: a mid), money to 4 decimals, any other number without float
    noise. The run's result itself stays exact."""
    out: dict[str, Any] = {}
    for key, value in r.to_dict().items():
        if key in POSITIONS:
            out[key] = steps.position(value)
        elif key in SIZES:
            out[key] = steps.size(value)
        elif key in PRICES:
            out[key] = steps.price(value, extra=1)
        elif key in MONEY:
            out[key] = money(value)
        else:
            out[key] = _plain_all(value)
    return out


def attribution_lines(r: BacktestResult, quote: str) -> list[str]:
    """The P&L's components (they add up to the total) and the markouts, money to 4 decimals."""
    lines = [f"components   spread captured {money_text(r.spread_captured)} + inventory {money_text(r.inventory_pnl)} "
             f"- fees {money_text(r.fees)} = {money_text(r.total_pnl)} {quote}; given up to skew (inside the spread) "
             f"{money_text(r.skew_cost)}"]
    parts = []
    for h, m in r.markouts.items():
        if not m["count"]:
            parts.append(f"{h} - (no fill's horizon reached)")
        else:
            rate = "" if m["bps"] is None else f" ({m['bps']:+.2f} bps)"
            parts.append(f"{h} {money_text(m['markout'])} over {m['count']} fills{rate}")
    if parts:
        lines.append("markouts     (positive = against us) " + ", ".join(parts))
    return lines


def format_result(r: BacktestResult, setup: dict[str, Any], base: str = "", quote: str = "",
                  driver: str = "backtest") -> str:
    """The text of one run: sizes and positions at the lot, the mark at the tick, money to 4 decimals."""
    what = "backtest" if driver == "backtest" else "live-path replay"
    steps = steps_of(setup)

    def pos(x: float) -> str:
        return plain_text(steps.position(x))

    lines = [
        f"{what} of {r.symbol} from {setup['data']}: {r.events} events over {r.duration:.1f} s, "
        f"model {setup['model']}, latency {setup['latency_ms']:g} ms",
        f"  fills        {r.fills} ({r.buys} buys, {r.sells} sells), volume {plain_text(steps.size(r.volume_base))} "
        f"{base}",
        f"  P&L          {money_text(r.total_pnl)} {quote} = realized {money_text(r.realized_pnl)} + unrealized "
        f"{money_text(r.unrealized_pnl)} - fees {money_text(r.fees)} (marked at "
        f"{'-' if r.final_mid is None else plain_text(steps.price(r.final_mid, extra=1))})",
        f"  inventory    final q {pos(r.final_q)}, max |q| {pos(r.max_abs_q)} "
        f"(limit {plain_text(setup['max_position'])}), std(q) {pos(r.q_std)} (time-weighted)",
        *("  " + line for line in attribution_lines(r, quote)),
        f"  orders       {r.orders_placed} placed, {r.orders_canceled} canceled, "
        f"{r.orders_rejected} rejected (would cross)"
        + (f", {r.orders_clipped} re-sized on arrival by the position limit" if r.orders_clipped else ""),
    ]
    return "\n".join(lines)


def hedged_variant(args: argparse.Namespace, result: BacktestResult, setup: dict[str, Any]
                   ) -> tuple[HedgedComparison, PerpParams]:
    """The backtest's fills unhedged vs hedged in a synthetic perp beside the recorded mids (the leg's band, ratio,
    max position, minimum size, cooldown, slippage and basis band from the config's ``[hedge]``; sampled every
    second and at each fill; :mod:`bot.research.hedged`)."""
    leg = load_settings(args.config).for_symbol(result.symbol).hedge
    perp = perp_of(args, band=leg.band, ratio=leg.ratio, max_position=leg.max_position, min_size=leg.min_size,
                   cooldown=leg.cooldown, slippage_bps=leg.slippage_bps, basis_band_bps=leg.basis_band_bps,
                   lot=float(setup["lot"]), tick=float(setup["tick"]))
    path: Path = args.data
    times, mids = reading(path, lambda: recorded_mids(iter_recording(path), result.symbol))
    fee = float(setup["maker_fee"])
    fills = [(t, side, price, size, price * size * fee) for t, side, price, size in result.fill_log]
    return compare_hedged(sampled(times, mids, fills), perp, args.seed), perp


def run(args: argparse.Namespace) -> int:
    if args.hedged and getattr(args, "driver", "backtest") != "backtest":
        raise UserError("--hedged runs with --driver backtest only")
    if args.hedged:
        check_hedge_flags(args)
    runs, setup = replays(args)
    hedged = hedged_variant(args, runs[-1].result, setup) if args.hedged else None
    driver = setup.get("driver", "backtest")
    drivers = ["backtest", "live"] if driver == "both" else [driver]
    found: list[str] = []
    if len(runs) == 2:
        from bot.research.livereplay import ReplayRun, differences

        backtest_run, live_run = runs
        assert isinstance(backtest_run, ReplayRun) and isinstance(live_run, ReplayRun)  # both carry decision logs
        found = differences(backtest_run, live_run)
    if args.json:
        steps = steps_of(setup)
        results = {d: shown(r.result, steps) for d, r in zip(drivers, runs, strict=True)}
        if len(runs) == 1:
            extra = {} if hedged is None else {"hedged": _hedged_shown(as_dict(hedged[0]))}
            print(json.dumps({**setup, **results[drivers[0]], **extra}))
        else:
            print(json.dumps({**setup, **results, "parity": not found, "differences": found}))
    else:
        base, _, quote = runs[0].result.symbol.partition("/")
        print("\n".join(format_result(r.result, setup, base, quote, d) for d, r in zip(drivers, runs, strict=True)))
        if len(runs) == 2:
            print(format_parity(runs[1].result, found))
        if hedged is not None:
            print(format_hedged(hedged[0], hedged[1], f"the backtest of {runs[0].result.symbol}"))
    return 1 if found else 0


def _hedged_shown(value: Any) -> Any:
    """The hedged variant's numbers to 4 decimals (money; sizes and times read the same)."""
    if isinstance(value, float):
        return money(value)
    if isinstance(value, dict):
        return {k: _hedged_shown(v) for k, v in value.items()}
    return value


def format_parity(live: BacktestResult, found: list[str]) -> str:
    """One line when the two drivers agree (``live``: the live path's result), else the first differences."""
    if not found:
        return (f"parity       the drivers agree: the same decisions and fills ({live.fills}), "
                f"final q {plain_text(live.final_q)}")
    return "\n".join(["parity       the drivers DIFFER:", *(f"  {line}" for line in found)])
