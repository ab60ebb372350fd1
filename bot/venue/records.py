"""Venue-neutral records: what the generic live path knows of a trade or an order of ours.

A venue adapter (:mod:`bot.venue.adapters`) builds them from whatever its venue sends (ccxt dicts with the
venue's raw fields under ``info``); the paper venue builds them directly. Nothing past the adapter reads a
venue's own field names or status strings.

- :class:`TradeUpdate`: one execution of an order: its ``amount`` is the venue's exact decimal (never a float
  that ccxt rounded), the fee in ``fee_currency``, ``timestamp_ms`` the venue's trade time.
- :class:`OrderUpdate`: an order as the venue reports it (a create's or cancel's answer, a lookup, an open-order
  read, a stream update): ``status`` is :class:`OrderStatus` (None when the venue did not say), ``filled`` the
  executed size when the venue said it, and ``venue_status`` the venue's own word, for the logs only.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Literal

from bot.core.quote import Side

Source = Literal["ws", "rest"]


class OrderStatus(Enum):
    """Where an order stands at the venue: resting (``OPEN``) or finished for good (``DONE``: filled,
    cancelled, expired or rejected: nothing more will execute)."""

    OPEN = "open"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class TradeUpdate:
    """One execution of one order (see the module docstring)."""

    trade_id: str
    order_id: str | None
    client_id: str | None
    symbol: str | None
    side: Side
    price: float
    amount: Decimal
    fee: float
    fee_currency: str | None
    timestamp_ms: int | None
    source: Source


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """One order as the venue reports it (see the module docstring)."""

    order_id: str | None
    client_id: str | None
    side: Side | None = None
    price: float | None = None
    amount: float | None = None
    filled: Decimal | None = None
    remaining: float | None = None
    status: OrderStatus | None = None
    venue_status: str | None = None

    @property
    def done(self) -> bool:
        return self.status is OrderStatus.DONE
