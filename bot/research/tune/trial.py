"""One tuning trial: the base settings plus overrides -> the shared backtest on every recording -> one row.

:class:`TuneBase` is everything a worker needs besides a trial's overrides: the symbol, its market rules, the
latency and the symbol's settings as resolved on the client (config file, per-symbol overrides, the fee flags;
carried as JSON, so a remote worker needs neither the config file nor the client's environment).
:func:`trial_params` applies a trial's overrides (``{"strategy.skew": 2.0, ...}``), validates them as the
config is validated and builds the backtest's parameters with :func:`bot.commands.backtest.params_from_settings`.
:func:`run_trial` replays each recording with :class:`bot.research.backtest.Backtest` and combines them into the
row the contract names (module constant :data:`METRICS`): sums for P&L parts, fills, orders, volume, events and
duration; the max for ``max_abs_q``; ``final_q`` the last recording's; ``q_std`` pooled over time (the
recordings' time-weighted moments of q); markouts in bps of the resolved fills' notional over every recording.
Money and positions stay exact.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.commands.backtest import params_from_settings, with_fee_flags
from bot.config import (
    ExecutionSettings,
    RiskSettings,
    Settings,
    StrategySettings,
    SymbolSettings,
    describe_validation_error,
    load_settings,
)
from bot.core.quote import MarketRules
from bot.errors import UserError
from bot.paper.settings import PaperSettings
from bot.research.backtest import Backtest, BacktestParams
from bot.research.events import Event
from bot.research.tune.data import file_sha256, load

#: the settings a trial may sweep, by section: the fields the backtest reads (bot/core/strategy.py's
#: StrategyParams.from_settings and LimitParams.from_settings, the fill model's post-only)
SWEEPABLE: dict[str, frozenset[str]] = {
    "strategy": frozenset(StrategySettings.model_fields),
    "risk": frozenset({"max_position", "max_notional", "stale_after"}),
    "execution": frozenset({"order_size", "max_order_size", "post_only", "requote_ticks", "requote_bps",
                            "size_tolerance", "max_order_age"}),
}
MODELS: dict[str, type[StrategySettings | RiskSettings | ExecutionSettings]] = {
    "strategy": StrategySettings, "risk": RiskSettings, "execution": ExecutionSettings,
}

#: a row's metric columns, after ``id``, the ``p.<key>`` columns and ``split``
METRICS: tuple[str, ...] = (
    "total_pnl", "spread_captured", "inventory_pnl", "fees", "skew_cost", "q_std", "max_abs_q", "final_q", "fills",
    "orders_placed", "orders_per_fill", "markout_1s_bps", "markout_10s_bps", "volume_quote", "events", "duration",
    "limit", "objective", "feasible", "violations", "seconds",
)
SPLITS = ("all", "in", "out")


@dataclass(frozen=True)
class TuneBase:
    """A sweep's fixed part (frozen, picklable): ``config`` the settings file (None: defaults), ``symbol``, the
    market rules (``tick``, ``lot``, ``min_qty``, ``min_notional``), ``latency`` (s), the fee flags (bps, None =
    unset), the currencies, and ``settings``: the symbol's resolved strategy/risk/execution/paper sections as JSON."""

    config: str | None
    symbol: str
    tick: float
    lot: float
    min_qty: float = 0.0
    min_notional: float = 0.0
    latency: float = 0.0
    maker_fee: float | None = None
    min_edge: float | None = None
    base: str = "BASE"
    quote: str = "QUOTE"
    settings: str = "{}"

    @classmethod
    def load(cls, config: str | Path | None, symbol: str, rules: MarketRules, latency: float = 0.0,
             maker_fee: float | None = None, min_edge: float | None = None, base: str = "BASE",
             quote: str = "QUOTE") -> TuneBase:
        """Resolve ``symbol``'s settings from ``config`` (and the environment, as every command does) with the
        fee flags applied. ConfigError/UserError (one line each) on a bad config or flag."""
        settings = load_settings(config)
        settings, cfg = with_fee_flags(settings, settings.for_symbol(symbol), maker_fee, min_edge)
        sections = {"strategy": cfg.strategy.model_dump(mode="json"), "risk": cfg.risk.model_dump(mode="json"),
                    "execution": cfg.execution.model_dump(mode="json"),
                    "paper": settings.paper.model_dump(mode="json")}
        return cls(None if config is None else str(config), symbol, rules.tick, rules.lot, rules.min_qty,
                   rules.min_notional, latency, maker_fee, min_edge, base, quote,
                   json.dumps(sections, sort_keys=True, separators=(",", ":")))

    @property
    def rules(self) -> MarketRules:
        return MarketRules(self.tick, self.lot, self.min_qty, self.min_notional)


def split_key(key: str) -> tuple[str, str]:
    """``"strategy.skew"`` -> ("strategy", "skew"); UserError (one line) when it names no sweepable setting."""
    section, dot, name = key.partition(".")
    model = MODELS.get(section)
    if not dot or model is None:
        raise UserError(f"{key}: not a setting to tune (use strategy.X, risk.X or execution.X, e.g. strategy.skew)")
    if name not in model.model_fields:
        known = ", ".join(sorted(SWEEPABLE[section]))
        raise UserError(f"{key}: no such setting in [{section}] (the backtest reads: {known})")
    if name not in SWEEPABLE[section]:
        raise UserError(f"{key}: the backtest does not read it, so tuning it changes nothing "
                        f"(in [{section}] it reads: {', '.join(sorted(SWEEPABLE[section]))})")
    return section, name


def trial_settings(base: TuneBase, overrides: Mapping[str, Any]) -> tuple[PaperSettings, SymbolSettings]:
    """The symbol's settings with ``overrides`` applied, validated as the config is (UserError, one line
    naming the key and the value, on a bad value or key)."""
    sections = json.loads(base.settings)
    grouped: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        section, name = split_key(key)
        grouped.setdefault(section, {})[name] = value
    built: dict[str, Any] = {}
    for section, model in MODELS.items():
        try:
            built[section] = model.model_validate(sections[section] | grouped.get(section, {}))
        except ValidationError as exc:
            line = describe_validation_error(exc)[0]
            field, _, reason = line.partition(": ")
            key = f"{section}.{field}"
            shown = overrides.get(key, "?")
            raise UserError(f"{key}={shown}: {reason or line}") from None
    paper = PaperSettings.model_validate(sections["paper"])
    return paper, SymbolSettings(base.symbol, built["strategy"], built["risk"], built["execution"])


def trial_params(base: TuneBase, overrides: Mapping[str, Any]) -> BacktestParams:
    """The backtest's parameters of one trial (UserError on a bad override)."""
    paper, cfg = trial_settings(base, overrides)
    settings = Settings.model_construct(paper=paper)  # params_from_settings reads only [paper] from it
    return params_from_settings(settings, cfg, base.rules, base.latency, base.base, base.quote)


def _replay(events: Iterable[Event], symbol: str, params: BacktestParams) -> Backtest:
    bt = Backtest(symbol, params)
    bt.replay(events)
    bt.finish()
    return bt


def _pooled_std(moments: Iterable[tuple[float, float, float]]) -> float:
    """The time-weighted std of q over several replays from their (time, integral q, integral q^2)."""
    w = qw = qqw = 0.0
    for a, b, c in moments:
        w, qw, qqw = w + a, qw + b, qqw + c
    if w <= 0:
        return 0.0
    mean = qw / w
    return float(max(0.0, qqw / w - mean * mean) ** 0.5)


def _markout_bps(bts: Sequence[Backtest], horizon: float) -> float | None:
    """The markout at ``horizon`` over every replay, in bps of the resolved fills' notional (None: none)."""
    total = notional = 0.0
    for bt in bts:
        m = bt.inventory.markouts
        if horizon in m.horizons:
            k = m.horizons.index(horizon)
            total += m.sums[k]
            notional += m.notional[k]
    return total / notional * 1e4 if notional > 0 else None


def run_trial(events_by_data: Sequence[Iterable[Event]], base: TuneBase, overrides: Mapping[str, Any],
              split: str = "all", trial_id: str = "") -> dict[str, Any]:
    """One trial's row (columns: ``id``, ``p.<key>`` per override in order, ``split``, :data:`METRICS`): every
    recording replayed with the trial's parameters and combined (module docstring). ``objective`` is None,
    ``feasible`` True and ``violations`` empty until :mod:`bot.research.tune.objective` scores the rows;
    ``seconds`` is left 0.0 for the caller to time."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    params = trial_params(base, overrides)
    bts = [_replay(events, base.symbol, params) for events in events_by_data]
    results = [bt.result() for bt in bts]
    fills = sum(r.fills for r in results)
    placed = sum(r.orders_placed for r in results)
    row: dict[str, Any] = {"id": trial_id}
    row.update({f"p.{key}": value for key, value in overrides.items()})
    row.update({
        "split": split,
        "total_pnl": sum(r.total_pnl for r in results),
        "spread_captured": sum(r.spread_captured for r in results),
        "inventory_pnl": sum(r.inventory_pnl for r in results),
        "fees": sum(r.fees for r in results),
        "skew_cost": sum(r.skew_cost for r in results),
        "q_std": results[0].q_std if len(bts) == 1 else _pooled_std((bt._w, bt._qw, bt._qqw) for bt in bts),
        "max_abs_q": max((r.max_abs_q for r in results), default=0.0),
        "final_q": results[-1].final_q if results else 0.0,
        "fills": fills,
        "orders_placed": placed,
        "orders_per_fill": placed / fills if fills else None,
        "markout_1s_bps": _markout_bps(bts, 1.0),
        "markout_10s_bps": _markout_bps(bts, 10.0),
        "volume_quote": sum(r.volume_quote for r in results),
        "events": sum(r.events for r in results),
        "duration": sum(r.duration for r in results),
        "limit": params.limits.max_position,
        "objective": None,
        "feasible": True,
        "violations": [],
        "seconds": 0.0,
    })
    return row


def inventory_path(data: Sequence[Path], symbol: str, overrides: dict[str, Any], base: TuneBase
                   ) -> tuple[list[float], list[float]]:
    """The step path of q of one trial on the first recording of ``data`` (several recordings share no clock):
    times in seconds since its first event of ``symbol``, q after each fill, starting at (0, 0) and ending at the
    last event with the final q. Re-runs the trial keeping its fill log (the sweep does not ship fill logs)."""
    if not data:
        return [], []
    path = str(data[0])
    events = load(path, file_sha256(path))
    params = trial_params(base, overrides)
    bt = _replay(events, symbol, params)
    result = bt.result()
    if bt.t0 is None:
        return [], []
    t0 = bt.t0
    times, qs = [0.0], [0.0]
    q = 0.0
    for ts, side, _price, size in result.fill_log:
        q += size if side == "buy" else -size
        times.append(ts - t0)
        qs.append(q)
    times.append(result.duration)
    qs.append(result.final_q)
    return times, qs
