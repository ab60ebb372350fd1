"""What the engine reports to the server layer. Amounts are integer atoms (1e-8 units)."""

from __future__ import annotations

from dataclasses import dataclass


class SimError(Exception):
    """A Binance error: ``code`` and ``msg`` go into the JSON body, ``status`` is the HTTP status."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status


@dataclass(slots=True, frozen=True)
class PublicTrade:
    symbol: str  # exchange id, e.g. BTCUSDT
    id: int
    price: int
    qty: int
    quote: int
    time: int
    buyer_is_maker: bool


@dataclass(slots=True, frozen=True)
class Execution:
    """One execution seen by one account (a row of myTrades); not the bot's booked ``bot.core.inventory.Fill``."""

    symbol: str
    id: int
    order_id: int
    price: int
    qty: int
    quote: int
    commission: int
    commission_asset: str
    time: int
    is_buyer: bool
    is_maker: bool


@dataclass(slots=True, frozen=True)
class ExecReport:
    """A snapshot of an order at a state change (an ``executionReport``)."""

    account: str
    symbol: str
    order_id: int
    client_id: str
    orig_client_id: str
    side: str
    type: str
    tif: str
    price: int
    qty: int
    exec_type: str
    status: str
    reject_reason: str
    executed: int
    cum_quote: int
    order_time: int
    time: int
    fill: Execution | None
    quote_order_qty: int = 0


@dataclass(slots=True, frozen=True)
class BalanceUpdate:
    """An ``outboundAccountPosition``: (asset, free, locked) of the assets that changed."""

    account: str
    time: int
    balances: tuple[tuple[str, int, int], ...]


@dataclass(slots=True, frozen=True)
class DepthDiff:
    """Changed levels between update ids ``first`` and ``last`` (absolute quantities, 0 = gone)."""

    symbol: str
    first: int
    last: int
    time: int
    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]
