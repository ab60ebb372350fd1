"""Replay a recording through the live service's decision layer and accounting, with paper fills (pure).

Events of the chosen symbol are taken in file order, one timestamp at a time:

1. Order actions whose time has come take effect (see latency below): a create rests in the
   :class:`~bot.paper.fills.PaperBook` behind the size shown at its price, unless it would cross the
   last book (post-only: rejected, like ``OrderImmediatelyFillable`` live); a cancel removes what is
   left of the order.
2. Every event of that timestamp is applied: a book snapshot/diff updates the :class:`L2Book` and is shown to
   the fill model (``on_book``: crosses, queue cancellations); a trade goes to ``on_trade`` (trade through,
   queue). Fills are booked in an :class:`~bot.core.inventory.Inventory` exactly as the live service books
   them (mid at the fill = the latest valid mid; quote mid and half-spread of the order's quote), so P&L,
   spread captured and spread given up to skew have the live definitions. The prints of one taker sweep
   share a timestamp: they are one matching pass, so no decision falls between them (a requote there would
   be filled again by the same sweep).
3. Then, if no action is in flight, the decision layer (:mod:`bot.core.strategy`, the same rules the live
   quoter follows) is asked: the wake rule says whether a decision is due; the pauses (a book older than
   ``stale_after``, a crossed or one-sided book) withdraw the quotes; ``decide`` quotes with ``make_quote``
   (``t`` = seconds since the first event; as/glft with ``use_estimators`` read the same estimators,
   fed with the recorded times) and :func:`bot.core.reconcile.reconcile` turns the targets into actions.
   Like the live service, a one-sided or crossed book does not replace the last valid touch.

Latency: every action of a decision takes effect ``latency`` seconds after it (creates become active,
cancels remove the order; a cancelled order can still fill meanwhile). Like the live executor, which
awaits each venue call, no new decision is made while actions are in flight, so the committed size
(:func:`bot.core.strategy.committed`: creates not yet active) is 0 at every decision. With latency 0 actions
take effect at once. Hard limits at arrival: an order being replaced can fill while its cancel is in flight,
so a create on the side that grows ``|q|`` is re-sized when it arrives with the same
``side_sizes``/``apply_market_rules`` against the inventory and the active orders of that moment (dropped if
nothing is left; counted in ``orders_clipped``), as the live pre-trade check does: ``max |q|`` never exceeds
the limit.

Partial fills: the fill model sizes each fill from the displayed queue ahead of the order and the traded
size (docs/research.md, "Partial fills"); what is left of an order keeps its place and can fill later.

Inventory statistics: ``max_abs_q`` over fills; ``q_std`` is the time-weighted standard deviation of
``q`` over the replayed span. P&L is marked at the last valid mid and attributed as live
(:mod:`bot.core.inventory`): ``total_pnl = spread_captured + inventory_pnl - fees``. Markouts
(:mod:`bot.core.markouts`) on the recording's clock: each fill at its event's timestamp, each valid book's mid
at its own; fills whose horizon the recording does not reach are not counted.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import Any

from bot.core.inventory import Inventory
from bot.core.limits import LimitParams, apply_market_rules, side_sizes
from bot.core.models import ModelParams
from bot.core.quote import MarketRules, Side
from bot.core.reconcile import Cancel, Create, Tolerance, grows_exposure, reconcile
from bot.core.strategy import (
    Decision,
    StrategyParams,
    Wake,
    committed,
    decide,
    decision_of,
    estimates,
    halt_reason,
    heartbeat_of,
    is_news,
    make_estimators,
    paused,
    pauses,
    quote_of,
)
from bot.paper.fills import CancelModel, PaperBook
from bot.research.events import BookEvent, Event, TradeEvent
from bot.research.l2book import L2Book


@dataclass(frozen=True)
class BacktestParams:
    """The decision layer's parameters (as :class:`~bot.core.strategy.StrategyParams`) and the simulation's."""

    model: ModelParams
    limits: LimitParams
    rules: MarketRules
    tolerance: Tolerance
    latency: float = 0.0  # seconds from decision to effect
    maker_fee: float = 0.0
    cancel_model: CancelModel = "proportional"
    use_estimators: bool = False  # as/glft: live sigma and (A, kappa) once warm
    post_only: bool = True
    base: str = "BASE"
    quote: str = "QUOTE"
    stale_after: float = math.inf  # pause: the book's data older than this (s)

    @property
    def strategy(self) -> StrategyParams:
        return StrategyParams(self.model, self.limits, self.rules, self.tolerance, self.use_estimators,
                              self.stale_after, heartbeat=heartbeat_of(self.stale_after))

    @classmethod
    def of(cls, strategy: StrategyParams, **simulation: Any) -> BacktestParams:
        """From the live decision layer's parameters plus the simulation's (``latency``, ``maker_fee``...)."""
        return cls(strategy.model, strategy.limits, strategy.rules, strategy.tolerance,
                   use_estimators=strategy.use_estimators, stale_after=strategy.stale_after, **simulation)


@dataclass
class BacktestResult:
    symbol: str
    events: int
    duration: float
    fills: int
    buys: int
    sells: int
    volume_base: float
    volume_quote: float
    final_q: float
    max_abs_q: float
    q_std: float
    realized_pnl: float
    unrealized_pnl: float
    fees: float
    total_pnl: float
    spread_captured: float
    skew_cost: float
    final_mid: float | None
    orders_placed: int
    orders_canceled: int
    orders_rejected: int
    orders_clipped: int
    signed_fill_sum: float
    fill_log: list[tuple[float, str, float, float]] = field(default_factory=list, repr=False)
    inventory_pnl: float = 0.0  # each fill marked from its fill-time mid to final_mid
    # per horizon label ("1s"): {"markout", "count", "notional", "bps"} (Markouts.table)
    markouts: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("fill_log")
        return out


_MEMO_MAX = 4096  # quotes remembered per replay (the touch revisits a few hundred prices)


@dataclass(slots=True)
class _Inputs:
    """The fields of :class:`~bot.core.quote.QuoteInputs` that ``quote_fields`` reads, as one mutable
    object the replay refills for every quote (building a frozen QuoteInputs per quote costs more
    than the rest of the decision)."""

    mid: float = 0.0
    q: float = 0.0
    best_bid: float | None = None
    best_ask: float | None = None
    t: float = 0.0
    sigma: float | None = None
    A: float | None = None
    kappa: float | None = None
    open_buy: float = 0.0
    open_sell: float = 0.0


@dataclass(slots=True)
class _Order:
    """A decided order; reconciliation reads it as a working order (``amount`` = what is left)."""

    client_id: str
    side: Side
    price: float
    amount: float  # remaining
    created_at: float
    quote_mid: float | None
    half_spread: float | None
    acked: bool = False  # active at the venue; a create not yet active is in flight (strategy.committed)

    @property
    def remaining(self) -> float:
        return self.amount


def _has_price(levels: tuple[tuple[float, float], ...], price: float) -> bool:
    """Whether ``levels`` has a level at ``price``."""
    for p, _ in levels:  # noqa: SIM110 (a plain loop: cheaper than any() over a generator in the pure build)
        if p == price:
            return True
    return False


class Backtest:
    """One symbol's replay; feed events with :meth:`replay` (or :func:`run_backtest`), then :meth:`result`.

    ``on_decision(now, decision)`` sees every decision (the parity check with the live path reads them)."""

    def __init__(self, symbol: str, params: BacktestParams,
                 on_decision: Callable[[float, Decision], None] | None = None) -> None:
        self.symbol = symbol
        self.p = params
        self.strategy = sp = params.strategy
        self.on_decision = on_decision
        self.book = L2Book()
        self.paper = PaperBook(params.maker_fee, params.cancel_model, lot=params.rules.lot)
        self.inventory = Inventory(base=params.base, quote=params.quote)
        self.orders: dict[str, _Order] = {}
        self.pending: deque[tuple[float, Cancel | Create, str]] = deque()
        self.vol, self.intensity = make_estimators()
        self.use_estimators = sp.estimates_read
        self.wake = Wake(sp.heartbeat)
        self._woken = False  # a book that is news or a fill woke the quoter (the live wake event)
        self._last_news = -math.inf
        self._subscribed = False  # a book arrived (the next ones are streamed updates)
        # decision memo (see _maybe_decide) when the quote depends only on the touch and q
        self._memo: dict[tuple[float, float, float], Decision] | None = None if sp.depends_on_time else {}
        self._inputs = _Inputs()
        self._shared: dict[tuple[float | None, float, float | None, float, float], Decision] = {}
        self.bid: float | None = None  # the last valid touch (what the quoter sees)
        self.ask: float | None = None
        self.crossed = False  # the latest book was crossed or one-sided
        self.fresh = -math.inf  # time of the latest streamed valid book (the data's freshness)
        self.t0: float | None = None
        self.last_ts: float | None = None
        self.events = 0
        self.placed = self.canceled = self.rejected = self.clipped = 0
        self._ids = 0
        # time-weighted moments of q
        self._qw = self._qqw = self._w = 0.0
        self._q = 0.0  # float copy of inventory.q
        self.fill_log: list[tuple[float, str, float, float]] = []

    # -- the loop ---------------------------------------------------------------------------------
    def step(self, event: Event) -> None:
        """Replay one event (see :meth:`replay`)."""
        self.replay((event,))

    def replay(self, events: Iterable[Event]) -> None:
        """Replay ``events`` in order (steps 1-3 of the module docstring); other symbols are skipped. The
        decision after the events of the last timestamp waits for the next event (or :meth:`finish`)."""
        symbol = self.symbol
        book, paper, pending = self.book, self.paper, self.pending
        resting = paper._orders  # the fill model's open orders: nothing to fill while empty
        use_estimators = self.use_estimators
        t0, last_ts, count = self.t0, self.last_ts, self.events
        w, qw, qqw = self._w, self._qw, self._qqw
        vbid, vask = self.bid, self.ask  # local copies of the last valid touch (written back on change)
        markouts = self.inventory.markouts
        diff: BookEvent | None
        trade: TradeEvent | None
        for event in events:
            # fields are read through the narrowed type: the compiled build loads them directly
            if isinstance(event, BookEvent):
                diff, trade = event, None
                if event.symbol != symbol:
                    continue
                ts = event.ts
            else:
                diff, trade = None, event
                if event.symbol != symbol:
                    continue
                ts = event.ts
            if t0 is None:
                t0 = self.t0 = ts
            elif ts > last_ts:  # type: ignore[operator]
                # every event of the previous timestamp is in: the quoter, when woken, is asked
                if not pending and vbid is not None:
                    if self._woken:
                        self._woken = False
                        self._maybe_decide(last_ts)  # type: ignore[arg-type]
                    wake = self.wake
                    if wake.asked + wake.heartbeat < ts:
                        self._idle(ts)
                dt = ts - last_ts  # type: ignore[operator]
                q = self._q
                w += dt
                qw += q * dt
                qqw += q * q * dt
            last_ts = ts
            count += 1
            while pending and pending[0][0] <= ts:
                due, action, cid = pending.popleft()  # unpacked: a star-call would leave the compiled path
                self._effect(due, action, cid)
            if diff is not None:
                book.apply(diff)
                # the recording's first book is the snapshot a subscription starts from: not fresh data
                streamed, self._subscribed = self._subscribed, True
                bid, ask = book.best_bid, book.best_ask
                if resting and (diff.snapshot or self._touches(diff, bid, ask)):
                    fills = paper.on_book(bid, ask, book.bids, book.asks)
                    if fills:
                        self._book_fills(fills, ts)
                else:
                    paper.best_bid, paper.best_ask = bid, ask
                if bid is not None and ask is not None and bid < ask:
                    if is_news(ts, bid, ask, vbid, vask, self.crossed, self._last_news):
                        self._last_news = ts
                        self._woken = True
                    self.crossed = False
                    if streamed:
                        self.fresh = ts
                    if use_estimators:
                        self.vol.update(ts, 0.5 * (bid + ask))
                    if ts >= markouts.next_due:  # a fill's markout horizon reached: this book's mid
                        markouts.mid(ts, 0.5 * (bid + ask))
                    if bid != vbid or ask != vask:
                        self.bid, self.ask = vbid, vask = bid, ask
                else:
                    self.crossed = True
            elif trade is not None:
                if use_estimators and vbid is not None:
                    self.intensity.add_trade(ts, trade.price, 0.5 * (vbid + vask))  # type: ignore[operator]
                if resting and self._reaches(trade):
                    fills = paper.on_trade(trade.price, trade.amount, trade.side)  # type: ignore[arg-type]
                    if fills:
                        self._book_fills(fills, ts)
        self.last_ts, self.events = last_ts, count
        self._w, self._qw, self._qqw = w, qw, qqw

    def finish(self) -> None:
        """The wake-up after the last timestamp's events (idempotent)."""
        if self._woken and self.last_ts is not None and not self.pending and self.bid is not None:
            self._woken = False
            self._maybe_decide(self.last_ts)

    def _touches(self, event: BookEvent, bid: float | None, ask: float | None) -> bool:
        """Whether a diff can matter to the fill model: it has a level at one of our orders' prices
        or the opposite touch reaches one of them (else ``on_book`` would change nothing: skipped)."""
        for o in self.paper._orders.values():
            price = o.price
            if o.side == "buy":
                if (ask is not None and ask <= price) or _has_price(event.bids, price):
                    return True
            elif (bid is not None and bid >= price) or _has_price(event.asks, price):
                return True
        return False

    def _reaches(self, trade: TradeEvent) -> bool:
        """Whether ``on_trade`` can do anything: a valid print reaching one of our orders on the maker
        side (a taker sell at or below our bid, a taker buy at or above our ask). Else it would
        return no fills and change nothing (skipped for speed); an invalid print still goes to it."""
        price, side = trade.price, trade.side
        if not (0.0 < price < math.inf and 0.0 < trade.amount < math.inf):
            return True  # on_trade rejects it
        for o in self.paper._orders.values():
            if o.side == "buy":
                if side != "buy" and price <= o.price:
                    return True
            elif side != "sell" and price >= o.price:
                return True
        return False

    # -- decisions --------------------------------------------------------------------------------
    def _maybe_decide(self, now: float) -> None:
        """Ask the decision layer at ``now`` (no action in flight, a valid touch seen): when the wake rule
        says a decision is due, quote, reconcile against our orders and send the actions (effective after
        the latency)."""
        if now <= self.wake.asked:
            return  # once per timestamp (finish() may have asked already)
        sp = self.strategy
        bid, ask, q = self.bid, self.ask, self._q
        age = now - self.fresh
        halted = paused(sp, age, self.crossed, 0)
        if not self.wake.due(now, bid, ask, q, halted):
            return
        orders = self.orders
        if halted:
            decision = decide(sp, self._fill_inputs(now), halt_reason(None, pauses(sp, age, self.crossed, 0)))
        else:
            # decide is pure: with the same inputs it gives the same decision. Without the clock and live
            # estimates the inputs are (touch, q) (committed is 0: nothing is in flight), so it is looked up
            memo = self._memo
            if memo is None:
                decision = self._decision(now)
            else:
                key = (bid, ask, q)
                found = memo.get(key)  # type: ignore[arg-type]
                if found is None:
                    decision = self._decision(now)
                    if len(memo) >= _MEMO_MAX:
                        memo.clear()
                    memo[key] = decision  # type: ignore[index]
                else:
                    decision = found
        actions = reconcile(decision.targets, orders.values(), q, now, sp.tolerance)
        self.wake.decided(now, bid, ask, q, halted, bool(actions))
        if self.on_decision is not None:
            self.on_decision(now, decision)
        if actions:
            quote = decision.quote
            half_spread = quote.half_spread if quote is not None else None
            mid = 0.5 * (bid + ask)  # type: ignore[operator]
            latency = self.p.latency
            due = now + latency
            for action in actions:
                if isinstance(action, Create):
                    self._ids += 1
                    cid = f"bt-{self._ids}"
                    orders[cid] = _Order(cid, action.side, action.price, action.amount, now, mid, half_spread)
                else:
                    cid = action.client_id
                if latency > 0:
                    self.pending.append((due, action, cid))
                else:
                    self._effect(due, action, cid)

    def _decision(self, now: float) -> Decision:
        """The strategy's decision now (not halted). Quotes with the same targets and half-spread share one
        Decision (the targets repeat a lot; its quote's centre is the first one seen, which nothing here reads)."""
        fields = quote_of(self.strategy, self._fill_inputs(now))
        key = (fields[0], fields[1], fields[2], fields[3], fields[5])
        shared = self._shared
        decision = shared.get(key)
        if decision is None:
            if len(shared) >= _MEMO_MAX:
                shared.clear()
            decision = shared[key] = decision_of(fields, None)
        return decision

    def _idle(self, until: float) -> None:
        """The wake-ups the live quoter has without news (its idle timer) before ``until``: the pauses and
        time-based requotes of a gap in the data."""
        wake = self.wake
        while not self.pending:
            at = wake.idle_until(until)
            if at is None:
                return
            self._maybe_decide(at)

    def _fill_inputs(self, now: float) -> _Inputs:
        """The quote's inputs now: the last valid touch, q, the clock, the estimates, the committed size."""
        bid, ask = self.bid, self.ask
        x = self._inputs
        x.mid, x.q, x.best_bid, x.best_ask, x.t = 0.5 * (bid + ask), self._q, bid, ask, now - self.t0  # type: ignore[operator]
        x.sigma, x.A, x.kappa = estimates(self.strategy, self.vol, self.intensity, now)
        x.open_buy, x.open_sell = committed(self.orders.values())
        return x

    def _effect(self, due: float, action: Cancel | Create, cid: str) -> None:
        order = self.orders.get(cid)
        if order is None:  # filled completely (or already gone) before the action arrived
            return
        if isinstance(action, Cancel):
            self.paper.cancel(cid)
            del self.orders[cid]
            self.canceled += 1
            return
        if self.p.post_only and self.paper.would_cross(order.side, order.price):  # type: ignore[arg-type]
            del self.orders[cid]
            self.rejected += 1
            return
        if self.p.latency > 0 and grows_exposure(order.side, self._q):  # type: ignore[arg-type]
            amount = self._room(order)
            if amount <= 0:
                del self.orders[cid]
                self.clipped += 1
                return
            if amount < order.amount:
                order.amount = amount
                self.clipped += 1
        levels = self.book.bids if order.side == "buy" else self.book.asks
        self.paper.add_order(cid, order.side, order.price, order.amount, levels.get(order.price, 0.0))  # type: ignore[arg-type]
        order.acked = True
        self.placed += 1

    def _room(self, order: _Order) -> float:
        """The size the hard limits allow ``order`` now, next to the active orders on its side."""
        active = sum(o.amount for o in self.orders.values() if o.acked and o.side == order.side)
        buy = order.side == "buy"
        bid, _, ask, _ = side_sizes(self._q, self.p.limits, active if buy else 0.0, 0.0 if buy else active,
                                    order.price, order.price)
        size, reason = apply_market_rules(order.price, min(order.amount, bid if buy else ask), self.p.rules)
        return 0.0 if reason is not None else size

    # -- fills ------------------------------------------------------------------------------------
    def _book_fills(self, fills: Iterable[Any], ts: float) -> None:
        """Book the paper fills as the live service books them (the replay's fills are unique by
        construction, so they go straight to ``Inventory.book``, without trade ids)."""
        mid = 0.5 * (self.bid + self.ask) if self.bid is not None else None  # type: ignore[operator]
        inventory, orders, currency, log = self.inventory, self.orders, self.p.quote, self.fill_log
        for f in fills:
            order = orders[f.order_id]
            side = f.side
            inventory.book(side, f.price, f.size, f.fee, currency, None, mid, order.quote_mid, order.half_spread, ts)
            log.append((ts, side, f.price, f.size))
            order.amount = f.remaining
            if f.remaining <= 0:
                del orders[f.order_id]
        self._q = inventory.q
        self._woken = True  # a fill wakes the quoter

    # -- results ----------------------------------------------------------------------------------
    def result(self) -> BacktestResult:
        """The replay's figures, after the decision that closes its last timestamp (:meth:`finish`)."""
        self.finish()
        mid = 0.5 * (self.bid + self.ask) if self.bid is not None else None  # type: ignore[operator]
        return result_of(self.symbol, self.events, (self.last_ts - self.t0) if self.t0 is not None else 0.0,  # type: ignore[operator]
                         self.inventory, mid, (self._w, self._qw, self._qqw), self.fill_log,
                         (self.placed, self.canceled, self.rejected, self.clipped))


def result_of(symbol: str, events: int, duration: float, inv: Inventory, mid: float | None,
              q_moments: tuple[float, float, float], fill_log: list[tuple[float, str, float, float]],
              orders: tuple[int, int, int, int]) -> BacktestResult:
    """A replay's figures (any driver's): ``q_moments`` = (time, integral of q, integral of q^2) give the
    time-weighted std of q; ``orders`` = (placed, canceled, rejected, clipped); P&L marked at ``mid``."""
    snap = inv.snapshot(mid)
    w, qw, qqw = q_moments
    if w > 0:
        mean = qw / w
        q_std = math.sqrt(max(0.0, qqw / w - mean * mean))
    else:
        q_std = 0.0
    buys = sum(1 for _, side, _, _ in fill_log if side == "buy")
    placed, canceled, rejected, clipped = orders
    return BacktestResult(
        symbol=symbol,
        events=events,
        duration=duration,
        fills=inv.fills,
        buys=buys,
        sells=len(fill_log) - buys,
        volume_base=float(inv.volume_base),
        volume_quote=inv.volume_quote,
        final_q=inv.q,
        max_abs_q=float(inv.max_abs_q),
        q_std=q_std,
        realized_pnl=snap["realized_pnl"],
        unrealized_pnl=snap["unrealized_pnl"],
        fees=snap["fees"],
        total_pnl=snap["total_pnl"],
        spread_captured=inv.spread_captured,
        skew_cost=inv.skew_cost,
        final_mid=mid,
        orders_placed=placed,
        orders_canceled=canceled,
        orders_rejected=rejected,
        orders_clipped=clipped,
        signed_fill_sum=sum(size if side == "buy" else -size for _, side, _, size in fill_log),
        fill_log=fill_log,
        inventory_pnl=snap["inventory_pnl"],
        markouts=inv.markouts.table(),
    )


def run_backtest(events: Iterable[Event], symbol: str, params: BacktestParams) -> BacktestResult:
    """Replay the events of ``symbol`` (others are skipped) and return the result."""
    bt = Backtest(symbol, params)
    bt.replay(events)
    return bt.result()


def infer_tick(events: Iterable[Event], symbol: str, limit: int = 20000) -> float:
    """The price grid of a recording without market info: the smallest gap between distinct prices."""
    prices: set[float] = set()
    for event in events:
        if event.symbol != symbol:
            continue
        if isinstance(event, TradeEvent):
            prices.add(event.price)
        else:
            prices.update(p for p, _ in event.bids)
            prices.update(p for p, _ in event.asks)
        if len(prices) >= limit:
            break
    ordered = sorted(prices)
    gaps = [round(b - a, 10) for a, b in pairwise(ordered) if b - a > 1e-12]
    if not gaps:
        raise ValueError("cannot infer the tick size: fewer than two distinct prices")
    return min(gaps)
