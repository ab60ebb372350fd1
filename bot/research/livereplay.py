"""The live code path over a recording on a simulated clock: the parity driver of the backtest.

:class:`LiveReplay` runs one symbol of a recording through the live bot's own objects, as
:mod:`bot.live.service` wires them (``MarketState``, ``Quoter``, ``RiskGate``, ``OrderManager`` with a
REST order entry, ``FillIntake``, ``Inventory``), against the paper venue
(:class:`~bot.paper.venue.PaperExchange`, the same :class:`~bot.paper.fills.PaperBook` fill model the
backtest uses) whose public feed is the recording (:class:`RecordingFeed`). Every clock the live objects
read is the recording's time (:class:`SimClock`); orders take effect at once (latency 0).

Per group of the symbol's events that share one timestamp, in file order:

1. the clock is set to that time; each event goes to the paper venue in turn (a book as the levels of an
   L2 book kept from the recording, a trade once), and the fills it makes reach the fill intake
   synchronously, as the user stream would bring them (trades, then order updates), before anything else;
2. then each book goes to ``MarketState.on_book`` as the book feed passes it (the recording's first book
   is the snapshot a subscription starts from, not a streamed update), each trade to
   ``MarketState.on_trade`` when the model reads the estimates (the service's trade feed runs only then);
3. the quoter runs one ``cycle()`` if it was woken as the live service wakes it: the book feed found a book
   that is news (``MarketState.on_book``: a touch price changed, the previous book was crossed or one-sided,
   or ``WAKE_GAP`` passed since the last news) or a fill was booked; then it looks up settling orders as its
   loop does, and the order updates of the venue calls it made reach the fill intake before the next group.

Without news the quoter also runs a cycle each time its wait would time out: ``heartbeat`` seconds after the
end of its previous cycle (its idle timer; the first wait begins at the first event), at that simulated time.

Nothing runs in the background: the paper venue's feed tasks wait forever on :class:`RecordingFeed`, and
the driver drains the venue's user-stream buffers itself, so the run is deterministic. Not run: the REST
safety net and the unknown-fate lookups (the paper venue answers every request at once, so they would find
nothing new), and the guard's hooks (journal, pre-trade check, kill triggers: the quote already keeps the
order inside the limits, and nothing here can trip a kill).

The result is the backtest's :class:`~bot.research.backtest.BacktestResult` (same fields, same
definitions) plus the decision log, so :func:`differences` can compare the two drivers decision by decision.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from bot.core.inventory import Inventory
from bot.core.quote import MarketRules, Side
from bot.core.reconcile import Target
from bot.core.strategy import Decision, make_estimators
from bot.live.fills import FillIntake
from bot.live.gate import KillSwitch, RiskGate
from bot.live.market import MarketState
from bot.live.orders import OrderManager
from bot.live.quoter import Quoter
from bot.live.ratelimit import OrderThrottle, RateGate
from bot.paper.settings import PaperSettings
from bot.paper.venue import PaperExchange
from bot.research.backtest import Backtest, BacktestParams, BacktestResult, result_of
from bot.research.events import BookEvent, Event, TradeEvent
from bot.research.l2book import L2Book

#: one decision: (time, bid price, bid size, ask price, ask size); a withdrawn side is (None, 0.0)
DecisionRow = tuple[float, float | None, float, float | None, float]
FillRow = tuple[float, str, float, float]  # (time, side, price, size)

BALANCE = 1e12  # the paper account's balance of each asset: funds never bind in a replay
BOOK_LEVELS = 5000  # the most the paper venue takes: the whole recorded book goes to the fill model
CLIENT_ID_PREFIX = "replay"


class SimClock:
    """The replay's time, in the recording's seconds: what every live object reads as 'now'."""

    __slots__ = ("now",)

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class RecordingFeed:
    """The public side of a ccxt.pro exchange for :class:`~bot.paper.venue.PaperExchange`: one market
    built from :class:`~bot.core.quote.MarketRules`; its ``watch_*`` calls wait forever (the driver pushes
    the recording's books and trades to the venue itself)."""

    def __init__(self, symbol: str, rules: MarketRules, base: str, quote: str) -> None:
        self.symbol = symbol
        self.markets: dict[str, dict[str, Any]] = {symbol: {
            "id": symbol.replace("/", ""), "symbol": symbol, "base": base, "quote": quote, "spot": True,
            "precision": {"price": rules.tick, "amount": rules.lot or None},
            "limits": {"amount": {"min": rules.min_qty or None, "max": rules.max_qty},
                       "cost": {"min": rules.min_notional or None}},
        }}
        self._never = asyncio.Event()

    async def load_markets(self, reload: bool = False) -> dict[str, dict[str, Any]]:
        return self.markets

    def market(self, symbol: str) -> dict[str, Any]:
        return self.markets[symbol]

    async def _forever(self, *args: Any, **kwargs: Any) -> Any:
        await self._never.wait()

    watch_order_book = watch_trades = _forever

    async def un_watch_order_book(self, *args: Any) -> None:
        return None

    async def close(self) -> None:
        return None


class _Quiet:
    """A logger that drops everything (the replay's result is its output, not the live log lines)."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return _drop


def _drop(*args: Any, **kwargs: Any) -> None:
    return None


def decision_row(now: float, targets: dict[Side, Target | None]) -> DecisionRow:
    """One decision as a comparable row (see :data:`DecisionRow`)."""
    bid, ask = targets.get("buy"), targets.get("sell")
    return (now, bid.price if bid else None, bid.amount if bid else 0.0,
            ask.price if ask else None, ask.amount if ask else 0.0)


@dataclass
class ReplayRun:
    """One driver's run of a recording: its result (with the fill log) and its decisions."""

    result: BacktestResult
    decisions: list[DecisionRow] = field(default_factory=list)

    @property
    def fills(self) -> list[FillRow]:
        return self.result.fill_log


def _groups(events: Iterable[Event], symbol: str) -> Iterator[tuple[float, list[Event]]]:
    """The symbol's events in runs that share one timestamp (a sweep is one group)."""
    mine = (e for e in events if e.symbol == symbol)
    for ts, group in groupby(mine, key=lambda e: e.ts):
        yield ts, list(group)


async def _drain(call: Callable[[], Awaitable[list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """What a paper user stream (``watch_orders``/``watch_my_trades``) holds now, without waiting: the call
    returns in its first step when its buffer has items; otherwise it is cancelled and nothing was taken."""
    task = asyncio.ensure_future(call())
    await asyncio.sleep(0)  # the task's first step runs before this one resumes
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return []


class LiveReplay:
    """One symbol's recording through the live objects on a simulated clock (see the module docstring).

    ``params`` are the backtest's: the decision layer's (``params.strategy``) and the simulation's (maker fee,
    queue model, post-only, asset names); ``latency`` must be 0 (the paper venue answers at once).
    """

    def __init__(self, symbol: str, params: BacktestParams, log: Any = None) -> None:
        if params.latency != 0:
            raise ValueError(f"the live path replays at latency 0 (got {params.latency})")
        self.symbol, self.params = symbol, params
        self.strategy = params.strategy
        self.log = log if log is not None else _Quiet()
        self.clock = SimClock()
        base, quote = params.base, params.quote
        self.venue = PaperExchange(
            RecordingFeed(symbol, params.rules, base, quote),
            PaperSettings(balances={base: BALANCE, quote: BALANCE}, maker_fee=params.maker_fee,
                          queue_model=params.cancel_model, book_levels=BOOK_LEVELS),
            clock=self.clock, log=self.log,
        )
        self.book = L2Book()
        vol, intensity = make_estimators()
        self.state = MarketState(symbol, vol=vol, intensity=intensity, estimate=self.strategy.estimates_read)
        self.orders = OrderManager(
            self.venue, symbol, symbol.replace("/", ""), CLIENT_ID_PREFIX, OrderThrottle(rate_limit=10**9),
            RateGate(), self.log, post_only=params.post_only, max_data_age=self.strategy.stale_after,
            clock=self.clock, rules=params.rules,
        )
        # markouts on the replay's clock: the books' mids at their times, fills at the clock's time when booked
        self.inventory = Inventory(base=base, quote=quote, markouts=self.state.markouts, clock=self.clock)
        self.gate = RiskGate(KillSwitch())
        self.wake = asyncio.Event()
        self.decisions: list[DecisionRow] = []
        self.fill_log: list[FillRow] = []
        self.quoter: Quoter | None = None  # made at the first event (its t0 is the recording's start)
        self.fills: FillIntake | None = None
        self.events = 0
        self.t0: float | None = None
        self.last_ts: float | None = None
        self._first_book = True
        self._cycled = -math.inf  # when the quoter's last cycle ran
        self._trade_ids = 0
        self._w = self._qw = self._qqw = 0.0  # time-weighted moments of q

    # -- set-up -----------------------------------------------------------------------------------
    def _start(self, ts: float) -> None:
        """The quoter and the fill intake, made at the first event as the service makes them at its start."""
        self.clock.now = self.t0 = self._cycled = ts  # the quoter's wait (and its idle timer) begins here
        self.quoter = Quoter(self.symbol, self.strategy, self.state, self.orders, self.inventory, self.gate,
                             self.wake, self.log, inventory_interval=math.inf, clock=self.clock,
                             on_decision=self._on_decision)
        self.fills = FillIntake(self.venue, self.symbol, self.orders, self.inventory, self.state, self.log,
                                int(ts * 1000), on_fill=self.quoter.on_fill, clock=self.clock)

    def _on_decision(self, now: float, decision: Decision) -> None:
        self.decisions.append(decision_row(now, decision.targets))

    # -- the replay -------------------------------------------------------------------------------
    async def run(self, events: Iterable[Event]) -> ReplayRun:
        """Replay the symbol's ``events`` (others are skipped) and return the run; the venue is closed after."""
        async with self._open():
            for ts, group in _groups(events, self.symbol):
                await self._group(ts, group)
        return ReplayRun(self.result(), self.decisions)

    @contextlib.asynccontextmanager
    async def _open(self) -> AsyncIterator[None]:
        await self.venue.fetch_open_orders(self.symbol)  # the venue's state of the symbol
        try:
            yield
        finally:
            await self.venue.close()

    async def _group(self, ts: float, group: list[Event]) -> None:
        if self.quoter is None:
            self._start(ts)
        elif ts > self.last_ts:  # type: ignore[operator]
            await self._idle(ts)
            dt, q = ts - self.last_ts, self.inventory.q  # type: ignore[operator]
            self._w += dt
            self._qw += q * dt
            self._qqw += q * q * dt
        self.clock.now = self.last_ts = ts
        for event in group:
            self.events += 1
            if isinstance(event, BookEvent):
                self.book.apply(event)
                bids = sorted(self.book.bids.items(), reverse=True)
                asks = sorted(self.book.asks.items())
                if self.venue.on_book(self.symbol, bids, asks):
                    await self._user_stream(ts)  # booked at the mid they were made at, before this book moves it
                self._feed_book(ts, bids, asks)
            elif self._trade(ts, event):
                await self._user_stream(ts)
        if self.wake.is_set():  # the book feed saw news, or a fill: the quoter wakes
            await self._cycle()

    async def _cycle(self) -> None:
        """One turn of the quoter's loop at the clock's time: ``cycle()``, the settling lookups, then the
        order updates of the venue calls it made."""
        assert self.quoter is not None
        self.wake.clear()
        await self.quoter.cycle()
        if self.orders.tracker.settling and not self.orders.rate.blocked():
            await self.orders.resolve_settling()
        self._cycled = now = self.clock.now
        await self._user_stream(now)

    async def _idle(self, until: float) -> None:
        """The quoter's wake-ups without news before the next events at ``until``: its wait for the wake event
        times out ``heartbeat`` seconds after it began, at the end of the previous cycle."""
        assert self.quoter is not None
        while self._cycled + self.quoter.tick < until:
            self.clock.now = self._cycled + self.quoter.tick
            await self._cycle()

    def _feed_book(self, ts: float, bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> None:
        """The book to the market state as the book feed passes it (it wakes the quoter when it is news)."""
        streamed, self._first_book = not self._first_book, False
        if self.state.on_book(ts, bids, asks, streamed):
            self.wake.set()

    def _trade(self, ts: float, event: TradeEvent) -> bool:
        """A public trade to the paper venue (once: a recording's unnamed prints get ids) and the estimators;
        whether it filled an order of ours."""
        self._trade_ids += 1
        trade = {"id": event.id if event.id is not None else f"rec-{self._trade_ids}", "timestamp": int(ts * 1000),
                 "price": event.price, "amount": event.amount, "side": event.side}
        if self.state.estimate:
            self.state.on_trade(ts, event.price)
        return bool(self.venue.on_public_trade(self.symbol, trade))

    async def _user_stream(self, ts: float) -> None:
        """The venue's new trades, then its order updates, into the fill intake (at once: latency 0)."""
        assert self.fills is not None
        for raw in await _drain(lambda: self.venue.watch_my_trades(self.symbol)):
            if self.fills.on_trade(raw, "ws"):
                trade = self.orders.venue.trade(raw, "ws")  # the record the intake booked (via the adapter)
                assert trade is not None
                self.fill_log.append((ts, trade.side, trade.price, float(trade.amount)))
        for update in await _drain(lambda: self.venue.watch_orders(self.symbol)):
            self.fills.on_order(update)

    # -- the result -------------------------------------------------------------------------------
    def result(self) -> BacktestResult:
        """The run as the backtest reports one (same fields and definitions; nothing is clipped at latency 0)."""
        return result_of(self.symbol, self.events,
                         (self.last_ts - self.t0) if self.t0 is not None else 0.0,  # type: ignore[operator]
                         self.inventory, self.state.mid, (self._w, self._qw, self._qqw), self.fill_log,
                         (self.orders.placed, self.orders.canceled, self.orders.rejected, 0))


def run_live_replay(events: Iterable[Event], symbol: str, params: BacktestParams, log: Any = None) -> ReplayRun:
    """Replay ``events`` of ``symbol`` (others are skipped) through the live code path, on its own event loop."""
    return asyncio.run(LiveReplay(symbol, params, log).run(events))


# -- the backtest's side and the comparison ---------------------------------------------------------
def run_backtest_logged(events: Iterable[Event], symbol: str, params: BacktestParams,
                        backtest: Callable[..., Backtest] = Backtest) -> ReplayRun:
    """:func:`~bot.research.backtest.run_backtest` with its decision log (its ``on_decision`` observer);
    ``backtest`` makes the replay (``Backtest`` or a variant of it)."""
    rows: list[DecisionRow] = []
    bt = backtest(symbol, params, on_decision=lambda now, d: rows.append(decision_row(now, d.targets)))
    bt.replay(events)
    bt.finish()
    return ReplayRun(bt.result(), rows)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return bool(a == b)


def _first_mismatch(name: str, left: list[Any], right: list[Any]) -> str | None:
    for i, (a, b) in enumerate(zip(left, right, strict=False)):
        if len(a) != len(b) or not all(_same(x, y) for x, y in zip(a, b, strict=False)):
            return f"{name} #{i + 1} differ: backtest {a} vs live {b}"
    if len(left) != len(right):
        extra = left[len(right)] if len(left) > len(right) else right[len(left)]
        return f"{name}: backtest {len(left)} vs live {len(right)} (first unmatched: {extra})"
    return None


def differences(backtest: ReplayRun, live: ReplayRun) -> list[str]:
    """Where two runs of one recording disagree: the first differing decision, the first differing fill,
    and the final ``q`` (empty when they agree). Floats are compared to 1e-9 relative."""
    out = [m for m in (_first_mismatch("decisions", backtest.decisions, live.decisions),
                       _first_mismatch("fills", backtest.fills, live.fills)) if m is not None]
    if not _same(float(backtest.result.final_q), float(live.result.final_q)):
        out.append(f"final q: backtest {backtest.result.final_q} vs live {live.result.final_q}")
    return out
