"""Prometheus metrics of one bot, in a registry of its own.

Each :class:`Metrics` owns a private :class:`~prometheus_client.CollectorRegistry`, so several bots (or
tests) in one process never clash on metric names. The live service calls the ``on_*`` / ``set_*`` /
``observe_*`` methods; the ops server (:mod:`bot.ops.http`) serves :meth:`Metrics.exposition`.

Units: prices and money in quote currency, sizes and inventory in base units, times in seconds.
Every per-market metric carries a ``symbol`` label (``BTC/USDT``). A quote side that is not posted
(e.g. the growing side at the hard limit) is exported as NaN, so graphs show a gap, not a stale price.

Metric names (``mmbot_`` prefix):

- inventory: ``inventory`` (q), ``inventory_limit`` (L), ``limit_utilization`` (|q|/L, 1 = at the limit)
- quotes: ``mid_price``, ``reservation_price``, ``quote_bid``, ``quote_ask``, ``quote_size{side}``,
  ``quoted_spread`` (ask - bid), ``quotes_total`` (quote decisions)
- fills: ``fills_total{side}``, ``volume_base_total{side}``, ``volume_quote_total{side}``,
  ``fees_paid_total``, ``rebates_received_total``
- P&L: ``pnl_realized``, ``pnl_unrealized``, ``fees`` (net fees from the accounting),
  ``pnl_total`` = realized + unrealized - fees
- P&L attribution (:mod:`bot.core.inventory`): ``pnl_spread_captured`` + ``pnl_inventory`` - ``fees`` =
  ``pnl_total``; ``pnl_skew_cost`` (of the spread, the part given up to skew); markouts per
  ``horizon`` (``1s``, ``10s``, ``60s``): ``markout`` (quote currency, positive = against us),
  ``markout_fills`` (fills whose horizon has elapsed), ``markout_bps`` (of their notional; NaN before any)
- orders: ``orders_total{action=placed|canceled|rejected}``
- hedge leg (when ``[hedge]`` is enabled): ``hedge_position``, ``net_exposure``, ``hedge_pnl{component=hedge|
  basis|funding|fees|total}``, ``basis_bps``, ``margin_ratio``, ``hedge_paused`` (0/1)
- health: ``backoffs_total{reason}``, ``reconnects_total``, ``feed_age_seconds``, ``killed`` (0/1)
- latency: ``reaction_seconds`` histogram, book update received -> order sent
- ``build_info{version}``; ``scrape_hook_errors_total`` (a hook of :meth:`Metrics.before_scrape` raised)

Values that change with time alone (the feed age) are best set by a hook registered with
:meth:`Metrics.before_scrape`, which runs right before each exposition.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any, Final, Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot import __version__
from bot.core.markouts import Markouts, label
from bot.core.quote import Side
from bot.ops.hedgeview import HedgeStateLike

OrderAction = Literal["placed", "canceled", "rejected"]

ORDER_ACTIONS: Final = ("placed", "canceled", "rejected")
FILL_SIDES: Final = ("buy", "sell")

# Book update -> order sent: from 50 microseconds (a warm in-process path) to 50 ms (a stalled loop).
RECENT_REACTIONS: Final = 1000  # reactions kept for percentiles (the console's p50/p99)
REACTION_BUCKETS: Final = (
    50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 20e-3, 50e-3, math.inf,
)  # fmt: skip

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST


def _price(value: float | None) -> float:
    """A price for export: NaN when the quote side is absent."""
    return math.nan if value is None else float(value)


class Metrics:
    """The bot's metrics. Methods are cheap (a dict lookup and a float store) and never raise on
    ordinary values; they raise ``ValueError`` only for a caller bug (unknown action or side)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        sym = ("symbol",)

        self.inventory = Gauge("mmbot_inventory", "Inventory q, base units", sym, registry=r)
        self.inventory_limit = Gauge("mmbot_inventory_limit", "Hard inventory limit L, base units", sym, registry=r)
        self.limit_utilization = Gauge(
            "mmbot_limit_utilization", "|q| / L: 0 flat, 1 at the hard limit", sym, registry=r
        )

        self.mid_price = Gauge("mmbot_mid_price", "Mid price at the last quote decision", sym, registry=r)
        self.reservation_price = Gauge(
            "mmbot_reservation_price", "Quote centre (reservation price) at the last quote decision", sym, registry=r
        )
        self.quote_bid = Gauge("mmbot_quote_bid", "Desired bid price (NaN: bid not quoted)", sym, registry=r)
        self.quote_ask = Gauge("mmbot_quote_ask", "Desired ask price (NaN: ask not quoted)", sym, registry=r)
        self.quote_size = Gauge(
            "mmbot_quote_size", "Desired quote size, base units (0: side not quoted)", ("symbol", "side"), registry=r
        )
        self.quoted_spread = Gauge("mmbot_quoted_spread", "Desired ask - bid (NaN when one-sided)", sym, registry=r)
        self.quotes = Counter("mmbot_quotes", "Quote decisions computed", sym, registry=r)

        self.fills = Counter("mmbot_fills", "Fills of the bot's orders", ("symbol", "side"), registry=r)
        self.volume_base = Counter("mmbot_volume_base", "Filled volume, base units", ("symbol", "side"), registry=r)
        self.volume_quote = Counter(
            "mmbot_volume_quote", "Filled notional, quote currency", ("symbol", "side"), registry=r
        )
        self.fees_paid = Counter("mmbot_fees_paid", "Fees paid on fills, quote currency", sym, registry=r)
        self.rebates_received = Counter(
            "mmbot_rebates_received", "Maker rebates received on fills, quote currency", sym, registry=r
        )

        self.pnl_realized = Gauge("mmbot_pnl_realized", "Realized P&L (average cost), quote currency", sym, registry=r)
        self.pnl_unrealized = Gauge(
            "mmbot_pnl_unrealized", "Unrealized P&L marked to mid, quote currency", sym, registry=r
        )
        self.fees = Gauge("mmbot_fees", "Net fees since start from the accounting, quote currency", sym, registry=r)
        self.pnl_total = Gauge("mmbot_pnl_total", "realized + unrealized - fees, quote currency", sym, registry=r)
        self.pnl_spread = Gauge(
            "mmbot_pnl_spread_captured", "Spread captured against the mid at each fill, quote currency", sym, registry=r
        )
        self.pnl_skew = Gauge(
            "mmbot_pnl_skew_cost", "Of the spread captured, the part given up to skew, quote currency", sym, registry=r
        )
        self.pnl_inventory = Gauge(
            "mmbot_pnl_inventory", "Each fill marked from its fill-time mid to the mid, quote currency", sym, registry=r
        )
        hsym = ("symbol", "horizon")
        self.markout = Gauge(
            "mmbot_markout", "Adverse selection after fills (positive = against us), quote currency", hsym, registry=r
        )
        self.markout_fills = Gauge("mmbot_markout_fills", "Fills whose markout horizon has elapsed", hsym, registry=r)
        self.markout_bps = Gauge(
            "mmbot_markout_bps", "Markout in bps of the marked-out fills' notional (NaN: none yet)", hsym, registry=r
        )

        self.hedge_position = Gauge(
            "mmbot_hedge_position", "Hedge position in the perpetual (booked), base units", sym, registry=r
        )
        self.net_exposure = Gauge(
            "mmbot_net_exposure", "spot q x ratio + hedge position + hedge orders in flight, base units", sym,
            registry=r,
        )
        self.hedge_pnl = Gauge(
            "mmbot_hedge_pnl", "Hedge leg P&L by component (hedge, basis, funding, fees, total), quote currency",
            ("symbol", "component"), registry=r,
        )
        self.basis_bps = Gauge("mmbot_basis_bps", "Perpetual mid / spot mid - 1, bps (NaN: unknown)", sym, registry=r)
        self.margin_ratio = Gauge(
            "mmbot_margin_ratio", "Futures margin balance / |position notional| (NaN: no position)", sym, registry=r
        )
        self.hedge_paused = Gauge("mmbot_hedge_paused", "1 while the hedge leg does not trade", sym, registry=r)

        self.orders = Counter(
            "mmbot_orders", "Order actions: placed, canceled, rejected", ("symbol", "action"), registry=r
        )
        self.backoffs = Counter("mmbot_backoffs", "Back-offs (rate limit, venue busy...)", ("reason",), registry=r)
        self.reconnects = Counter("mmbot_reconnects", "Feed / user-stream reconnects", sym, registry=r)
        self.feed_age = Gauge("mmbot_feed_age_seconds", "Age of the latest order book", sym, registry=r)
        self.killed = Gauge("mmbot_killed", "Kill switch: 1 tripped (not quoting), 0 armed", registry=r)
        self.reaction = Histogram(
            "mmbot_reaction_seconds",
            "Time from receiving a book update to sending the resulting order",
            buckets=REACTION_BUCKETS,
            registry=r,
        )
        self.scrape_hook_errors = Counter(
            "mmbot_scrape_hook_errors", "Scrape hooks that raised (their metrics may be stale)", registry=r
        )
        self.build = Info("mmbot_build", "mmbot version", registry=r)
        self.recent_reactions: deque[float] = deque(maxlen=RECENT_REACTIONS)  # the console's p50/p99
        self._hooks: list[Callable[[], None]] = []
        self._quote_children: dict[str, tuple[Any, ...]] = {}
        self.build.info({"version": __version__})
        self.killed.set(0)

    # -- quoting ---------------------------------------------------------------------------------

    def on_quote(
        self,
        symbol: str,
        bid: float | None,
        ask: float | None,
        mid: float,
        reservation: float | None = None,
        bid_size: float | None = None,
        ask_size: float | None = None,
    ) -> None:
        """One quote decision: the desired bid/ask (None = side not quoted) around ``reservation``.

        Called on every quoting cycle, so the labelled children are looked up once per symbol.
        """
        children = self._quote_children.get(symbol)
        if children is None:
            children = self._quote_children[symbol] = (
                self.quotes.labels(symbol), self.mid_price.labels(symbol), self.reservation_price.labels(symbol),
                self.quote_bid.labels(symbol), self.quote_ask.labels(symbol), self.quoted_spread.labels(symbol),
                self.quote_size.labels(symbol, "bid"), self.quote_size.labels(symbol, "ask"),
            )
        quotes, mid_g, res_g, bid_g, ask_g, spread_g, bid_size_g, ask_size_g = children
        quotes.inc()
        mid_g.set(float(mid))
        res_g.set(_price(reservation))
        bid_g.set(_price(bid))
        ask_g.set(_price(ask))
        spread_g.set(math.nan if bid is None or ask is None else float(ask) - float(bid))
        if bid is None:
            bid_size_g.set(0.0)
        elif bid_size is not None:
            bid_size_g.set(float(bid_size))
        if ask is None:
            ask_size_g.set(0.0)
        elif ask_size is not None:
            ask_size_g.set(float(ask_size))

    # -- position and P&L ------------------------------------------------------------------------

    def on_inventory(
        self,
        symbol: str,
        q: float,
        limit: float,
        pnl_realized: float,
        pnl_unrealized: float,
        fees: float,
    ) -> None:
        """The accounting state: ``pnl_total = pnl_realized + pnl_unrealized - fees``."""
        q, limit = float(q), float(limit)
        self.inventory.labels(symbol).set(q)
        self.inventory_limit.labels(symbol).set(limit)
        self.limit_utilization.labels(symbol).set(abs(q) / limit if limit > 0 else math.nan)
        self.pnl_realized.labels(symbol).set(float(pnl_realized))
        self.pnl_unrealized.labels(symbol).set(float(pnl_unrealized))
        self.fees.labels(symbol).set(float(fees))
        self.pnl_total.labels(symbol).set(float(pnl_realized) + float(pnl_unrealized) - float(fees))

    def on_attribution(
        self, symbol: str, spread_captured: float, skew_cost: float, inventory_pnl: float, markouts: Markouts
    ) -> None:
        """The P&L's components (``spread_captured + inventory_pnl - fees = pnl_total``) and the markouts."""
        self.pnl_spread.labels(symbol).set(float(spread_captured))
        self.pnl_skew.labels(symbol).set(float(skew_cost))
        self.pnl_inventory.labels(symbol).set(float(inventory_pnl))
        for k, h in enumerate(markouts.horizons):
            name = label(h)
            rate = markouts.rate(k)
            self.markout.labels(symbol, name).set(markouts.sums[k])
            self.markout_fills.labels(symbol, name).set(markouts.counts[k])
            self.markout_bps.labels(symbol, name).set(math.nan if rate is None else rate * 10_000.0)

    def on_hedge(self, symbol: str, state: HedgeStateLike) -> None:
        """The hedge leg of ``symbol`` (:class:`bot.ops.hedgeview.HedgeStateLike`)."""
        self.hedge_position.labels(symbol).set(float(state.position))
        self.net_exposure.labels(symbol).set(float(state.net))
        pnl = state.pnl
        for name in ("hedge", "basis", "funding", "fees", "total"):
            self.hedge_pnl.labels(symbol, name).set(math.nan if pnl is None else float(getattr(pnl, name)))
        self.basis_bps.labels(symbol).set(math.nan if state.basis_bps is None else float(state.basis_bps))
        self.margin_ratio.labels(symbol).set(math.nan if state.margin_ratio is None else float(state.margin_ratio))
        self.hedge_paused.labels(symbol).set(0.0 if state.paused is None else 1.0)

    def on_fill(self, symbol: str, side: Side, price: float, amount: float, fee: float = 0.0) -> None:
        """One fill of ``amount`` base at ``price``; ``fee`` in quote currency (negative = rebate)."""
        if side not in FILL_SIDES:
            raise ValueError(f"fill side must be one of {FILL_SIDES}, got {side!r}")
        amount = abs(float(amount))
        self.fills.labels(symbol, side).inc()
        self.volume_base.labels(symbol, side).inc(amount)
        self.volume_quote.labels(symbol, side).inc(amount * abs(float(price)))
        fee = float(fee)
        if fee > 0:
            self.fees_paid.labels(symbol).inc(fee)
        elif fee < 0:
            self.rebates_received.labels(symbol).inc(-fee)

    # -- order traffic and venue health ----------------------------------------------------------

    def on_order(self, symbol: str, action: OrderAction) -> None:
        """An order was placed, canceled, or rejected by the venue."""
        if action not in ORDER_ACTIONS:
            raise ValueError(f"order action must be one of {ORDER_ACTIONS}, got {action!r}")
        self.orders.labels(symbol, action).inc()

    def on_backoff(self, reason: str) -> None:
        """The bot backed off (``rate_limit``, ``ip_ban``, ``venue_unavailable``...). Keep reasons few."""
        self.backoffs.labels(reason).inc()

    def on_reconnect(self, symbol: str) -> None:
        """A market-data or user-stream connection for ``symbol`` was re-established."""
        self.reconnects.labels(symbol).inc()

    def set_feed_age(self, symbol: str, seconds: float) -> None:
        """Seconds since the latest order book of ``symbol`` arrived."""
        self.feed_age.labels(symbol).set(max(0.0, float(seconds)))

    def set_killed(self, killed: bool) -> None:
        """Kill-switch state: True once tripped (the bot cancels and stops quoting)."""
        self.killed.set(1.0 if killed else 0.0)

    def observe_reaction(self, seconds: float) -> None:
        """Latency from a book update arriving to the resulting order being sent."""
        seconds = max(0.0, float(seconds))
        self.reaction.observe(seconds)
        self.recent_reactions.append(seconds)

    # -- export ----------------------------------------------------------------------------------

    def before_scrape(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` before every :meth:`exposition`, e.g. to set feed ages from the market state.

        A hook that raises is counted in ``mmbot_scrape_hook_errors_total``; the scrape still succeeds.
        """
        self._hooks.append(hook)

    def exposition(self) -> bytes:
        """Run the scrape hooks, then render the registry in the Prometheus text format (``CONTENT_TYPE``)."""
        for hook in self._hooks:
            try:
                hook()
            except Exception:
                self.scrape_hook_errors.inc()
        return generate_latest(self.registry)
