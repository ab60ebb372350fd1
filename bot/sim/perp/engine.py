"""The simulated USDT-margined perpetual: books, positions, cross margin, funding and liquidation (no I/O).

``PerpExchange`` is the futures twin of ``bot.sim.engine.SimExchange`` and follows its conventions:
commands stamped with a caller-supplied time in ms, prices in integer ticks, sizes in integer lots,
money in integer atoms (1e-8 USDT), what happened recorded in ``events`` (public trades,
``PerpOrderReport`` ~ ORDER_TRADE_UPDATE, ``PerpAccountUpdate`` ~ ACCOUNT_UPDATE) and depth diffs taken
per symbol (``take_depth_diff``; ``prev_last`` is Binance's ``pu``). Symbols are keyed by id
(``BTCUSDT``, in ``symbols``) and ccxt name (``BTC/USDT:USDT``, in ``by_name``).

The market: the perp's mid is its spot symbol's mid plus a basis (``bot.sim.perp.basis``), moved in
``step`` after the spot engine stepped; the background book and the takers are the spot's
(``MarketProcess`` draws, Poisson takers, informed with the spot's next move), against the house.

Accounts share the spot accounts' API keys (one key serves both markets, as on Binance); every command
takes the account (this module's ``PerpAccount`` or the spot's ``Account``: only ``name`` is read).
Rules as Binance USDⓈ-M: one-way (``BOTH``) or hedge mode (``LONG``/``SHORT``): -4061 on a mismatch,
-1106 reduceOnly in hedge mode; -2022 a reduce-only order (or a hedge-mode close) that would not reduce;
-2019 margin insufficient for the opening part of a new order; -5022 a GTX that would take; -4164
notional below the minimum (except reduce-only); -4116 a duplicate open client id. A reduce-only
order fills at most the position and expires the rest; resting reduce-only orders that no longer reduce
expire when the position changes. Cross margin only (``set_margin_type`` to ISOLATED is refused).

Money: fills settle at the maker's price; each side pays its fee rate on the quote (USDT) into the fee
pot; realized P&L moves the wallet (``bot.sim.perp.margin``). Funding at each interval: every position
holder (the house too) pays ``qty * mark * rate`` (longs pay when > 0) into the funding pot, so the pot
keeps only the rounding. Liquidation: when an account's margin balance falls below its maintenance
margin, its orders are cancelled and its positions closed at the mark by the house (``LIQUIDATION``
orders, exec type ``CALCULATED``, no fee); a negative wallet left over is covered by the house
(``INSURANCE_CLEAR``). ``total_funds()`` (wallets - entry costs + pots) never changes: USDT is conserved.

``positions(acct, lag_ms)`` and ``account_info(acct, lag_ms)`` answer as of ``now - lag_ms`` (up to
``MAX_LAG_MS``): the wallet and positions of then, valued at the current mark.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Protocol, cast

import numpy as np

from bot.sim.accounts import ATOMS, fee_atoms, to_atoms
from bot.sim.book import BUY, SELL, Book, Order
from bot.sim.engine import HOUSE, SimExchange, Stats, SymbolState
from bot.sim.events import PublicTrade, SimError
from bot.sim.market import MarketProcess
from bot.sim.perp.basis import Basis, Funding
from bot.sim.perp.margin import (
    Position,
    apply_fill,
    cost_per_lot,
    initial_margin,
    liquidation_mark,
    maint_margin,
    notional,
    opening_lots,
    unrealized,
)
from bot.sim.perp.records import (
    ATOM,
    AccountInfo,
    FundingRow,
    IncomeRow,
    PerpAccountUpdate,
    PerpDepthDiff,
    PerpFill,
    PerpOrderReport,
    PerpPosition,
    PositionRow,
)
from bot.sim.settings import PerpSpec, SimSettings

BOTH, LONG, SHORT = "BOTH", "LONG", "SHORT"
USDT = "USDT"
HOUSE_WALLET = 10**9 * ATOMS
DEFAULT_LEVERAGE = 20
MAX_LAG_MS = 60_000
FUNDING_HISTORY = 1000  # settled fundings kept per symbol (GET /fapi/v1/fundingRate returns up to 1000)
TYPES = ("LIMIT", "MARKET")
TIFS = ("GTC", "IOC", "FOK", "GTX")

SIDE_MISMATCH = SimError(-4061, "Order's position side does not match user's setting.")
REDUCE_ONLY_REJECTED = SimError(-2022, "ReduceOnly Order is rejected.")
MARGIN_INSUFFICIENT = SimError(-2019, "Margin is insufficient.")
GTX_WOULD_TAKE = SimError(
    -5022,
    "Due to the order could not be executed as maker, the Post Only order will be rejected. "
    "The order will not be recorded in the order history",
)
UNKNOWN_ORDER = SimError(-2011, "Unknown order sent.")
NO_SUCH_ORDER = SimError(-2013, "Order does not exist.")


class AccountRef(Protocol):
    """Anything naming an account (a ``PerpAccount`` or the spot engine's ``Account``)."""

    @property
    def name(self) -> str: ...


@dataclass(slots=True, eq=False)
class PerpOrder(Order):
    """A futures order: the spot ``Order`` plus reduce-only and the position side."""

    reduce_only: bool = False
    position_side: str = BOTH


@dataclass(slots=True)
class PerpAccount:
    """A futures account: the USDT wallet (atoms), the position mode, leverage per symbol, positions
    by (symbol id, position side), and the snapshots ``positions(lag_ms)`` reads."""

    name: str
    api_key: str
    api_secret: str
    maker_fee: Fraction
    taker_fee: Fraction
    wallet: int
    dual_side: bool = False
    leverage: dict[str, int] = field(default_factory=dict)
    positions: dict[tuple[str, str], Position] = field(default_factory=dict)
    update_time: int = 0
    history: deque[_Snapshot] = field(default_factory=deque)

    def __repr__(self) -> str:  # never show the secret
        return f"PerpAccount({self.name!r})"

    def position(self, symbol_id: str, side: str) -> Position:
        pos = self.positions.get((symbol_id, side))
        if pos is None:
            pos = self.positions[(symbol_id, side)] = Position()
        return pos


@dataclass(slots=True, frozen=True)
class _Snapshot:
    """An account's wallet, mode and positions as of ``time`` (positions copied)."""

    time: int
    wallet: int
    dual_side: bool
    positions: dict[tuple[str, str], Position]


@dataclass(slots=True)
class PerpSymbol:
    """One perpetual: its book, market process, basis, funding schedule and public trades."""

    name: str
    id: str
    spec: PerpSpec
    spot: SymbolState
    tick_atoms: int
    step_atoms: int
    k: int  # quote atoms per tick per lot
    maint_rate: Fraction
    book: Book
    market: MarketProcess
    basis: Basis
    funding: Funding
    stats: Stats
    trades: deque[PublicTrade]
    mark: int = 0  # ticks
    update_id: int = 0
    pending_first: int | None = None
    next_trade_id: int = 1
    house_orders: dict[tuple[str, int], PerpOrder] = field(default_factory=dict)
    fundings: deque[FundingRow] = field(default_factory=lambda: deque(maxlen=FUNDING_HISTORY))

    def price_atoms(self, ticks: int) -> int:
        return ticks * self.tick_atoms

    def qty_atoms(self, lots: int) -> int:
        return lots * self.step_atoms


Event = PublicTrade | PerpOrderReport | PerpAccountUpdate


class PerpExchange:
    """The simulated perpetual's state machine, stepped after the spot engine it tracks."""

    def __init__(self, settings: SimSettings, spot: SimExchange, now_ms: int = 0) -> None:
        self.settings = settings
        self.spot = spot
        self.now = now_ms
        self.events: list[Event] = []
        self.symbols: dict[str, PerpSymbol] = {}
        self.by_name: dict[str, PerpSymbol] = {}
        self.accounts: dict[str, PerpAccount] = {}
        self.by_key: dict[str, PerpAccount] = {}
        self.orders: dict[int, PerpOrder] = {}
        self.client_ids: dict[tuple[str, str, str], PerpOrder] = {}
        self.fills: dict[str, dict[str, deque[PerpFill]]] = {}
        self.incomes: dict[str, deque[IncomeRow]] = {}
        self.fee_pot = 0
        self.funding_pot = 0
        self.countdowns: dict[tuple[str, str], int] = {}  # (account, symbol id) -> deadline ms
        self._open: dict[str, dict[int, PerpOrder]] = {}
        self._closed: deque[PerpOrder] = deque()
        self._next_order_id = 1
        self._next_house_id = -1
        self._next_income_id = 1
        self._touched: dict[str, set[tuple[str, str]]] = {}
        self._changes: dict[str, int] = {}  # wallet changes other than P&L and fees, since the last flush
        self._holders: set[str] = set()  # accounts that may hold a position
        house = PerpAccount(HOUSE, "", "", Fraction(0), Fraction(0), HOUSE_WALLET)
        self.accounts[HOUSE] = house
        for i, spec in enumerate(settings.accounts):
            acct = PerpAccount(
                name=f"user{i + 1}",
                api_key=spec.api_key,
                api_secret=spec.api_secret.get_secret_value(),
                maker_fee=Fraction(spec.futures_maker_fee),
                taker_fee=Fraction(spec.futures_taker_fee),
                wallet=to_atoms(spec.futures_balance),
                update_time=now_ms,
            )
            self.accounts[acct.name] = acct
            self.by_key[acct.api_key] = acct
            self.fills[acct.name] = {}
            self.incomes[acct.name] = deque(maxlen=settings.trade_history_per_account)
            self._snapshot(acct)
        names = sorted(settings.perps)
        seeds = np.random.SeedSequence([settings.seed, 0xF07]).spawn(2 * len(names))
        for i, name in enumerate(names):
            spec = settings.perps[name]
            spot_sym = spot.by_name[spec.spot]
            mid = to_atoms(spec.mid)
            sym = PerpSymbol(
                name=name,
                id=f"{spec.base}{spec.quote}",
                spec=spec,
                spot=spot_sym,
                tick_atoms=to_atoms(spec.tick_size),
                step_atoms=to_atoms(spec.step_size),
                k=int(spec.tick_size * spec.step_size * ATOMS),
                maint_rate=Fraction(spec.maint_margin_rate),
                book=Book(),
                market=MarketProcess(spec, np.random.Generator(np.random.PCG64(seeds[2 * i]))),
                basis=Basis(spec, np.random.Generator(np.random.PCG64(seeds[2 * i + 1]))),
                funding=Funding(spec, now_ms),
                stats=Stats(open=mid, high=mid, low=mid, last=mid, open_time=now_ms),
                trades=deque(maxlen=settings.trade_history),
            )
            self.symbols[sym.id] = sym
            self.by_name[name] = sym
            self._track_spot(sym)
            self._refresh_background(sym, settings.step_interval)
            self._seal(sym)

    # -- queries ---------------------------------------------------------------------------
    def symbol(self, symbol_id: str) -> PerpSymbol:
        sym = self.symbols.get(symbol_id)
        if sym is None:
            raise SimError(-1121, "Invalid symbol.")
        return sym

    def account_by_key(self, api_key: str) -> PerpAccount | None:
        return self.by_key.get(api_key)

    def depth(self, symbol_id: str, limit: int) -> tuple[int, list[tuple[int, int]], list[tuple[int, int]]]:
        """(lastUpdateId, bids, asks) with prices and quantities in atoms."""
        sym = self.symbol(symbol_id)
        ta, sa = sym.tick_atoms, sym.step_atoms
        bids = [(p * ta, q * sa) for p, q in sym.book.depth(BUY, limit)]
        asks = [(p * ta, q * sa) for p, q in sym.book.depth(SELL, limit)]
        return sym.update_id, bids, asks

    def take_depth_diff(self, symbol_id: str) -> PerpDepthDiff | None:
        """The levels changed since the last call, or None if nothing changed. Every command's changes
        get one update id, so ``prev_last`` (``pu``) is ``first - 1``: the chain is unbroken."""
        sym = self.symbols[symbol_id]
        if sym.pending_first is None:
            return None
        bids, asks = sym.book.take_changes()
        ta, sa = sym.tick_atoms, sym.step_atoms
        diff = PerpDepthDiff(
            symbol=sym.id,
            first=sym.pending_first,
            last=sym.update_id,
            prev_last=sym.pending_first - 1,
            time=self.now,
            bids=[(p * ta, q * sa) for p, q in bids],
            asks=[(p * ta, q * sa) for p, q in asks],
        )
        sym.pending_first = None
        return diff

    def mark_price(self, symbol_id: str) -> int:
        """The mark price (atoms): the perp's mid at the tick."""
        sym = self.symbol(symbol_id)
        return sym.mark * sym.tick_atoms

    def index_price(self, symbol_id: str) -> int:
        """The index price (atoms): the spot symbol's mid."""
        spot = self.symbol(symbol_id).spot
        return round(spot.market.mid * spot.tick_atoms)

    def basis_bps(self, symbol_id: str) -> float:
        return self.symbol(symbol_id).basis.bps

    def funding_rate(self, symbol_id: str) -> Decimal:
        """The rate the next funding would pay (premiumIndex's ``lastFundingRate``)."""
        return self.symbol(symbol_id).funding.rate()

    def next_funding_time(self, symbol_id: str) -> int:
        return self.symbol(symbol_id).funding.next_ms

    def funding_history(self, symbol_id: str) -> list[FundingRow]:
        return list(self.symbol(symbol_id).fundings)

    def open_orders(self, acct: AccountRef, symbol_id: str | None = None) -> list[PerpOrder]:
        book = self._open.get(acct.name, {})
        for oid in [oid for oid, o in book.items() if not o.is_open]:
            del book[oid]
        return [o for o in book.values() if symbol_id is None or o.symbol == symbol_id]

    def find_order(
        self, acct: AccountRef, symbol_id: str, order_id: int | None, client_id: str | None
    ) -> PerpOrder:
        order: PerpOrder | None = None
        if order_id is not None:
            order = self.orders.get(order_id)
        elif client_id is not None:
            order = self.client_ids.get((acct.name, symbol_id, client_id))
        if order is None or order.account != acct.name or order.symbol != symbol_id:
            raise NO_SUCH_ORDER
        return order

    def my_trades(self, acct: AccountRef, symbol_id: str) -> list[PerpFill]:
        return list(self.fills.get(acct.name, {}).get(symbol_id, ()))

    def income(
        self,
        acct: AccountRef,
        symbol_id: str | None = None,
        type_: str | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> list[IncomeRow]:
        """Income rows, oldest first, filtered by symbol, type and time (inclusive)."""
        return [
            r for r in self.incomes.get(acct.name, ())
            if (symbol_id is None or r.symbol == symbol_id) and (type_ is None or r.type == type_)
            and (start is None or r.time >= start) and (end is None or r.time <= end)
        ]

    def dual_side(self, acct: AccountRef) -> bool:
        return self._account(acct).dual_side

    def leverage(self, acct: AccountRef, symbol_id: str) -> int:
        return self._account(acct).leverage.get(symbol_id, DEFAULT_LEVERAGE)

    def positions(self, acct: AccountRef, lag_ms: int = 0) -> list[PerpPosition]:
        """One row per symbol and position side of the account's mode (flat ones too), as of
        ``now - lag_ms``, valued at the current mark."""
        a = self._account(acct)
        snap = self._as_of(a, lag_ms)
        orders = self._order_margins(a)
        rest = snap.wallet + sum(
            unrealized(p, self.symbols[s].mark, self.symbols[s].k) for (s, _), p in snap.positions.items()
        )
        rows = []
        for sym in self.symbols.values():
            lev = a.leverage.get(sym.id, DEFAULT_LEVERAGE)
            for side in (LONG, SHORT) if snap.dual_side else (BOTH,):
                pos = snap.positions.get((sym.id, side)) or Position()
                upnl = unrealized(pos, sym.mark, sym.k)
                value = pos.qty * sym.mark * sym.k
                liq = liquidation_mark(rest - upnl, pos, sym.maint_rate, sym.k)
                bid, ask, order_im = orders.get((sym.id, side), (0, 0, 0))
                rows.append(PerpPosition(
                    symbol=sym.id,
                    position_side=side,
                    amount=pos.qty * sym.step_atoms,
                    entry_price=self._entry_price(sym, pos),
                    mark=sym.mark * sym.tick_atoms,
                    unrealized=upnl,
                    notional=value,
                    leverage=lev,
                    initial_margin=initial_margin(abs(value), lev),
                    maint_margin=maint_margin(abs(value), sym.maint_rate),
                    open_order_initial_margin=order_im,
                    liquidation_price=_decimal_price(liq, sym) if liq is not None else Decimal(0),
                    realized=pos.realized,
                    bid_notional=bid,
                    ask_notional=ask,
                    update_time=pos.update_time,
                ))
        return rows

    def account_info(self, acct: AccountRef, lag_ms: int = 0) -> AccountInfo:
        """The cross-margin account as of ``now - lag_ms`` (open orders: the current ones)."""
        a = self._account(acct)
        snap = self._as_of(a, lag_ms)
        upnl = pos_im = mm = 0
        for (symbol_id, _), pos in snap.positions.items():
            sym = self.symbols[symbol_id]
            value = abs(pos.qty) * sym.mark * sym.k
            upnl += unrealized(pos, sym.mark, sym.k)
            pos_im += initial_margin(value, a.leverage.get(symbol_id, DEFAULT_LEVERAGE))
            mm += maint_margin(value, sym.maint_rate)
        order_im = sum(im for _, _, im in self._order_margins(a).values())
        balance = snap.wallet + upnl
        return AccountInfo(
            wallet=snap.wallet,
            unrealized=upnl,
            margin_balance=balance,
            position_initial_margin=pos_im,
            open_order_initial_margin=order_im,
            maint_margin=mm,
            available=max(0, balance - pos_im - order_im),
            update_time=snap.time,
        )

    def total_funds(self) -> int:
        """Wallets minus entry costs plus the fee and funding pots (atoms): constant. It equals the sum
        of every account's wallet + unrealized P&L at any common mark, as positions sum to zero."""
        total = self.fee_pot + self.funding_pot
        for a in self.accounts.values():
            total += a.wallet - sum(p.cost for p in a.positions.values())
        return total

    def take_events(self) -> list[Event]:
        events, self.events = self.events, []
        return events

    # -- commands: settings ----------------------------------------------------------------
    def set_leverage(self, acct: AccountRef, symbol_id: str, leverage: int) -> int:
        sym = self.symbol(symbol_id)
        if not 1 <= leverage <= sym.spec.max_leverage:
            raise SimError(-4028, f"Leverage {leverage} is not valid")
        self._account(acct).leverage[sym.id] = leverage
        return leverage

    def set_dual_side(self, acct: AccountRef, dual: bool) -> None:
        """Hedge mode on (True) or one-way (False); refused with open orders or positions."""
        a = self._account(acct)
        if a.dual_side == dual:
            raise SimError(-4059, "No need to change position side.")
        if self.open_orders(a):
            raise SimError(-4067, "Position side cannot be changed if there exists open orders.")
        if any(p.qty for p in a.positions.values()):
            raise SimError(-4068, "Position side cannot be changed if there exists position.")
        a.dual_side = dual
        self._snapshot(a)

    def set_margin_type(self, acct: AccountRef, symbol_id: str, margin_type: str) -> None:
        self.symbol(symbol_id)
        if margin_type == "CROSSED":
            raise SimError(-4046, "No need to change margin type.")
        raise SimError(-1000, "The simulated perpetual supports cross margin only.")  # no Binance code says so

    def arm_countdown(self, acct: AccountRef, symbol_id: str, ms: int, now_ms: int) -> None:
        """countdownCancelAll: at ``now_ms + ms`` cancel the account's open orders on the symbol;
        0 disarms. Each call replaces the previous deadline."""
        self.now = now_ms
        sym = self.symbol(symbol_id)
        key = (acct.name, sym.id)
        if ms <= 0:
            self.countdowns.pop(key, None)
        else:
            self.countdowns[key] = now_ms + ms

    def shock_basis(self, bps: float, symbol_id: str | None = None) -> None:
        """Add ``bps`` to the basis of one perpetual (all when None); it then mean-reverts."""
        for sym in self.symbols.values():
            if symbol_id is None or sym.id == symbol_id:
                sym.basis.shock(bps)
                self._track_spot(sym)

    def settle_funding(self, symbol_id: str, now_ms: int) -> None:
        """Pay funding now at the current predicted rate (admin); the schedule is unchanged."""
        self.now = now_ms
        self._fund(self.symbol(symbol_id), scheduled=False)
        self._flush(reason="FUNDING_FEE")

    # -- commands: orders ------------------------------------------------------------------
    def place_order(
        self,
        acct: AccountRef,
        symbol_id: str,
        side: str,
        type_: str,
        lots: int,
        price_ticks: int,
        tif: str,
        client_id: str,
        now_ms: int,
        reduce_only: bool = False,
        position_side: str = BOTH,
    ) -> tuple[PerpOrder, list[PerpFill]]:
        """Validate, match and rest an order (``price_ticks`` 0 for MARKET). Raises SimError with
        Binance's code; returns the order and the account's fills of this command."""
        self.now = now_ms
        sym = self.symbol(symbol_id)
        a = self._account(acct)
        if side not in (BUY, SELL):
            raise SimError(-1117, "Invalid side.")
        if type_ not in TYPES:
            raise SimError(-1116, "Invalid orderType.")
        if type_ == "MARKET":
            tif, price_ticks = "GTC", 0
        elif tif not in TIFS:
            raise SimError(-1115, "Invalid timeInForce.")
        if lots <= 0 or (type_ == "LIMIT" and price_ticks <= 0):
            raise SimError(-4003, "Quantity less than or equal to zero.")
        prior = self.client_ids.get((a.name, sym.id, client_id))
        if prior is not None and prior.is_open:
            raise SimError(-4116, "ClientOrderId is duplicated.")
        if a.dual_side:
            if position_side not in (LONG, SHORT):
                raise SIDE_MISMATCH
            if reduce_only:
                raise SimError(-1106, "Parameter 'reduceonly' sent when not required.")
        elif position_side != BOTH:
            raise SIDE_MISMATCH
        if tif == "GTX" and sym.book.crosses(side, price_ticks):
            raise GTX_WOULD_TAKE
        closing = reduce_only or _closes(side, position_side)
        if closing and self._reducible(a, sym, side, position_side) == 0:
            raise REDUCE_ONLY_REJECTED
        if a.dual_side and closing and lots > self._reducible(a, sym, side, position_side):
            raise REDUCE_ONLY_REJECTED
        ref = price_ticks or self._market_price(sym, side, lots)
        if not closing and lots * ref * sym.k < to_atoms(sym.spec.min_notional):
            raise SimError(-4164, f"Order's notional must be no smaller than {sym.spec.min_notional} "
                           "(unless you choose reduce only).")
        if not closing:
            pos = a.position(sym.id, position_side)
            opening = lots if a.dual_side else opening_lots(pos.qty, _sign(side), lots)
            need = initial_margin(opening * ref * sym.k, a.leverage.get(sym.id, DEFAULT_LEVERAGE))
            if need > self.account_info(a).available:
                raise MARGIN_INSUFFICIENT
        order = PerpOrder(
            id=self._next_order_id, symbol=sym.id, account=a.name, side=side, type=type_, tif=tif,
            price=price_ticks, orig=lots, client_id=client_id, time=now_ms, update_time=now_ms,
            reduce_only=reduce_only, position_side=position_side,
        )
        self._next_order_id += 1
        self.orders[order.id] = order
        self.client_ids[(a.name, sym.id, client_id)] = order
        self._report(order, "NEW", None)
        fills = self._execute(sym, order)
        if order.is_open:
            self._open.setdefault(a.name, {})[order.id] = order
        self._after_command(sym)
        return order, fills

    def cancel_order(
        self, acct: AccountRef, symbol_id: str, order_id: int | None, client_id: str | None, now_ms: int
    ) -> PerpOrder:
        self.now = now_ms
        sym = self.symbol(symbol_id)
        try:
            order = self.find_order(acct, symbol_id, order_id, client_id)
        except SimError:
            raise UNKNOWN_ORDER from None
        if not order.is_open:
            raise UNKNOWN_ORDER
        self._cancel(sym, order, "CANCELED")
        self._after_command(sym)
        return order

    def cancel_all(self, acct: AccountRef, symbol_id: str, now_ms: int) -> list[PerpOrder]:
        """Cancel the account's open orders on the symbol (none is not an error on futures)."""
        self.now = now_ms
        sym = self.symbol(symbol_id)
        orders = sorted(self.open_orders(acct, sym.id), key=lambda o: o.id)
        for order in orders:
            self._cancel(sym, order, "CANCELED")
        self._after_command(sym)
        return orders

    def step(self, dt: float, now_ms: int) -> None:
        """Advance by ``dt`` seconds (after the spot engine stepped): takers, the mid (spot mid + basis),
        the background, then funding when due, countdowns that expired, and liquidations."""
        self.now = now_ms
        for sym in self.symbols.values():
            for side, lots in sym.market.arrivals(dt):
                self._house_take(sym, side, lots)
            sym.basis.advance(dt)
            self._track_spot(sym)
            self._refresh_background(sym, dt)
            self._seal(sym)
            index = sym.spot.market.mid * float(sym.spot.spec.tick_size)
            sym.funding.observe(sym.mark * float(sym.spec.tick_size) / index - 1.0, dt)
        self._flush(reason="ORDER")
        for sym in self.symbols.values():
            while sym.funding.due(now_ms):
                self._fund(sym, scheduled=True)
        self._flush(reason="FUNDING_FEE")
        if self.countdowns:
            for key, deadline in sorted(self.countdowns.items()):
                if deadline <= now_ms:
                    del self.countdowns[key]
                    self.cancel_all(self.accounts[key[0]], key[1], now_ms)
        for name in sorted(self._holders):
            self._check_margin(self.accounts[name])

    # -- internals: matching ---------------------------------------------------------------
    def _execute(self, sym: PerpSymbol, order: PerpOrder) -> list[PerpFill]:
        limit = None if order.type == "MARKET" else order.price
        lots = order.remaining
        a = self.accounts[order.account]
        if order.reduce_only or _closes(order.side, order.position_side):
            lots = min(lots, self._reducible(a, sym, order.side, order.position_side))
        if order.tif == "FOK" and sum(q for _, q in sym.book.sweep(order.side, limit, lots)) < order.remaining:
            lots = 0
        capped = lots < order.remaining
        fills = []
        for maker, price, filled in sym.book.match(order.side, limit, lots):
            fill = self._trade(sym, maker, order, price, filled)
            if fill is not None:
                fills.append(fill)
        if order.remaining > 0:
            rests = order.type == "LIMIT" and order.tif in ("GTC", "GTX") and not capped
            if rests and not sym.book.crosses(order.side, order.price):
                sym.book.add(order)
            else:
                self._expire(order)
        return fills

    def _trade(
        self, sym: PerpSymbol, maker: Order, taker: PerpOrder, price: int, lots: int, exec_type: str = "TRADE"
    ) -> PerpFill | None:
        """One fill at ``price`` ticks between a maker (its ``executed`` already counted by the book)
        and a taker; positions, realized P&L and fees of both; returns the taker's fill."""
        taker.executed += lots
        quote = price * lots * sym.k
        trade_id = sym.next_trade_id
        sym.next_trade_id += 1
        taker_fill = None
        for order, is_maker in ((cast(PerpOrder, maker), True), (taker, False)):
            a = self.accounts[order.account]
            pos = a.position(sym.id, order.position_side)
            realized = apply_fill(pos, lots if order.side == BUY else -lots, price, sym.k)
            pos.update_time = self.now
            rate = a.maker_fee if is_maker else a.taker_fee
            fee = fee_atoms(quote, rate) if exec_type == "TRADE" else 0
            a.wallet += realized - fee
            self.fee_pot += fee
            order.cum_quote += quote
            order.status = "FILLED" if order.remaining == 0 else "PARTIALLY_FILLED"
            order.update_time = self.now
            self._holders.add(a.name)
            if order.account == HOUSE:
                key = (order.side, order.price)
                if is_maker and order.status == "FILLED" and sym.house_orders.get(key) is order:
                    del sym.house_orders[key]
                continue
            if order.status == "FILLED":
                self._finished(order)
            fill = PerpFill(
                symbol=sym.id, id=trade_id, order_id=order.id, side=order.side,
                position_side=order.position_side, price=price * sym.tick_atoms, qty=lots * sym.step_atoms,
                quote=quote, commission=fee, commission_asset=USDT, realized_pnl=realized, time=self.now,
                is_maker=is_maker,
            )
            history = self.settings.trade_history_per_account
            self.fills[a.name].setdefault(sym.id, deque(maxlen=history)).append(fill)
            if realized:
                self._income(a, sym.id, "REALIZED_PNL", realized, trade_id)
            if fee:
                self._income(a, sym.id, "COMMISSION", -fee, trade_id)
            self._touched.setdefault(a.name, set()).add((sym.id, order.position_side))
            self._report(order, exec_type, fill)
            if not is_maker:
                taker_fill = fill
        trade = PublicTrade(
            sym.id, trade_id, price * sym.tick_atoms, lots * sym.step_atoms, quote, self.now, maker.side == BUY
        )
        sym.trades.append(trade)
        self.events.append(trade)
        _record(sym.stats, trade)
        return taker_fill

    def _expire(self, order: PerpOrder) -> None:
        order.status = "EXPIRED"
        order.update_time = self.now
        self._finished(order)
        self._report(order, "EXPIRED", None)

    def _cancel(self, sym: PerpSymbol, order: PerpOrder, status: str) -> None:
        sym.book.remove(order)
        order.status = status
        order.update_time = self.now
        if order.account == HOUSE:
            sym.house_orders.pop((order.side, order.price), None)
            return
        self._finished(order)
        self._report(order, "CANCELED", None)

    def _reducible(self, a: PerpAccount, sym: PerpSymbol, side: str, position_side: str) -> int:
        """Lots an order of ``side`` can close: the opposite position (one-way) or its side's (hedge)."""
        qty = a.positions[(sym.id, position_side)].qty if (sym.id, position_side) in a.positions else 0
        return abs(qty) if qty and (qty > 0) != (side == BUY) else 0

    def _trim_reduce_only(self, sym: PerpSymbol) -> None:
        """Expire resting reduce-only (and hedge-mode closing) orders that no longer reduce."""
        for name in list(self._touched):
            a = self.accounts[name]
            for order in self.open_orders(a, sym.id):
                closing = order.reduce_only or _closes(order.side, order.position_side)
                if closing and order.remaining > self._reducible(a, sym, order.side, order.position_side):
                    sym.book.remove(order)
                    self._expire(order)

    def _market_price(self, sym: PerpSymbol, side: str, lots: int) -> int:
        """A MARKET order's reference price: the worst level it would reach, else the mark."""
        sweep = sym.book.sweep(side, None, lots)
        return sweep[-1][0] if sweep else sym.mark

    # -- internals: margin, funding, liquidation -------------------------------------------
    def _order_margins(self, a: PerpAccount) -> dict[tuple[str, str], tuple[int, int, int]]:
        """Per (symbol, position side): bid notional, ask notional, initial margin of open orders that
        may open (reduce-only and hedge-mode closing orders need none)."""
        out: dict[tuple[str, str], tuple[int, int, int]] = {}
        for order in self.open_orders(a):
            sym = self.symbols[order.symbol]
            key = (order.symbol, order.position_side)
            bid, ask, im = out.get(key, (0, 0, 0))
            value = notional(order.remaining, order.price, sym.k)
            if order.side == BUY:
                bid += value
            else:
                ask += value
            if not (order.reduce_only or _closes(order.side, order.position_side)):
                im += initial_margin(value, a.leverage.get(order.symbol, DEFAULT_LEVERAGE))
            out[key] = (bid, ask, im)
        return out

    def _fund(self, sym: PerpSymbol, scheduled: bool) -> None:
        rate = Fraction(sym.funding.rate())
        for a in self.accounts.values():
            for side in (BOTH, LONG, SHORT):
                pos = a.positions.get((sym.id, side))
                if pos is None or pos.qty == 0:
                    continue
                value = pos.qty * sym.mark * sym.k
                amount = -value * rate.numerator // rate.denominator
                a.wallet += amount
                self.funding_pot -= amount
                if a.name != HOUSE and amount:
                    self._income(a, sym.id, "FUNDING_FEE", amount, 0)
                    self._touched.setdefault(a.name, set())
                    self._changes[a.name] = self._changes.get(a.name, 0) + amount
        sym.fundings.append(FundingRow(sym.id, self.now, rate=sym.funding.rate(), mark=sym.mark * sym.tick_atoms))
        sym.funding.settled(scheduled)

    def _check_margin(self, a: PerpAccount) -> None:
        if a.name == HOUSE:
            return
        if not any(p.qty for p in a.positions.values()):
            self._holders.discard(a.name)
            return
        info = self.account_info(a)
        if info.margin_balance < info.maint_margin:
            self._liquidate(a)

    def _liquidate(self, a: PerpAccount) -> None:
        """Cancel every open order, close every position at the mark against the house, cover a
        negative wallet from the house."""
        for order in sorted(self.open_orders(a), key=lambda o: o.id):
            self._cancel(self.symbols[order.symbol], order, "CANCELED")
        last = ""
        for (symbol_id, side), pos in sorted(a.positions.items()):
            if pos.qty == 0:
                continue
            sym, last = self.symbols[symbol_id], symbol_id
            lots, close_side = abs(pos.qty), (SELL if pos.qty > 0 else BUY)
            order = PerpOrder(
                id=self._next_order_id, symbol=sym.id, account=a.name, side=close_side, type="LIQUIDATION",
                tif="IOC", price=sym.mark, orig=lots, client_id=f"autoclose-{self.now}", time=self.now,
                update_time=self.now, reduce_only=side == BOTH, position_side=side,
            )
            self._next_order_id += 1
            self.orders[order.id] = order
            self._report(order, "NEW", None)
            house = self._house_order(sym, BUY if close_side == SELL else SELL, "LIMIT", lots, sym.mark)
            house.executed = lots
            self._trade(sym, house, order, sym.mark, lots, exec_type="CALCULATED")
        if a.wallet < 0:
            cover = -a.wallet
            self.accounts[HOUSE].wallet -= cover
            a.wallet = 0
            self._income(a, last, "INSURANCE_CLEAR", cover, 0)
            self._changes[a.name] = self._changes.get(a.name, 0) + cover
        self._touched.setdefault(a.name, set())
        self._flush(reason="LIQUIDATION")

    # -- internals: the house --------------------------------------------------------------
    def _house_order(self, sym: PerpSymbol, side: str, type_: str, lots: int, price: int) -> PerpOrder:
        order = PerpOrder(
            id=self._next_house_id, symbol=sym.id, account=HOUSE, side=side, type=type_,
            tif="GTC" if type_ == "LIMIT" else "IOC", price=price, orig=lots, client_id="", time=self.now,
            update_time=self.now,
        )
        self._next_house_id -= 1
        return order

    def _house_take(self, sym: PerpSymbol, side: str, lots: int) -> None:
        lots = sum(q for _, q in sym.book.sweep(side, None, lots))
        if lots == 0:
            return
        order = self._house_order(sym, side, "MARKET", lots, 0)
        for maker, price, filled in sym.book.match(side, None, lots):
            self._trade(sym, maker, order, price, filled)
        self._trim_reduce_only(sym)

    def _refresh_background(self, sym: PerpSymbol, dt: float) -> None:
        """As the spot engine: one house order per desired level; some resized; the rest dropped."""
        market, book = sym.market, sym.book
        for side in (BUY, SELL):
            wanted = set(market.level_prices(side))
            for order in sorted((o for (s, _), o in sym.house_orders.items() if s == side), key=lambda o: o.price):
                if order.price not in wanted:
                    self._cancel(sym, order, "CANCELED")
            live = sorted((o for (s, _), o in sym.house_orders.items() if s == side), key=lambda o: o.price)
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
                book.add(order)
                sym.house_orders[(side, price)] = order

    def _track_spot(self, sym: PerpSymbol) -> None:
        """The perp's mid (ticks): the spot mid times (1 + basis), above the background's floor; the
        informed takers' next move is the spot's."""
        spot, market = sym.spot, sym.market
        scale = float(spot.spec.tick_size / sym.spec.tick_size)
        floor = sym.spec.half_spread + sym.spec.levels * sym.spec.level_spacing + 1
        market.mid = max(spot.market.mid * scale * (1.0 + sym.basis.bps / 1e4), float(floor))
        market.next_move = spot.market.next_move * scale
        sym.mark = market.center()

    # -- internals: bookkeeping ------------------------------------------------------------
    def _account(self, acct: AccountRef) -> PerpAccount:
        a = self.accounts.get(acct.name)
        if a is None or a.name == HOUSE:
            raise SimError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        return a

    def _after_command(self, sym: PerpSymbol) -> None:
        self._trim_reduce_only(sym)
        self._seal(sym)
        self._flush(reason="ORDER")

    def _income(self, a: PerpAccount, symbol_id: str, type_: str, amount: int, trade_id: int) -> None:
        self.incomes[a.name].append(
            IncomeRow(self._next_income_id, symbol_id, type_, amount, USDT, self.now, trade_id)
        )
        self._next_income_id += 1

    def _finished(self, order: PerpOrder) -> None:
        self._closed.append(order)
        while len(self._closed) > self.settings.order_history:
            old = self._closed.popleft()
            self.orders.pop(old.id, None)
            key = (old.account, old.symbol, old.client_id)
            if self.client_ids.get(key) is old:
                del self.client_ids[key]

    def _seal(self, sym: PerpSymbol) -> None:
        if sym.book.dirty:
            sym.book.dirty = False
            sym.update_id += 1
            if sym.pending_first is None:
                sym.pending_first = sym.update_id

    def _flush(self, reason: str) -> None:
        """One account update per touched account (its wallet and the positions that changed)."""
        for name, keys in sorted(self._touched.items()):
            a = self.accounts[name]
            a.update_time = self.now
            rows = []
            for symbol_id, side in sorted(keys):
                sym, pos = self.symbols[symbol_id], a.position(symbol_id, side)
                rows.append(PositionRow(
                    symbol=symbol_id, position_side=side, amount=pos.qty * sym.step_atoms,
                    entry_price=self._entry_price(sym, pos), realized=pos.realized,
                    unrealized=unrealized(pos, sym.mark, sym.k),
                ))
            change = self._changes.pop(name, 0)
            self.events.append(PerpAccountUpdate(name, self.now, reason, a.wallet, change, tuple(rows)))
            self._snapshot(a)
        self._touched.clear()

    def _snapshot(self, a: PerpAccount) -> None:
        """Remember the wallet and positions as of now; forget those no lag can reach."""
        copy = {key: Position(p.qty, p.cost, p.realized, p.update_time) for key, p in a.positions.items()}
        history = a.history
        if history and history[-1].time == self.now:
            history.pop()
        history.append(_Snapshot(self.now, a.wallet, a.dual_side, copy))
        while len(history) > 1 and history[1].time <= self.now - MAX_LAG_MS:
            history.popleft()

    def _as_of(self, a: PerpAccount, lag_ms: int) -> _Snapshot:
        if lag_ms <= 0:
            return _Snapshot(self.now, a.wallet, a.dual_side, a.positions)
        cutoff = self.now - lag_ms
        for snap in reversed(a.history):
            if snap.time <= cutoff:
                return snap
        return a.history[0]

    @staticmethod
    def _entry_price(sym: PerpSymbol, pos: Position) -> Decimal:
        return _decimal_price(cost_per_lot(pos) / sym.k, sym) if pos.qty else Decimal(0)

    def _report(self, order: PerpOrder, exec_type: str, fill: PerpFill | None) -> None:
        if order.account == HOUSE:
            return
        sym = self.symbols[order.symbol]
        self.events.append(PerpOrderReport(
            account=order.account, symbol=order.symbol, order_id=order.id, client_id=order.client_id,
            side=order.side, type=order.type, tif=order.tif, price=order.price * sym.tick_atoms,
            qty=order.orig * sym.step_atoms, exec_type=exec_type, status=order.status,
            executed=order.executed * sym.step_atoms, cum_quote=order.cum_quote, reduce_only=order.reduce_only,
            position_side=order.position_side, order_time=order.time, time=self.now, fill=fill,
        ))


def _sign(side: str) -> int:
    return 1 if side == BUY else -1


def _closes(side: str, position_side: str) -> bool:
    """Hedge mode: a SELL on LONG or a BUY on SHORT closes."""
    return (position_side == LONG and side == SELL) or (position_side == SHORT and side == BUY)


def _decimal_price(ticks: Fraction, sym: PerpSymbol) -> Decimal:
    """A price in ticks (a Fraction) as Decimal units to 1e-8."""
    atoms = ticks * sym.tick_atoms
    return (Decimal(atoms.numerator) / Decimal(atoms.denominator) / ATOMS).quantize(ATOM)


def _record(stats: Stats, trade: PublicTrade) -> None:
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
