"""The one quoting function used by the live service, the backtester and ``mmbot quote``.

model -> fee floor -> minimum spread -> tick rounding outward -> post-only clamp -> limits -> market rules.
"""

from __future__ import annotations

from math import isfinite

from bot.core.limits import LimitParams, apply_market_rules, side_sizes
from bot.core.models import ModelParams, centre_and_half_spread
from bot.core.quote import MarketRules, Quote, QuoteInputs, QuoteState
from bot.core.ticks import on_grid, steps_down, steps_up

INVALID_MID = "invalid mid"
INVALID_MODEL = "invalid model output"
NON_POSITIVE_PRICE = "non-positive price"


#: :class:`Quote`'s fields in order: (bid, bid_size, ask, ask_size, reservation, half_spread, bid_reason, ask_reason)
QuoteFields = tuple[float | None, float, float | None, float, float, float, str | None, str | None]


def make_quote(inputs: QuoteInputs, model: ModelParams, limits: LimitParams, rules: MarketRules) -> Quote:
    """Quote both sides for the current market and inventory (steps 1-4 of :func:`quote_fields`)."""
    return Quote(*quote_fields(inputs, model, limits, rules))


def quote_fields(inputs: QuoteState, model: ModelParams, limits: LimitParams, rules: MarketRules) -> QuoteFields:
    """:func:`make_quote`'s quote as a plain tuple of :class:`Quote`'s fields (:data:`QuoteFields`), for
    callers that quote in a loop and need no object (the backtest).

    1. ``centre_and_half_spread`` from the model; the half-spread is raised to the fee floor at the centre
       (:func:`bot.core.models.fee_floor`) and to ``min_spread / 2``.
    2. The bid is rounded down and the ask up to the tick; if they meet, the bid steps one tick down.
    3. Post-only (when the touch is given): bid <= best_ask - tick, ask >= best_bid + tick.
       Rounding and clamping only move quotes outward, so bid < ask always holds.
    4. Sizes from the hard limits (``side_sizes``), then the venue's lot / min qty / min notional.
    A side that cannot be quoted has price None, size 0.0 and a reason.
    """
    mid = inputs.mid
    if not (mid > 0 and isfinite(mid)):
        return None, 0.0, None, 0.0, mid, 0.0, INVALID_MID, INVALID_MID
    centre, half = centre_and_half_spread(inputs, model)
    if not (isfinite(centre) and isfinite(half)):
        return None, 0.0, None, 0.0, centre, half, INVALID_MODEL, INVALID_MODEL
    if model.maker_fee != 0.0 or model.min_edge != 0.0:
        floor = model.half_floor(centre)
        if half < floor:
            half = floor
    if 2.0 * half < model.min_spread:
        half = 0.5 * model.min_spread

    # integer tick counts, clamped as integers, turned into prices once at the end
    tick = rules.tick
    n_bid = steps_down(centre - half, tick)
    n_ask = steps_up(centre + half, tick)
    if n_ask <= n_bid:
        n_bid = n_ask - 1
    best_bid, best_ask = inputs.best_bid, inputs.best_ask
    if best_ask is not None:
        n_bid = min(n_bid, steps_up(best_ask, tick) - 1)
    if best_bid is not None:
        n_ask = max(n_ask, steps_down(best_bid, tick) + 1)

    bid: float | None = on_grid(n_bid, tick) if n_bid > 0 else None
    ask: float | None = on_grid(n_ask, tick) if n_ask > 0 else None
    bid_size, bid_reason, ask_size, ask_reason = side_sizes(
        inputs.q, limits, inputs.open_buy, inputs.open_sell, bid, ask
    )
    if bid is None:
        bid_size, bid_reason = 0.0, NON_POSITIVE_PRICE
    elif bid_reason is None:
        bid_size, bid_reason = apply_market_rules(bid, bid_size, rules)
    if ask is None:
        ask_size, ask_reason = 0.0, NON_POSITIVE_PRICE
    elif ask_reason is None:
        ask_size, ask_reason = apply_market_rules(ask, ask_size, rules)
    if bid_reason is not None:
        bid = None
    if ask_reason is not None:
        ask = None
    return bid, bid_size, ask, ask_size, centre, half, bid_reason, ask_reason
