"""The exchange core: symbols, books, accounts and the synthetic market, with no I/O.

``SimExchange`` takes commands (``place_order``, ``cancel_order``, ``cancel_all``, ``step``) stamped
with a caller-supplied time in milliseconds and records what happened in ``events`` (public trades,
execution reports, balance updates); depth diffs are taken per symbol with ``take_depth_diff``.
Every book change advances the symbol's update id by one per command, so a REST snapshot's
``lastUpdateId`` and the diffs' ``U``/``u`` share one sequence.

Fills settle at the maker's price. The buyer pays quote and receives base minus the commission; the
seller pays base and receives quote minus the commission (Binance's default without BNB). The house
(background liquidity and takers) is an ordinary account with zero fees and its own (negative) order
ids, so funds are conserved across everyone: see ``Ledger.total_funds``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

import numpy as np

from bot.sim.accounts import ATOMS, Account, InsufficientBalanceError, Ledger, fee_atoms, to_atoms
from bot.sim.book import BUY, SELL, Book, Order
from bot.sim.events import BalanceUpdate, DepthDiff, ExecReport, Execution, PublicTrade, SimError
from bot.sim.market import MarketProcess
from bot.sim.settings import SimSettings, SymbolSpec

HOUSE = "house"
HOUSE_UNITS = 10**9  # starting balance of the house in every asset, whole units

INSUFFICIENT = "Account has insufficient balance for requested action."
WOULD_TAKE = "Order would immediately match and take."
UNKNOWN_ORDER = "Unknown order sent."


@dataclass(slots=True)
class Stats:
    """Running ticker statistics since the start (atoms)."""

    open: int
    high: int
    low: int
    last: int
    last_qty: int = 0
    volume: int = 0
    quote_volume: int = 0
    count: int = 0
    first_id: int = -1
    last_id: int = -1
    open_time: int = 0


@dataclass(slots=True)
class SymbolState:
    name: str
    id: str
    spec: SymbolSpec
    tick_atoms: int
    step_atoms: int
    k: int  # quote atoms per tick per lot
    book: Book
    market: MarketProcess
    stats: Stats
    trades: deque[PublicTrade]
    update_id: int = 0
    pending_first: int | None = None
    next_trade_id: int = 1
    house_orders: dict[tuple[str, int], Order] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return self.spec.base

    @property
    def quote(self) -> str:
        return self.spec.quote

    def price_atoms(self, ticks: int) -> int:
        return ticks * self.tick_atoms

    def qty_atoms(self, lots: int) -> int:
        return lots * self.step_atoms


def _fraction(value: Decimal) -> Fraction:
    return Fraction(value)


class SimExchange:
    """The simulated exchange's state machine."""

    def __init__(self, settings: SimSettings, now_ms: int = 0) -> None:
        self.settings = settings
        self.ledger = Ledger()
        self.events: list[PublicTrade | ExecReport | BalanceUpdate] = []
        self.symbols: dict[str, SymbolState] = {}
        self.by_name: dict[str, SymbolState] = {}
        self.orders: dict[int, Order] = {}
        self.client_ids: dict[tuple[str, str, str], Order] = {}
        self._open: dict[str, dict[int, Order]] = {}  # per account; pruned lazily
        self.fills: dict[str, dict[str, deque[Execution]]] = {}
        self._closed: deque[Order] = deque()  # finished orders, oldest first, pruned past order_history
        self._next_order_id = 1
        self._next_house_id = -1
        self._touched: dict[str, set[str]] = {}
        self.now = now_ms
        seeds = np.random.SeedSequence(settings.seed).spawn(len(settings.symbols))
        assets: set[str] = set()
        for (name, spec), seed in zip(sorted(settings.symbols.items()), seeds, strict=True):
            tick_atoms = to_atoms(spec.tick_size)
            step_atoms = to_atoms(spec.step_size)
            k = int(spec.tick_size * spec.step_size * ATOMS)
            mid = to_atoms(spec.mid)
            sym = SymbolState(
                name=name,
                id=f"{spec.base}{spec.quote}",
                spec=spec,
                tick_atoms=tick_atoms,
                step_atoms=step_atoms,
                k=k,
                book=Book(),
                market=MarketProcess(spec, np.random.Generator(np.random.PCG64(seed))),
                stats=Stats(open=mid, high=mid, low=mid, last=mid, open_time=now_ms),
                trades=deque(maxlen=settings.trade_history),
            )
            self.symbols[sym.id] = sym
            self.by_name[name] = sym
            assets.update((spec.base, spec.quote))
        house = Account(HOUSE, "", "", Fraction(0), Fraction(0))
        house.free = {a: HOUSE_UNITS * ATOMS for a in sorted(assets)}
        self.ledger.open(house)
        for i, spec_acct in enumerate(settings.accounts):
            acct = Account(
                name=f"user{i + 1}",
                api_key=spec_acct.api_key,
                api_secret=spec_acct.api_secret.get_secret_value(),
                maker_fee=_fraction(spec_acct.maker_fee),
                taker_fee=_fraction(spec_acct.taker_fee),
                free={a: to_atoms(v) for a, v in spec_acct.balances.items()},
                update_time=now_ms,
            )
            self.ledger.open(acct)
            self.fills[acct.name] = {}
        for sym in self.symbols.values():
            sym.market.advance(settings.step_interval)
            self._refresh_background(sym, settings.step_interval)
            self._seal(sym)

    # -- queries ---------------------------------------------------------------------------
    def symbol(self, symbol_id: str) -> SymbolState:
        sym = self.symbols.get(symbol_id)
        if sym is None:
            raise SimError(-1121, "Invalid symbol.")
        return sym

    def account_by_key(self, api_key: str) -> Account | None:
        return self.ledger.by_key.get(api_key)

    def depth(self, symbol_id: str, limit: int) -> tuple[int, list[tuple[int, int]], list[tuple[int, int]]]:
        """(lastUpdateId, bids, asks) with prices and quantities in atoms."""
        sym = self.symbol(symbol_id)
        conv = self._level_atoms(sym)
        bids = [conv(p, q) for p, q in sym.book.depth(BUY, limit)]
        asks = [conv(p, q) for p, q in sym.book.depth(SELL, limit)]
        return sym.update_id, bids, asks

    def take_depth_diff(self, symbol_id: str) -> DepthDiff | None:
        """The levels changed since the last call, or None if nothing changed."""
        sym = self.symbols[symbol_id]
        if sym.pending_first is None:
            return None
        bids, asks = sym.book.take_changes()
        conv = self._level_atoms(sym)
        diff = DepthDiff(
            symbol=sym.id,
            first=sym.pending_first,
            last=sym.update_id,
            time=self.now,
            bids=[conv(p, q) for p, q in bids],
            asks=[conv(p, q) for p, q in asks],
        )
        sym.pending_first = None
        return diff

    def open_orders(self, account: Account, symbol_id: str | None = None) -> list[Order]:
        book = self._open.get(account.name, {})
        for oid in [oid for oid, o in book.items() if not o.is_open]:
            del book[oid]
        return [o for o in book.values() if symbol_id is None or o.symbol == symbol_id]

    def find_order(
        self, account: Account, symbol_id: str, order_id: int | None, client_id: str | None
    ) -> Order:
        order: Order | None = None
        if order_id is not None:
            order = self.orders.get(order_id)
        elif client_id is not None:
            order = self.client_ids.get((account.name, symbol_id, client_id))
        if order is None or order.account != account.name or order.symbol != symbol_id:
            raise SimError(-2013, "Order does not exist.")
        return order

    def my_trades(self, account: Account, symbol_id: str) -> list[Execution]:
        return list(self.fills.get(account.name, {}).get(symbol_id, ()))

    def total_funds(self) -> dict[str, int]:
        return self.ledger.total_funds()

    def take_events(self) -> list[PublicTrade | ExecReport | BalanceUpdate]:
        events, self.events = self.events, []
        return events

    # -- commands --------------------------------------------------------------------------
    def place_order(
        self,
        account: Account,
        symbol_id: str,
        side: str,
        type_: str,
        lots: int,
        price: int,
        tif: str,
        client_id: str,
        now_ms: int,
        quote_qty: int = 0,
    ) -> tuple[Order, list[Execution]]:
        """Validate, lock, match and rest an order. ``price`` in ticks (0 for MARKET); ``lots`` may be
        0 for a MARKET buy by ``quote_qty`` (atoms). Raises SimError with Binance's code."""
        self.now = now_ms
        sym = self.symbol(symbol_id)
        book = sym.book
        key = (account.name, symbol_id, client_id)
        prior = self.client_ids.get(key)
        if prior is not None and prior.is_open:
            raise SimError(-2010, "Duplicate order sent.")
        if type_ == "LIMIT_MAKER" and book.crosses(side, price):
            raise SimError(-2010, WOULD_TAKE)
        lock_asset, lock = self._required_lock(sym, side, type_, lots, price, tif, quote_qty)
        if type_ == "MARKET" and side == BUY and quote_qty:
            lots = sum(q for _, q in self._quote_sweep(sym, quote_qty))
            if lots == 0:
                raise SimError(-2010, "Order book liquidity is less than LOT_SIZE filter minimum quantity.")
        if self.ledger.accounts[account.name].free.get(lock_asset, 0) < lock:
            raise SimError(-2010, INSUFFICIENT)
        order = Order(
            id=self._next_order_id,
            symbol=sym.id,
            account=account.name,
            side=side,
            type=type_,
            tif=tif,
            price=price,
            orig=lots,
            client_id=client_id,
            time=now_ms,
            update_time=now_ms,
            quote_limit=quote_qty,
        )
        self._next_order_id += 1
        self.orders[order.id] = order
        self.client_ids[key] = order
        self.ledger.lock(account, lock_asset, lock)
        order.locked = lock
        self._touch(account.name, sym)
        self._report(order, "NEW", None)
        fills = self._execute(sym, order)
        if order.is_open:
            self._open.setdefault(account.name, {})[order.id] = order
        self._seal(sym)
        self._flush_balances()
        return order, fills

    def cancel_order(
        self, account: Account, symbol_id: str, order_id: int | None, client_id: str | None, now_ms: int
    ) -> Order:
        self.now = now_ms
        sym = self.symbol(symbol_id)
        try:
            order = self.find_order(account, symbol_id, order_id, client_id)
        except SimError:
            raise SimError(-2011, UNKNOWN_ORDER) from None
        if not order.is_open:
            raise SimError(-2011, UNKNOWN_ORDER)
        self._cancel(sym, order, "CANCELED")
        self._seal(sym)
        self._flush_balances()
        return order

    def cancel_all(self, account: Account, symbol_id: str, now_ms: int) -> list[Order]:
        self.now = now_ms
        sym = self.symbol(symbol_id)
        orders = sorted(self.open_orders(account, symbol_id), key=lambda o: o.id)
        if not orders:
            raise SimError(-2011, UNKNOWN_ORDER)
        for order in orders:
            self._cancel(sym, order, "CANCELED")
        self._seal(sym)
        self._flush_balances()
        return orders

    def step(self, dt: float, now_ms: int) -> None:
        """Advance the market by ``dt`` seconds: takers, then the mid, then background refresh."""
        self.now = now_ms
        for sym in self.symbols.values():
            market = sym.market
            for side, lots in market.arrivals(dt):
                self._house_take(sym, side, lots)
            market.advance(dt)
            self._refresh_background(sym, dt)
            self._seal(sym)
        self._flush_balances()

    # -- internals: orders -----------------------------------------------------------------
    def _required_lock(
        self, sym: SymbolState, side: str, type_: str, lots: int, price: int, tif: str, quote_qty: int
    ) -> tuple[str, int]:
        if side == SELL:
            return sym.base, lots * sym.step_atoms
        if type_ != "MARKET":
            return sym.quote, price * lots * sym.k
        if quote_qty:
            return sym.quote, sum(p * q * sym.k for p, q in self._quote_sweep(sym, quote_qty))
        return sym.quote, sum(p * q * sym.k for p, q in sym.book.sweep(BUY, None, lots))

    def _quote_sweep(self, sym: SymbolState, budget: int) -> list[tuple[int, int]]:
        out = []
        for price, avail in sym.book.sweep(BUY, None, 1 << 62):
            afford = min(avail, budget // (price * sym.k))
            if afford <= 0:
                break
            out.append((price, afford))
            budget -= afford * price * sym.k
        return out

    def _execute(self, sym: SymbolState, order: Order) -> list[Execution]:
        """Match ``order`` as a taker, then rest or expire what is left."""
        limit = None if order.type == "MARKET" else order.price
        if order.tif == "FOK":
            available = sum(q for _, q in sym.book.sweep(order.side, limit, order.remaining))
            if available < order.remaining:
                self._expire(sym, order)
                return []
        fills: list[Execution] = []
        for maker, price, lots in sym.book.match(order.side, limit, order.remaining):
            fill = self._settle(sym, maker, order, price, lots)
            if fill is not None:
                fills.append(fill)
        if order.remaining > 0:
            if order.type in ("LIMIT", "LIMIT_MAKER") and order.tif == "GTC":
                sym.book.add(order)
            else:
                self._expire(sym, order)
        return fills

    def _expire(self, sym: SymbolState, order: Order) -> None:
        self._release(sym, order)
        order.status = "EXPIRED"
        self._finished(order)
        order.update_time = self.now
        self._report(order, "EXPIRED", None)

    def _cancel(self, sym: SymbolState, order: Order, status: str) -> None:
        sym.book.remove(order)
        self._release(sym, order)
        order.status = status
        self._finished(order)
        order.update_time = self.now
        if order.account == HOUSE:
            sym.house_orders.pop((order.side, order.price), None)
        else:
            self._report(order, "CANCELED", None)

    def _release(self, sym: SymbolState, order: Order) -> None:
        if order.locked:
            asset = sym.quote if order.side == BUY else sym.base
            self.ledger.unlock(self.ledger.accounts[order.account], asset, order.locked)
            order.locked = 0
            self._touch(order.account, sym)

    def _settle(self, sym: SymbolState, maker: Order, taker: Order, price: int, lots: int) -> Execution | None:
        """Move funds for one fill at the maker's price; returns the taker's Execution (if not house)."""
        taker.executed += lots
        quote = price * lots * sym.k
        base = lots * sym.step_atoms
        trade_id = sym.next_trade_id
        sym.next_trade_id += 1
        taker_fill = None
        for order, is_maker in ((maker, True), (taker, False)):
            acct = self.ledger.accounts[order.account]
            rate = acct.maker_fee if is_maker else acct.taker_fee
            if order.side == BUY:
                self.ledger.pay_from_locked(acct, sym.quote, quote)
                order.locked -= quote
                if order.type != "MARKET" and order.price > price:
                    excess = (order.price - price) * lots * sym.k
                    self.ledger.unlock(acct, sym.quote, excess)
                    order.locked -= excess
                fee, fee_asset = fee_atoms(base, rate), sym.base
                self.ledger.receive(acct, sym.base, base, fee)
            else:
                self.ledger.pay_from_locked(acct, sym.base, base)
                order.locked -= base
                fee, fee_asset = fee_atoms(quote, rate), sym.quote
                self.ledger.receive(acct, sym.quote, quote, fee)
            order.cum_quote += quote
            order.status = "FILLED" if order.remaining == 0 else "PARTIALLY_FILLED"
            if order.status == "FILLED":
                self._finished(order)
            order.update_time = self.now
            if order.status == "FILLED" and order.locked:
                self._release(sym, order)  # a MARKET buy's rounding remainder
            if order.account == HOUSE:
                if is_maker and order.status == "FILLED":
                    sym.house_orders.pop((order.side, order.price), None)
                continue
            fill = Execution(
                symbol=sym.id,
                id=trade_id,
                order_id=order.id,
                price=price * sym.tick_atoms,
                qty=base,
                quote=quote,
                commission=fee,
                commission_asset=fee_asset,
                time=self.now,
                is_buyer=order.side == BUY,
                is_maker=is_maker,
            )
            history = self.settings.trade_history_per_account
            self.fills[acct.name].setdefault(sym.id, deque(maxlen=history)).append(fill)
            self._touch(acct.name, sym)
            self._report(order, "TRADE", fill)
            if not is_maker:
                taker_fill = fill
        trade = PublicTrade(sym.id, trade_id, price * sym.tick_atoms, base, quote, self.now, maker.side == BUY)
        sym.trades.append(trade)
        self.events.append(trade)
        self._record_stats(sym.stats, trade)
        return taker_fill

    @staticmethod
    def _record_stats(stats: Stats, trade: PublicTrade) -> None:
        stats.last = trade.price
        stats.last_qty = trade.qty
        stats.high = max(stats.high, trade.price)
        stats.low = min(stats.low, trade.price)
        stats.volume += trade.qty
        stats.quote_volume += trade.quote
        stats.count += 1
        if stats.first_id < 0:
            stats.first_id = trade.id
        stats.last_id = trade.id

    # -- internals: the house --------------------------------------------------------------
    def _house_order(self, sym: SymbolState, side: str, type_: str, lots: int, price: int) -> Order:
        order = Order(
            id=self._next_house_id,
            symbol=sym.id,
            account=HOUSE,
            side=side,
            type=type_,
            tif="GTC" if type_ == "LIMIT" else "IOC",
            price=price,
            orig=lots,
            client_id="",
            time=self.now,
            update_time=self.now,
        )
        self._next_house_id -= 1
        return order

    def _house_take(self, sym: SymbolState, side: str, lots: int) -> None:
        """A taker from the outside world: a MARKET order for up to ``lots``."""
        sweep = sym.book.sweep(side, None, lots)
        lots = sum(q for _, q in sweep)
        if lots == 0:
            return
        house = self.ledger.accounts[HOUSE]
        order = self._house_order(sym, side, "MARKET", lots, 0)
        asset, lock = (sym.quote, sum(p * q * sym.k for p, q in sweep)) if side == BUY else (
            sym.base,
            lots * sym.step_atoms,
        )
        try:
            self.ledger.lock(house, asset, lock)
        except InsufficientBalanceError:
            return
        order.locked = lock
        for maker, price, filled in sym.book.match(side, None, lots):
            self._settle(sym, maker, order, price, filled)
        self._release(sym, order)

    def _refresh_background(self, sym: SymbolState, dt: float) -> None:
        """Keep one house order on each desired level; resize some; drop the rest."""
        market, book = sym.market, sym.book
        house = self.ledger.accounts[HOUSE]
        for side in (BUY, SELL):
            wanted_set = set(market.level_prices(side))
            existing = sorted(
                (o for (s, _), o in sym.house_orders.items() if s == side), key=lambda o: o.price
            )
            for order in existing:
                if order.price not in wanted_set:
                    self._cancel(sym, order, "CANCELED")
            live = sorted(
                (o for (s, _), o in sym.house_orders.items() if s == side), key=lambda o: o.price
            )
            for order, due in zip(live, market.resize_due(len(live), dt), strict=True):
                if due:
                    self._cancel(sym, order, "CANCELED")
        for side in (BUY, SELL):
            for index, price in enumerate(market.level_prices(side)):
                if (side, price) in sym.house_orders:
                    continue
                lots = market.level_lots(index)
                if book.crosses(side, price):
                    continue
                order = self._house_order(sym, side, "LIMIT", lots, price)
                lock_asset, lock = (sym.quote, price * lots * sym.k) if side == BUY else (
                    sym.base,
                    lots * sym.step_atoms,
                )
                try:
                    self.ledger.lock(house, lock_asset, lock)
                except InsufficientBalanceError:
                    continue
                order.locked = lock
                book.add(order)
                sym.house_orders[(side, price)] = order

    # -- internals: bookkeeping ------------------------------------------------------------
    def _finished(self, order: Order) -> None:
        """Remember a finished order for queries, forgetting the oldest past ``order_history``."""
        if order.account == HOUSE:
            return
        self._closed.append(order)
        while len(self._closed) > self.settings.order_history:
            old = self._closed.popleft()
            self.orders.pop(old.id, None)
            key = (old.account, old.symbol, old.client_id)
            if self.client_ids.get(key) is old:
                del self.client_ids[key]

    def _seal(self, sym: SymbolState) -> None:
        """Close one command's book changes under a new update id."""
        if sym.book.dirty:
            sym.book.dirty = False
            sym.update_id += 1
            if sym.pending_first is None:
                sym.pending_first = sym.update_id

    def _touch(self, account: str, sym: SymbolState) -> None:
        if account != HOUSE:
            self._touched.setdefault(account, set()).update((sym.base, sym.quote))

    def _flush_balances(self) -> None:
        for name, assets in self._touched.items():
            acct = self.ledger.accounts[name]
            acct.update_time = self.now
            rows = tuple((a, acct.free.get(a, 0), acct.locked.get(a, 0)) for a in sorted(assets))
            self.events.append(BalanceUpdate(name, self.now, rows))
        self._touched.clear()

    def _report(self, order: Order, exec_type: str, fill: Execution | None) -> None:
        if order.account == HOUSE:
            return
        sym = self.symbols[order.symbol]
        self.events.append(
            ExecReport(
                account=order.account,
                symbol=order.symbol,
                order_id=order.id,
                client_id=order.client_id,
                orig_client_id=order.client_id if exec_type == "CANCELED" else "",
                side=order.side,
                type=order.type,
                tif=order.tif,
                price=order.price * sym.tick_atoms,
                qty=order.orig * sym.step_atoms,
                exec_type=exec_type,
                status=order.status if exec_type != "NEW" else "NEW",
                reject_reason="NONE",
                executed=order.executed * sym.step_atoms,
                cum_quote=order.cum_quote,
                order_time=order.time,
                time=self.now,
                fill=fill,
                quote_order_qty=order.quote_limit,
            )
        )

    @staticmethod
    def _level_atoms(sym: SymbolState) -> Callable[[int, int], tuple[int, int]]:
        ta, sa = sym.tick_atoms, sym.step_atoms
        return lambda p, q: (p * ta, q * sa)
