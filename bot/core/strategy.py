"""The decision layer of one symbol, shared by every driver (pure).

The live quoter (:mod:`bot.live.quoter`) waits, asks and executes; the backtest
(:mod:`bot.research.backtest`) applies events, asks and simulates. Neither holds a rule of its own:

- **pauses** (:func:`pauses`): ``stale`` while the book's data is older than ``stale_after``, ``crossed``
  while the latest book is crossed or one-sided, ``venue`` after ``outage_after`` failed venue calls in a row;
  while any pause (or the kill switch) holds, both targets are withdrawn with the reason ``paused: <keys>``;
- **estimates** (:func:`estimates`): ``as``/``glft`` with ``use_estimators`` read the live sigma and
  (A, kappa) once warm, otherwise the model's fallbacks; the estimators' settings are :func:`make_estimators`;
- **committed size** (:func:`committed`): what a new quote does not replace and so counts against the hard
  limit inside the quote: the remaining size of unacknowledged creates plus what settling orders may still book;
- **the wake rule**: the quoter is woken by a book that is news (:func:`is_news`: a touch price changed, the
  previous book was crossed or one-sided, or ``WAKE_GAP`` passed since the last news), by a fill, and by its
  idle timer ``heartbeat`` seconds after its previous wake-up; at a wake-up (:class:`Wake`) a decision is due
  when the touch, ``q`` or the halt state changed since the last one, when the last one sent actions (their
  answers change our orders), or ``heartbeat`` seconds after it (time-based requotes: order age, cooldowns,
  the A-S horizon, warming estimators);
- **the decision** (:func:`decide`): ``make_quote`` -> one :class:`Decision`: a target per side with its reason.

Times are the driver's clock in seconds (monotonic live, the recording's time in a backtest).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bot.core.estimators import EwmaVolatility, IntensityEstimator
from bot.core.limits import LimitParams
from bot.core.models import ModelParams
from bot.core.pipeline import QuoteFields, quote_fields
from bot.core.quote import MarketRules, Quote, QuoteState, Side
from bot.core.reconcile import Target, Tolerance
from bot.core.registry import reads_estimates

if TYPE_CHECKING:
    from bot.config import SymbolSettings

STALE = "stale"
CROSSED = "crossed"
VENUE = "venue"


def heartbeat_of(stale_after: float) -> float:
    """Seconds between decisions without news: ``stale_after / 4`` within [0.05, 0.5] (the staleness
    pause then acts within a quarter of its threshold)."""
    return max(0.05, min(0.5, stale_after / 4.0))


@dataclass(frozen=True, slots=True)
class StrategyParams:
    """Everything one symbol's decisions read, from the config (:meth:`from_settings`) or a backtest's flags."""

    model: ModelParams
    limits: LimitParams
    rules: MarketRules
    tolerance: Tolerance
    use_estimators: bool = False  # as/glft: live sigma and (A, kappa) once warm
    stale_after: float = math.inf
    outage_after: int = 3
    heartbeat: float = 0.5

    @property
    def estimates_read(self) -> bool:
        """Whether decisions read live estimates (so the drivers feed the estimators)."""
        return self.use_estimators and reads_estimates(self.model.model)

    @property
    def depends_on_time(self) -> bool:
        """Whether the quote reads more than (touch, q): the clock or live estimates."""
        return self.estimates_read or self.model.reads_time

    @classmethod
    def from_settings(cls, cfg: SymbolSettings, rules: MarketRules, maker_fee: float) -> StrategyParams:
        """From one symbol's settings, the venue's rules and the maker fee rate in force
        (:func:`bot.core.fees.resolve_maker_fee`)."""
        ex, risk = cfg.execution, cfg.risk
        return cls(
            ModelParams.from_settings(cfg.strategy, ex.order_size, rules.tick, maker_fee),
            LimitParams.from_settings(risk, ex),
            rules,
            Tolerance(rules.tick, ex.requote_ticks, ex.requote_bps, ex.size_tolerance, ex.max_order_age),
            use_estimators=cfg.strategy.use_estimators,
            stale_after=risk.stale_after,
            outage_after=risk.venue_outage_after,
            heartbeat=heartbeat_of(risk.stale_after),
        )


def uses_estimators(model: str, enabled: bool) -> bool:
    """Whether the live estimates are read: ``as``/``glft`` with ``use_estimators``."""
    return enabled and reads_estimates(model)


# -- pauses ---------------------------------------------------------------------------------------
def paused(p: StrategyParams, age: float, crossed: bool, failures: int) -> bool:
    """Whether any pause of :func:`pauses` holds (without building their details)."""
    return age > p.stale_after or crossed or failures >= p.outage_after


def pauses(p: StrategyParams, age: float, crossed: bool, failures: int) -> dict[str, str]:
    """The pauses that hold now, with their detail: ``age`` is the book data's age (s), ``crossed`` whether
    the latest book was crossed or one-sided, ``failures`` venue calls failed in a row."""
    out: dict[str, str] = {}
    if age > p.stale_after:
        out[STALE] = f"book {age:.1f}s old"
    if crossed:
        out[CROSSED] = "crossed or one-sided book"
    if failures >= p.outage_after:
        out[VENUE] = f"{failures} venue calls failed in a row"
    return out


def halt_reason(killed: str | None, paused: Collection[str]) -> str | None:
    """Why nothing may rest now: the kill, or the pauses in force (sorted), else None."""
    if killed is not None:
        return f"killed: {killed}"
    if not paused:
        return None
    return f"paused: {','.join(sorted(paused))}"


# -- estimates ------------------------------------------------------------------------------------
def make_estimators() -> tuple[EwmaVolatility, IntensityEstimator]:
    """The live estimators with the one set of settings every driver uses."""
    return EwmaVolatility(halflife=30.0, min_samples=20), IntensityEstimator(window=120.0, min_trades=30, min_time=10.0)


def estimates(p: StrategyParams, vol: EwmaVolatility, intensity: IntensityEstimator,
              now: float) -> tuple[float | None, float | None, float | None]:
    """(sigma, A, kappa) for the model: live estimates when read and warm, else None (the fallbacks)."""
    if not p.estimates_read:
        return None, None, None
    fit = intensity.estimate(now)
    if fit is None:
        return vol.sigma, None, None
    return vol.sigma, fit[0], fit[1]


# -- committed size -------------------------------------------------------------------------------
class Committable(Protocol):
    """What :func:`committed` reads of an open order."""

    @property
    def side(self) -> Side: ...
    @property
    def remaining(self) -> float: ...
    @property
    def acked(self) -> bool: ...


def committed(open_orders: Iterable[Committable], settling_buy: float = 0.0,
              settling_sell: float = 0.0) -> tuple[float, float]:
    """(buy, sell) size a new quote does not replace: unacknowledged open orders' remaining size (a create
    in flight or of unknown fate) plus what settling orders may still book. Acknowledged open orders are
    what the quote replaces, so they do not count."""
    buy, sell = settling_buy, settling_sell
    for o in open_orders:
        if not o.acked:
            if o.side == "buy":
                buy += o.remaining
            else:
                sell += o.remaining
    return buy, sell


# -- the wake rule --------------------------------------------------------------------------------
#: s: a valid book this long after the last news is news even with the same touch (so the quoter sees the book
#: at least that often while books flow: a quoter paused on a stale feed resumes at once)
WAKE_GAP = 0.25


def is_news(t: float, bid: float, ask: float, last_bid: float | None, last_ask: float | None, was_crossed: bool,
            last_news: float) -> bool:
    """Whether a valid book (``bid < ask``) at ``t`` wakes the quoter: a touch price changed against the last
    valid touch, the previous book was crossed or one-sided, or ``WAKE_GAP`` passed since the last news
    (``-inf`` before any). A book that only changes deeper levels or sizes within that time is not: no input
    of the decision reads them."""
    return was_crossed or bid != last_bid or ask != last_ask or t - last_news >= WAKE_GAP


class Wake:
    """When the next decision is due (see the module docstring); a driver calls :meth:`due` each time it may
    decide (a wake-up) and :meth:`decided` after each decision."""

    __slots__ = ("acted", "ask", "asked", "bid", "halted", "heartbeat", "last", "q")

    def __init__(self, heartbeat: float) -> None:
        self.heartbeat = heartbeat
        self.last = -math.inf  # the last decision
        self.asked = -math.inf  # the last wake-up
        self.bid: float | None = None
        self.ask: float | None = None
        self.q = 0.0
        self.halted = False
        self.acted = False

    def due(self, now: float, bid: float | None, ask: float | None, q: float, halted: bool) -> bool:
        """Whether a decision is due at the wake-up ``now`` (recorded for :meth:`idle_until`)."""
        self.asked = now
        return (
            self.acted
            or bid != self.bid or ask != self.ask or q != self.q or halted != self.halted
            or now - self.last >= self.heartbeat
        )

    def idle_until(self, t: float) -> float | None:
        """The live quoter also wakes without news, ``heartbeat`` seconds after its previous wake-up. A driver
        with a clock of its own (a backtest) asks here, before news at ``t``, when that idle wake-up falls:
        its time if before ``t``, else None (also before any wake-up)."""
        at = self.asked + self.heartbeat
        return at if at < t and self.asked > -math.inf else None

    def decided(self, now: float, bid: float | None, ask: float | None, q: float, halted: bool,
                acted: bool) -> None:
        self.last, self.bid, self.ask, self.q, self.halted, self.acted = now, bid, ask, q, halted, acted


# -- the decision ---------------------------------------------------------------------------------
class Decision:
    """Targets per side (``targets["buy"]``, ``targets["sell"]``) with their reasons; ``quote`` is the
    model's quote (None without a valid market)."""

    __slots__ = ("ask_reason", "bid_reason", "quote", "targets")

    def __init__(self, quote: Quote | None, bid: Target | None, ask: Target | None, bid_reason: str | None,
                 ask_reason: str | None) -> None:
        self.quote = quote
        self.targets: dict[Side, Target | None] = {"buy": bid, "sell": ask}
        self.bid_reason = bid_reason
        self.ask_reason = ask_reason

    @property
    def bid(self) -> Target | None:
        return self.targets["buy"]

    @property
    def ask(self) -> Target | None:
        return self.targets["sell"]


NO_MARKET = "no market"


def withdrawn(quote: Quote | None, reason: str) -> Decision:
    """Nothing may rest: both sides withdrawn for ``reason``."""
    return Decision(quote, None, None, reason, reason)


def quote_of(p: StrategyParams, inputs: QuoteState) -> QuoteFields:
    """The model's quote for ``inputs`` (``make_quote``'s fields, :data:`bot.core.pipeline.QuoteFields`)."""
    return quote_fields(inputs, p.model, p.limits, p.rules)


def decision_of(fields: QuoteFields, halt: str | None) -> Decision:
    """The targets of a quote: its sides, each with a positive size and price, or both withdrawn while
    ``halt`` (:func:`halt_reason`) holds. A side the quote leaves out keeps the quote's reason (position
    limit, min notional...)."""
    bid_price, bid_size, ask_price, ask_size, centre, half, bid_reason, ask_reason = fields
    quote = Quote(bid_price, bid_size, ask_price, ask_size, centre, half, bid_reason, ask_reason)
    if halt is not None:
        return withdrawn(quote, halt)
    bid = Target("buy", bid_price, bid_size) if bid_price is not None and bid_size > 0 else None
    ask = Target("sell", ask_price, ask_size) if ask_price is not None and ask_size > 0 else None
    return Decision(quote, bid, ask, bid_reason, ask_reason)


def decide(p: StrategyParams, inputs: QuoteState | None, halt: str | None) -> Decision:
    """The decision for ``inputs`` (None: no valid market yet): :func:`decision_of` :func:`quote_of`."""
    if inputs is None:
        return withdrawn(None, halt or NO_MARKET)
    return decision_of(quote_of(p, inputs), halt)
