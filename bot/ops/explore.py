"""What would the bot quote here? The one computation behind ``mmbot quote`` and the console's explorer.

:func:`quote_document` turns validated settings, market rules and inputs into the JSON object ``mmbot quote``
prints (through :func:`bot.core.make_quote`, the live decision's pipeline). :func:`explore` is the console's
form: a running symbol's settings with the operator's overrides (``q``, ``half_spread``, ``gamma``...), the
document, and the ``mmbot quote`` command line that prints the same document (:func:`quote_argv`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.config import ExecutionSettings, RiskSettings, StrategySettings, describe_validation_error
from bot.core import LimitParams, MarketRules, ModelParams, QuoteInputs, make_quote
from bot.core.display import Steps, at_step, exact
from bot.core.fees import resolve_maker_fee
from bot.errors import UserError

#: fields of the printed quote by how they read (as the ``quote`` event: bot/live/quoter.py)
PRICES, SIZES, MODEL_VALUES = ("bid", "ask"), ("bid_size", "ask_size"), ("reservation", "half_spread", "fee_floor")

#: strategy settings a quote reads, each with its ``mmbot quote`` flag
STRATEGY_FLAGS = {
    "model": "--model", "half_spread": "--half-spread", "skew": "--skew", "target_q": "--target-q",
    "gamma": "--gamma", "sigma": "--sigma", "kappa": "--kappa", "A": "--A", "horizon": "--horizon",
    "horizon_mode": "--horizon-mode", "min_spread": "--min-spread", "min_edge": "--min-edge",
    "maker_fee": "--maker-fee",
}  # fmt: skip

#: the explorer's query parameters: strategy fields, plus ``limit`` (risk.max_position), ``q`` and ``mid``
EXPLORE_STRATEGY = ("model", "half_spread", "skew", "target_q", "gamma", "sigma", "kappa", "A", "horizon",
                    "min_edge", "maker_fee")


def shown(fields: dict[str, Any], rules: MarketRules) -> dict[str, Any]:
    """The quote's numbers as the ``quote`` event shows them: prices at the tick, sizes at the lot, the model's
    values (reservation, half-spread, fee floor) two digits finer than the tick; the rest as they are."""
    steps = Steps(rules.tick, rules.lot)
    out = dict(fields)
    for key in PRICES:
        out[key] = steps.price(out[key])
    for key in SIZES:
        out[key] = steps.size(out[key])
    for key in MODEL_VALUES:
        if key in out:
            out[key] = steps.price(out[key], extra=2)
    return out


def quote_document(strategy: StrategySettings, risk: RiskSettings, execution: ExecutionSettings,
                   rules: MarketRules, inputs: QuoteInputs, *, unlimited: bool = False) -> dict[str, Any]:
    """The quote as ``mmbot quote`` prints it: ``{"model", <Quote.to_dict() shown>, "maker_fee_bps", "fee_floor"}``
    (the last two only with a fee or an edge). ``unlimited``: no position limit (``mmbot quote`` without one)."""
    limits = LimitParams.from_settings(risk, execution)
    if unlimited:
        limits = replace(limits, max_position=math.inf)
    fee = resolve_maker_fee(strategy.maker_fee, None, None)
    model = ModelParams.from_settings(strategy, execution.order_size, rules.tick, fee.rate)
    quote = make_quote(inputs, model, limits, rules)
    floor = {"maker_fee_bps": fee.bps, "fee_floor": model.half_floor(quote.reservation)} if fee.rate or model.min_edge \
        else {}
    return {"model": strategy.model, **shown({**quote.to_dict(), **floor}, rules)}


def merged(model: type[BaseModel], base: BaseModel, overrides: Mapping[str, Any], flags: Mapping[str, str]) -> Any:
    """``base`` with ``overrides`` applied, validated; errors name the flag (``--gamma: must be > 0``)."""
    try:
        return model.model_validate(base.model_dump() | dict(overrides))
    except ValidationError as exc:
        lines = []
        for line in describe_validation_error(exc):
            field, _, rest = line.partition(": ")
            lines.append(f"{flags.get(field, '--' + field.replace('_', '-'))}: {rest}")
        raise UserError(lines) from None


def _arg(value: Any) -> str:
    """A flag's value: a number in positional notation that parses back to the same float (``0.00001``, not
    ``1e-05``); text as it is."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        return exact(Decimal(repr(float(value))))
    return str(value)


def quote_argv(strategy: StrategySettings, risk: RiskSettings, execution: ExecutionSettings, rules: MarketRules,
               inputs: QuoteInputs) -> list[str]:
    """The ``mmbot quote`` command line (no ``--config``) that prints :func:`quote_document` of these values."""
    argv = ["mmbot", "quote"]
    for field, flag in STRATEGY_FLAGS.items():
        value = getattr(strategy, field)
        if value is not None:
            argv += [flag, _arg(value)]
    argv += ["--mid", _arg(inputs.mid), "--q", _arg(inputs.q)]
    for flag, value in (("--best-bid", inputs.best_bid), ("--best-ask", inputs.best_ask),
                        ("--max-notional", risk.max_notional), ("--max-order-size", execution.max_order_size)):
        if value is not None:
            argv += [flag, _arg(value)]
    argv += ["--limit", _arg(risk.max_position), "--size", _arg(execution.order_size), "--tick", _arg(rules.tick),
             "--lot", _arg(rules.lot), "--min-qty", _arg(rules.min_qty), "--min-notional", _arg(rules.min_notional)]
    return argv


@dataclass(frozen=True)
class Live:
    """What a running symbol contributes to the explorer: its settings, rules and market now."""

    strategy: StrategySettings
    risk: RiskSettings
    execution: ExecutionSettings
    rules: MarketRules
    mid: float | None
    q: float
    best_bid: float | None = None
    best_ask: float | None = None
    running: Mapping[str, float] | None = None  # what the quoter uses in place of the config's (live sigma/A/kappa,
    # the maker fee resolved at start-up, bps)


def _number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{name}: not a number: {text[:40]!r}") from None
    if not math.isfinite(value):
        raise UserError(f"{name}: must be finite (got {text[:40]})")
    return value


def explore(live: Live, query: Mapping[str, str]) -> dict[str, Any]:
    """The explorer's answer for ``query`` (strings, as a URL's query: :data:`EXPLORE_STRATEGY`, ``limit``,
    ``q``, ``mid``; unknown names are refused): ``{"inputs", "quote", "argv", "command"}``. Values not given are
    the symbol's running ones (``Live.running`` over its config; the live mid a digit finer than the tick, as
    shown); a bad value is a one-line UserError naming it."""
    unknown = sorted(set(query) - {*EXPLORE_STRATEGY, "limit", "q", "mid", "symbol"})
    if unknown:
        known = ", ".join((*EXPLORE_STRATEGY, "limit", "q", "mid"))
        raise UserError(f"unknown parameter {unknown[0]!r}; known: {known}")
    strategy_over: dict[str, Any] = dict(live.running or {})
    for name in EXPLORE_STRATEGY:
        if name in query:
            strategy_over[name] = query[name] if name == "model" else _number(name, query[name])
    strategy = merged(StrategySettings, live.strategy, strategy_over, {})
    risk = live.risk
    if "limit" in query:
        risk = merged(RiskSettings, risk, {"max_position": _number("limit", query["limit"])}, {"max_position": "limit"})
    mid = _number("mid", query["mid"]) if "mid" in query else at_step(live.mid, live.rules.tick, 1)
    if mid is None or mid <= 0:
        raise UserError("mid: no live mid yet; give mid=PRICE" if mid is None else f"mid: must be > 0 (got {mid:g})")
    q = _number("q", query["q"]) if "q" in query else live.q
    inputs = QuoteInputs(mid=mid, q=q, best_bid=live.best_bid, best_ask=live.best_ask)
    document = quote_document(strategy, risk, live.execution, live.rules, inputs)
    argv = quote_argv(strategy, risk, live.execution, live.rules, inputs)
    used = {**{k: getattr(strategy, k) for k in STRATEGY_FLAGS}, "mid": mid, "q": q, "limit": risk.max_position,
            "best_bid": live.best_bid, "best_ask": live.best_ask, "order_size": live.execution.order_size}
    return {"inputs": used, "quote": document, "argv": argv, "command": " ".join(argv)}
