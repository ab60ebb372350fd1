"""Each symbol's maker fee at start-up: asked of the venue, resolved, and reported once.

:func:`resolve_fee`: the config's ``strategy.maker_fee`` when set (the venue is not asked), else the venue's
account rate through the adapter (:meth:`bot.venue.adapters.VenueAdapter.maker_fee`), else the ccxt
market's ``maker`` (:func:`bot.core.fees.resolve_maker_fee`). Transient failures (5xx, timeouts, 429) are
retried by the caller's ``retry`` (the service's start-up backoff); a venue that still fails or does not answer
within ``FEE_TIMEOUT`` is logged (``maker_fee_unavailable``) and start-up goes on with the fallback.

:func:`fee_report`: the ``maker_fee`` event's fields and, when the configured half-spread (the model's at
``q = q*`` with the fallback sigma/A/kappa, or ``min_spread / 2`` if wider) is below the fee floor at the
start-up mid, the ``spread_below_fee_floor`` warning's: both from the pure core, nothing new decided here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ccxt

from bot.core.display import at_step, bps
from bot.core.fees import MakerFee, resolve_maker_fee
from bot.core.models import centre_and_half_spread
from bot.core.pipeline import make_quote
from bot.core.quote import QuoteInputs

if TYPE_CHECKING:
    from bot.config import SymbolSettings
    from bot.core.strategy import StrategyParams
    from bot.venue.adapters import VenueAdapter

FEE_TIMEOUT = 15.0  # seconds the venue's commission read (with its retries) may take before start-up falls back

UNKNOWN_NOTE = "no maker fee known: the floor assumes none; set strategy.maker_fee (bps) to floor the quotes"
MARKET_NOTE = "ccxt's market table: may be the exchange's default tier, not this account's"
NO_BOOK_NOTE = "no book at start-up: the floor in price is not known yet"


def _detail(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."


Retry = Callable[[str, Callable[[], Awaitable[Any]]], Awaitable[Any]]


async def resolve_fee(adapter: VenueAdapter, exchange: Any, cfg: SymbolSettings, market: dict[str, Any],
                      log: Any, retry: Retry) -> MakerFee:
    """The maker fee the quotes of ``cfg.symbol`` are floored against (see the module docstring); ``retry(what,
    call)`` makes the venue's read survive transient errors."""
    configured = cfg.strategy.maker_fee
    venue_rate = None
    if configured is None:
        try:
            async with asyncio.timeout(FEE_TIMEOUT):
                venue_rate = await retry("maker_fee", lambda: adapter.maker_fee(exchange, cfg.symbol, market))
        except (ccxt.BaseError, ValueError, TimeoutError) as exc:
            fallback = "market" if market.get("maker") is not None else "unknown"
            log.warning("maker_fee_unavailable", venue=adapter.name, error=type(exc).__name__,
                        detail=_detail(exc) or f"no answer within {FEE_TIMEOUT:g} s", fallback=fallback)
    market_rate = market.get("maker")
    return resolve_maker_fee(configured, venue_rate, None if market_rate is None else float(market_rate))


@dataclass(frozen=True, slots=True)
class FeeReport:
    """What start-up says about one symbol's fee floor: the ``maker_fee`` event's fields and the
    ``spread_below_fee_floor`` warning's (None when the configured spread clears the floor or no mid)."""

    event: dict[str, Any]
    warning: dict[str, Any] | None


def fee_report(params: StrategyParams, fee: MakerFee, best_bid: float | None, best_ask: float | None) -> FeeReport:
    """The fee floor of ``params`` (built with ``fee``) at the mid of the touch, against the configured spread."""
    model, tick = params.model, params.rules.tick
    event: dict[str, Any] = {"maker_fee_bps": bps(fee.rate), "source": fee.source,
                             "min_edge_bps": bps(model.min_edge)}
    notes = {"unknown": UNKNOWN_NOTE, "market": MARKET_NOTE}
    if best_bid is None or best_ask is None or not 0 < best_bid < best_ask:
        event["note"] = "; ".join(n for n in (notes.get(fee.source), NO_BOOK_NOTE) if n)
        return FeeReport(event, None)
    mid = 0.5 * (best_bid + best_ask)
    inputs = QuoteInputs(mid=mid, q=model.target_q, best_bid=best_bid, best_ask=best_ask)
    centre, half = centre_and_half_spread(inputs, model)
    floor = model.half_floor(centre)
    event.update(mid=at_step(mid, tick, 1), fee_floor=at_step(floor, tick, 2))
    if fee.source in notes:
        event["note"] = notes[fee.source]
    configured = max(half, 0.5 * model.min_spread)
    if not configured < floor:
        return FeeReport(event, None)
    quote = make_quote(inputs, model, params.limits, params.rules)
    warning = {
        "configured_half_spread": at_step(configured, tick, 2), "fee_floor": at_step(floor, tick, 2),
        "maker_fee_bps": bps(fee.rate), "min_edge_bps": bps(model.min_edge), "mid": at_step(mid, tick, 1),
        "quoting_half_spread": at_step(quote.half_spread, tick, 2),
        "bid": at_step(quote.bid, tick), "ask": at_step(quote.ask, tick),
    }
    return FeeReport(event, warning)
