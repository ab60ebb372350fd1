"""The hedge leg's decision (pure): which order, if any, brings the net exposure back into the band.

Sizes and positions are :class:`~decimal.Decimal` base units (exact, like the venue's), prices floats.

- ``effective = position + in_flight``: orders sent and not yet resolved count as filled, so a decision taken
  while an order is on its way (or while the venue's position report lags) never hedges the same exposure twice.
- ``net = spot_q x ratio + effective``, rounded to the lot (:func:`net_exposure`).
- ``|net| <= band``: no order ("within band"). Otherwise the order takes ``net`` to 0 (the band's centre):
  signed size ``d = -net``, then, in this order:
  - ``reduce_only`` view (basis out of band): only the part that shrinks ``|effective|`` (none when flat);
  - hedge position mode: never across 0 in one order (the closing part now, the next decision opens);
  - clamped so ``|effective + d| <= max_position`` (nothing left: "hedge position limit"; a reduction from beyond
    the limit is never enlarged);
  - ``|d|`` rounded down to the lot; below ``max(min_qty, min_size, min_notional / price)``: none.
  - within ``cooldown`` of the last order: none, ``wake_at`` = when the cooldown ends.
- Price. Taking (``style="ioc"``, or ``post_then_take`` once ``view.taking``): the cap ``ask x (1 + s)`` for a
  buy, rounded down to the tick, ``bid x (1 - s)`` for a sell, rounded up (``s = slippage_bps / 1e4``; never
  beyond the cap). ``post_then_take`` before taking: post-only at the own touch (buy at the bid, sell at the ask).
- One-way mode: ``reduce_only`` when the order only shrinks ``|effective|`` (never when it crosses 0: that order
  is sent whole); ``position_side`` None. Hedge mode: ``position_side`` is the side of the position the order
  changes (``LONG``/``SHORT``), ``reduce_only`` always False (Binance rejects it there).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

from bot.core.quote import Side
from bot.core.ticks import on_grid, steps_down, steps_up

WITHIN_BAND = "within band"
POSITION_LIMIT = "hedge position limit"
BELOW_MINIMUM = "below minimum size"
COOLDOWN = "cooldown"
NO_TOUCH = "no touch"
REDUCE_ONLY = "reduce only: would grow the hedge"
HEDGE = "net beyond band"
CLOSING = "net beyond band: closing before opening the other side"
CLAMPED = "net beyond band: clamped at the hedge position limit"
REDUCING = "net beyond band: reduce only"


@dataclass(frozen=True, slots=True)
class HedgeRules:
    """The perpetual's trading rules: size step, minimum quantity, minimum notional (quote), price tick."""

    lot: Decimal
    min_qty: Decimal
    min_notional: float
    tick: float


@dataclass(frozen=True, slots=True)
class HedgeParams:
    """One leg's settings (``HedgeLegSettings``): sizes in base units, ``cooldown``/``post_timeout`` in s."""

    ratio: float
    band: Decimal
    min_size: Decimal
    max_position: Decimal
    cooldown: float
    style: str  # "ioc" | "post_then_take"
    slippage_bps: float
    post_timeout: float
    position_mode: str  # "one_way" | "hedge"


@dataclass(frozen=True, slots=True)
class HedgeView:
    """What one decision reads: spot inventory, the hedge book's position, in-flight hedge size (signed, + = buys),
    the perp's touch, the clock, the last order's time, a halt reason, the basis rule, the post-then-take phase."""

    spot_q: Decimal
    position: Decimal
    in_flight: Decimal
    bid: float | None
    ask: float | None
    now: float
    last_order_at: float | None
    halt: str | None = None
    reduce_only: bool = False
    taking: bool = False  # post_then_take: the post-only attempt timed out, take now


@dataclass(frozen=True, slots=True)
class HedgeOrder:
    side: Side
    amount: Decimal
    price: float
    post_only: bool
    reduce_only: bool
    position_side: str | None  # "LONG"/"SHORT" in hedge mode, None in one-way


@dataclass(frozen=True, slots=True)
class HedgeDecision:
    order: HedgeOrder | None
    net: Decimal
    reason: str
    wake_at: float | None = None


def to_lot(x: Decimal, lot: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """``x`` as a whole number of lots (``rounding`` as :mod:`decimal`'s); a lot of 0 leaves it as is."""
    if lot <= 0:
        return x
    return (x / lot).to_integral_value(rounding=rounding) * lot


def net_exposure(spot_q: Decimal, ratio: float, position: Decimal, in_flight: Decimal) -> Decimal:
    """``spot_q x ratio + position + in_flight`` (exact; not rounded)."""
    return spot_q * Decimal(repr(float(ratio))) + position + in_flight


def _price(params: HedgeParams, rules: HedgeRules, view: HedgeView, side: Side) -> tuple[float, bool] | None:
    """(price, post_only) for an order on ``side``, None when the touch it needs is missing."""
    if params.style == "post_then_take" and not view.taking:
        touch = view.bid if side == "buy" else view.ask
        return None if touch is None else (touch, True)
    touch = view.ask if side == "buy" else view.bid
    if touch is None:
        return None
    slip = params.slippage_bps / 1e4
    if side == "buy":
        return on_grid(steps_down(touch * (1 + slip), rules.tick), rules.tick), False
    return on_grid(steps_up(touch * (1 - slip), rules.tick), rules.tick), False


def _sign(x: Decimal) -> int:
    return (x > 0) - (x < 0)


def decide(params: HedgeParams, rules: HedgeRules, view: HedgeView) -> HedgeDecision:
    """The hedge order that takes the net exposure back to 0 when it left the band (module docstring)."""
    effective = view.position + view.in_flight
    net = to_lot(net_exposure(view.spot_q, params.ratio, view.position, view.in_flight), rules.lot)
    if view.halt is not None:
        return HedgeDecision(None, net, view.halt)
    if abs(net) <= params.band:
        return HedgeDecision(None, net, WITHIN_BAND)
    d, reason = -net, HEDGE
    crosses = _sign(effective + d) == -_sign(effective) != 0
    if view.reduce_only:
        if _sign(d) != -_sign(effective):
            return HedgeDecision(None, net, REDUCE_ONLY)
        if crosses:
            d = -effective
        reason = REDUCING
    elif params.position_mode == "hedge" and crosses:
        d, reason = -effective, CLOSING
    after = effective + d
    if abs(after) > params.max_position:
        clamped = params.max_position * _sign(after) - effective
        if _sign(clamped) != _sign(d):
            return HedgeDecision(None, net, POSITION_LIMIT)
        if abs(clamped) < abs(d):  # (from beyond the limit, a smaller reduction is kept whole)
            d, reason = clamped, CLAMPED
    amount = to_lot(abs(d), rules.lot, ROUND_DOWN)
    side: Side = "buy" if d > 0 else "sell"
    priced = _price(params, rules, view, side)
    if priced is None:
        return HedgeDecision(None, net, NO_TOUCH)
    price, post_only = priced
    if amount <= 0 or amount < max(rules.min_qty, params.min_size) or float(amount) * price < rules.min_notional:
        return HedgeDecision(None, net, BELOW_MINIMUM)
    if view.last_order_at is not None and view.now < view.last_order_at + params.cooldown:
        return HedgeDecision(None, net, COOLDOWN, view.last_order_at + params.cooldown)
    signed = amount if side == "buy" else -amount
    shrinks = effective != 0 and _sign(signed) == -_sign(effective) and abs(signed) <= abs(effective)
    if params.position_mode == "hedge":
        long = effective > 0 or (effective == 0 and side == "buy")
        order = HedgeOrder(side, amount, price, post_only, False, "LONG" if long else "SHORT")
    else:
        order = HedgeOrder(side, amount, price, post_only, shrinks, None)
    return HedgeDecision(order, net, reason)
