"""What the perpetual's engine reports: fills, order reports, account updates, positions, income.

Amounts are integer atoms (1e-8 USDT or base units), prices atoms per unit, as in ``bot.sim.events``;
rates and average prices are ``Decimal``. Public trades reuse ``bot.sim.events.PublicTrade``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

ATOM = Decimal("0.00000001")


def price_of(quote_atoms: int, qty_atoms: int) -> Decimal:
    """Average price (units) of ``qty_atoms`` bought for ``quote_atoms``, to 1e-8; 0 when no quantity."""
    if qty_atoms == 0:
        return Decimal(0)
    return (Decimal(quote_atoms) / Decimal(qty_atoms)).quantize(ATOM)


@dataclass(slots=True, frozen=True)
class PerpFill:
    """One execution seen by one account (a userTrades row)."""

    symbol: str
    id: int
    order_id: int
    side: str
    position_side: str
    price: int
    qty: int
    quote: int
    commission: int
    commission_asset: str
    realized_pnl: int
    time: int
    is_maker: bool


@dataclass(slots=True, frozen=True)
class PerpOrderReport:
    """An order's snapshot at a state change (ORDER_TRADE_UPDATE). ``exec_type``: NEW, TRADE, CANCELED,
    EXPIRED, CALCULATED (a liquidation's fill); ``fill`` is set on TRADE/CALCULATED."""

    account: str
    symbol: str
    order_id: int
    client_id: str
    side: str
    type: str
    tif: str
    price: int
    qty: int
    exec_type: str
    status: str
    executed: int
    cum_quote: int
    reduce_only: bool
    position_side: str
    order_time: int
    time: int
    fill: PerpFill | None

    @property
    def avg_price(self) -> Decimal:
        return price_of(self.cum_quote, self.executed)


@dataclass(slots=True, frozen=True)
class PositionRow:
    """One position inside an ACCOUNT_UPDATE: amount signed atoms, entry price, realized, unrealized."""

    symbol: str
    position_side: str
    amount: int
    entry_price: Decimal
    realized: int
    unrealized: int


@dataclass(slots=True, frozen=True)
class PerpAccountUpdate:
    """ACCOUNT_UPDATE: ``reason`` ORDER, FUNDING_FEE, LIQUIDATION, INSURANCE_CLEAR; the USDT wallet after
    it, ``change`` the balance change other than P&L and commission (Binance's ``bc``), and the
    positions that changed."""

    account: str
    time: int
    reason: str
    wallet: int
    change: int
    positions: tuple[PositionRow, ...]


@dataclass(slots=True, frozen=True)
class PerpPosition:
    """A positionRisk row (atoms; ``amount`` and ``notional`` signed; prices Decimal units)."""

    symbol: str
    position_side: str
    amount: int
    entry_price: Decimal
    mark: int
    unrealized: int
    notional: int
    leverage: int
    initial_margin: int
    maint_margin: int
    open_order_initial_margin: int
    liquidation_price: Decimal
    realized: int
    bid_notional: int
    ask_notional: int
    update_time: int


@dataclass(slots=True, frozen=True)
class AccountInfo:
    """The cross-margin account in USDT atoms: margin balance = wallet + unrealized; available = margin
    balance - initial margin (positions + open orders), floored at 0."""

    wallet: int
    unrealized: int
    margin_balance: int
    position_initial_margin: int
    open_order_initial_margin: int
    maint_margin: int
    available: int
    update_time: int

    @property
    def initial_margin(self) -> int:
        return self.position_initial_margin + self.open_order_initial_margin


@dataclass(slots=True, frozen=True)
class IncomeRow:
    """A row of GET /fapi/v1/income: ``type`` REALIZED_PNL, COMMISSION, FUNDING_FEE, INSURANCE_CLEAR;
    ``amount`` signed atoms (> 0 is income); ``trade_id`` 0 when none."""

    id: int
    symbol: str
    type: str
    amount: int
    asset: str
    time: int
    trade_id: int


@dataclass(slots=True, frozen=True)
class FundingRow:
    """A settled funding (GET /fapi/v1/fundingRate): the rate and the mark it was paid at (atoms)."""

    symbol: str
    time: int
    rate: Decimal
    mark: int


@dataclass(slots=True, frozen=True)
class PerpDepthDiff:
    """Changed levels between update ids ``first`` and ``last`` (absolute quantities, 0 = gone);
    ``prev_last`` is the previous diff's ``last`` (Binance's ``pu``)."""

    symbol: str
    first: int
    last: int
    prev_last: int
    time: int
    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]
