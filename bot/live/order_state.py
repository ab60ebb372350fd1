"""The one owner of our orders' state on one symbol: :class:`OrderLedger`.

Every change of an order's state goes through the ledger, fed by the results of our requests (the order
manager, :mod:`bot.live.orders`) and by normalized venue updates (the fill intake, :mod:`bot.live.fills`);
nobody else writes an order's fields. The ledger writes the order rows of the journal: ``order_sent``
before a create goes out (:meth:`OrderLedger.sent`: no row, no create), ``order_acked`` when the venue's
order id is learned (:meth:`OrderLedger.set_order_id`), ``order_closed`` when the order leaves the book or
its fate is settled (:meth:`OrderLedger.close`, :meth:`OrderLedger.finish`). A refused write has tripped
the kill (``Journal.on_write_failed``); the order stays unsettled in the journal, so the next start's
catch-up covers it.

States (:class:`State`)::

    PENDING_NEW --answer with id--> OPEN --cancel sent--> PENDING_CANCEL --cancelled / not found--> SETTLING
         |                            |                        | (cancel failed: OPEN again)          |
         |                            +--done (update/lookup)-------------------------------------->|
         +--error of unknown fate: stays open, ``fate_unknown`` (looked up by client id)            |
    SETTLING --everything it can still book is booked--> DONE;  SETTLING --venue: still open--> OPEN

An order of unknown fate (a create answered with a network error, a 5xx, Binance -1006/-1007) is in
:attr:`OrderLedger.unresolved` with the time of that answer until the venue or the user stream settles it;
a trade of an unknown order id is held (:attr:`OrderLedger.held`) while an order of this run has no order
id yet. Settling exposure: an order off the book keeps counting in :meth:`OrderLedger.exposure` until
nothing more can be booked for it (fully booked, or the venue's final executed size known and booked).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from bot.core.quote import Side
from bot.core.reconcile import WorkingOrder
from bot.core.strategy import committed
from bot.live.journal import JournalWriteError
from bot.risk.exposure import unbooked
from bot.venue.records import TradeUpdate

EPS = 1e-12


class State(Enum):
    PENDING_NEW = "pending_new"  # journaled and sent (or being sent); no order id yet
    OPEN = "open"  # the venue has it under its order id (or it was read open from the venue)
    PENDING_CANCEL = "pending_cancel"  # a cancel is on its way
    SETTLING = "settling"  # off the book: fills may still be booked for it
    DONE = "done"  # nothing more can be booked for it


@dataclass
class LiveOrder:
    """One of our orders as we believe it stands (written only by :class:`OrderLedger`). ``remaining`` is
    the size not booked as filled; ``acked``: the venue acknowledged it (its order id is known or it was
    read open).

    ``final_filled`` is the venue's final executed size once the order is known to be done (a cancel's
    answer, a terminal order lookup); ``settling_since`` is when it left the book with that still
    unknown or not yet booked; ``unknown_since`` when its create was answered with an error of unknown
    fate (monotonic), until that is settled.
    """

    client_id: str
    side: Side
    price: float
    amount: float
    remaining: float
    created_at: float
    order_id: str | None = None
    acked: bool = False
    quote_mid: float | None = None
    half_spread: float | None = None
    final_filled: float | None = None
    settling_since: float | None = None
    next_lookup: float = 0.0
    state: State = State.PENDING_NEW
    unknown_since: float | None = None

    def __post_init__(self) -> None:
        if self.acked and self.state is State.PENDING_NEW:
            self.state = State.OPEN

    @property
    def fate_unknown(self) -> bool:
        return self.unknown_since is not None

    def working(self) -> WorkingOrder:
        return WorkingOrder(self.client_id, self.side, self.price, self.remaining, self.created_at)

    def unbooked(self) -> float:
        """What of this order may still be booked into the inventory (:func:`bot.risk.exposure.unbooked`)."""
        return unbooked(self.amount, self.amount - self.remaining, self.final_filled)


class OrderJournal(Protocol):
    """The order rows of the journal (:class:`bot.live.journal.Journal`)."""

    def order_sent(self, client_id: str, symbol: str, side: str, price: float, amount: float) -> None: ...
    def order_acked(self, client_id: str, order_id: str) -> None: ...
    def order_closed(self, client_id: str) -> None: ...


@dataclass
class Held:
    """A trade of an unknown order id, kept until every order that could own it (``owners``) is settled."""

    trade: TradeUpdate
    owners: frozenset[str]


class OrderLedger:
    """Our orders on one symbol: ``open`` (resting or in flight: pending-new, open, pending-cancel),
    ``settling`` (off the book, fills may still come), the orders of unknown fate, the held trades, and
    indexes by client id and order id. See the module docstring.

    :meth:`close` takes an order off the book. It is dropped only once nothing more can be booked for
    it (:meth:`LiveOrder.unbooked` is 0); until then it is ``settling`` and still counts in
    :meth:`exposure`, so a fill that arrives after the order was cancelled, reported done or not found
    never takes the position past what the pre-trade check allowed. Done orders of this run stay findable
    for the ``keep_closed`` most recent ones (late order updates); every trade of a done order is booked,
    so a late duplicate of one is refused by its trade id before any lookup. Open and settling orders are
    never dropped from the indexes.
    """

    def __init__(self, symbol: str = "", journal: OrderJournal | None = None, keep_closed: int = 200,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.symbol, self.journal, self.keep_closed = symbol, journal, keep_closed
        self.clock = clock  # monotonic seconds: when an order starts settling, when its fate became unknown
        self.open: dict[str, LiveOrder] = {}
        self.settling: dict[str, LiveOrder] = {}
        self.by_client_id: dict[str, LiveOrder] = {}
        self.by_order_id: dict[str, LiveOrder] = {}
        self.unresolved: dict[str, LiveOrder] = {}  # creates of unknown fate, by client id
        self.held: dict[str, Held] = {}  # trades of unknown order ids, by trade id
        self.unknown_added = asyncio.Event()  # set when an order's fate becomes unknown (the resolve loop waits)
        self._closed: deque[LiveOrder] = deque()

    # -- orders coming and going --------------------------------------------------------------------
    def _index(self, order: LiveOrder) -> None:
        self.by_client_id[order.client_id] = order
        if order.order_id:
            self.by_order_id[order.order_id] = order

    def remember(self, order: LiveOrder) -> None:
        """Know an order (of an earlier run) by its ids without counting it as open.

        Remembered orders are never forgotten: their number is fixed at start, and the restart
        catch-up needs every one that the journal still holds unsettled.
        """
        self._index(order)

    def sent(self, order: LiveOrder) -> None:
        """A create is about to go out: its journal row first (raises :class:`JournalWriteError`: then
        it must not be sent and is not tracked), then it is open (pending-new)."""
        if self.journal is not None:
            self.journal.order_sent(order.client_id, self.symbol, order.side, order.price, order.amount)
        self.add(order)

    def add(self, order: LiveOrder) -> None:
        """Track an order as open (a create about to go out, or one the venue reports open)."""
        if order.state in (State.SETTLING, State.DONE):
            order.state = State.OPEN if order.acked else State.PENDING_NEW
        self.open[order.client_id] = order
        self._index(order)

    def set_order_id(self, order: LiveOrder, order_id: str) -> None:
        """The venue has ``order`` under ``order_id``: acknowledged (journaled the first time)."""
        if order.order_id is None and self.journal is not None:
            with contextlib.suppress(JournalWriteError):  # has tripped the kill; the next start looks it up
                self.journal.order_acked(order.client_id, order_id)
        order.order_id = order_id
        self.acknowledged(order)
        self.by_order_id[order_id] = order

    def acknowledged(self, order: LiveOrder) -> None:
        """The venue reports ``order`` open."""
        order.acked = True
        if order.state is State.PENDING_NEW:
            order.state = State.OPEN

    def cancel_sent(self, order: LiveOrder) -> None:
        if order.state in (State.PENDING_NEW, State.OPEN):
            order.state = State.PENDING_CANCEL

    def cancel_failed(self, order: LiveOrder) -> None:
        if order.state is State.PENDING_CANCEL:
            order.state = State.OPEN if order.acked else State.PENDING_NEW

    def close(self, client_id: str, filled: float | None = None, now: float | None = None) -> LiveOrder | None:
        """Take an order off the book (journaled ``order_closed``); ``filled`` is the venue's final executed
        size when known.

        Returns the order when it was open. An order with nothing left to book is done, any other one
        settles (see the class docstring); a settling order learns ``filled`` here too.
        """
        order = self.open.pop(client_id, None)
        if order is not None:
            self._journal_closed(client_id)
            order.settling_since = self.clock() if now is None else now
            order.state = State.SETTLING
            self.settling[client_id] = order
            target = order
        else:
            target = self.settling.get(client_id)  # type: ignore[assignment]
        if target is not None:
            if filled is not None:
                target.final_filled = filled
            self._sweep(target)
        return order

    def finish(self, client_id: str, filled: float | None) -> None:
        """Done at the venue with ``filled`` executed (a settled unknown fate): off the book, settling until
        that is booked, and closed in the journal (also when it had left the book already)."""
        if self.close(client_id, filled=filled) is None:
            self._journal_closed(client_id)

    def _journal_closed(self, client_id: str) -> None:
        if self.journal is not None:
            with contextlib.suppress(JournalWriteError):  # has tripped the kill; the next start catches up
                self.journal.order_closed(client_id)

    def reopen(self, order: LiveOrder) -> None:
        """The venue says a settling order still rests: it is open again (the quoter will cancel it)."""
        if self.settling.pop(order.client_id, None) is not None:
            order.settling_since = None
            order.final_filled = None
            self.add(order)  # open again: acknowledged or pending-new as before

    def booked(self, order: LiveOrder, amount: float) -> None:
        """``amount`` of ``order`` was booked into the inventory: a fully booked order leaves the book."""
        order.remaining = max(0.0, order.remaining - amount)
        if order.remaining <= EPS:
            self.close(order.client_id)
        elif order.state is State.SETTLING:
            self._sweep(order)

    def looked_up(self, order: LiveOrder, next_lookup: float) -> None:
        order.next_lookup = next_lookup

    def _sweep(self, order: LiveOrder) -> None:
        if order.unbooked() <= EPS and self.settling.pop(order.client_id, None) is not None:
            order.state = State.DONE
            self._retire(order)

    def _retire(self, order: LiveOrder) -> None:
        """Keep a done order findable among the ``keep_closed`` latest; forget older done ones."""
        self._closed.append(order)
        while len(self._closed) > self.keep_closed:
            old = self._closed.popleft()
            if old.client_id in self.open or old.client_id in self.settling:
                continue  # reopened or re-added meanwhile: still live, never forgotten
            if self.by_client_id.get(old.client_id) is old:
                del self.by_client_id[old.client_id]
            if old.order_id and self.by_order_id.get(old.order_id) is old:
                del self.by_order_id[old.order_id]

    # -- orders of unknown fate, held trades -------------------------------------------------------
    def unknown(self, order: LiveOrder, since: float | None = None) -> None:
        """A create was answered with an error of unknown fate (at ``since``, monotonic; default now)."""
        self.unresolved[order.client_id] = order
        if order.unknown_since is None:
            order.unknown_since = self.clock() if since is None else since
        self.unknown_added.set()

    def resolved(self, client_id: str) -> bool:
        """No longer of unknown fate; True when it was."""
        order = self.unresolved.pop(client_id, None)
        if order is None:
            return False
        order.unknown_since = None
        return True

    def keep_unresolved(self) -> None:
        """At shutdown: every order still of unknown fate keeps an unsettled journal row (written again), so
        the next start looks it up by client id."""
        if self.journal is None:
            return
        for order in self.unresolved.values():
            with contextlib.suppress(JournalWriteError):  # has tripped the kill; its row from the create stays
                self.journal.order_sent(order.client_id, self.symbol, order.side, order.price, order.amount)

    def settled_at_start(self, client_id: str) -> None:
        """The restart catch-up found a journaled order of an earlier run settled (cancelled at start-up or
        finished meanwhile): its row is closed. A refused write raises (the start cannot promise exactly-once)."""
        if self.journal is not None:
            self.journal.order_closed(client_id)

    def oldest_unknown(self) -> float | None:
        """When the oldest unresolved order got its unknown-fate answer (monotonic), None without one."""
        return min((o.unknown_since for o in self.unresolved.values() if o.unknown_since is not None), default=None)

    def unsettled(self) -> frozenset[str]:
        """Client ids of this run's orders that may own a trade we cannot match: no order id known yet."""
        in_flight = (cid for cid, o in self.open.items() if o.order_id is None)
        return frozenset(self.unresolved).union(in_flight)

    def pending(self, client_id: str) -> bool:
        """May still own a trade of an unknown order id (unresolved, or open without an order id)."""
        order = self.open.get(client_id)
        return client_id in self.unresolved or (order is not None and order.order_id is None)

    def hold(self, trade: TradeUpdate, owners: frozenset[str]) -> bool:
        """Keep a trade of an unknown order id; False when it is held already."""
        if trade.trade_id in self.held:
            return False
        self.held[trade.trade_id] = Held(trade, owners)
        return True

    # -- reads -----------------------------------------------------------------------------------
    def find(self, order_id: str | None, client_id: str | None) -> LiveOrder | None:
        if client_id and client_id in self.by_client_id:
            return self.by_client_id[client_id]
        if order_id and order_id in self.by_order_id:
            return self.by_order_id[order_id]
        return None

    def working(self) -> list[WorkingOrder]:
        return [o.working() for o in self.open.values()]

    def open_size(self, side: Side, acked: bool | None = None) -> float:
        """Remaining size of the open orders on ``side`` (only acked or unacked ones when given)."""
        return sum(o.remaining for o in self.open.values() if o.side == side and (acked is None or o.acked == acked))

    def settling_size(self, side: Side) -> float:
        """What settling orders on ``side`` may still book (done ones are dropped on the way)."""
        total = 0.0
        for order in list(self.settling.values()):
            if order.side == side:
                size = order.unbooked()
                if size <= EPS:
                    self._sweep(order)
                total += size
        return total

    def exposure(self, side: Side) -> float:
        """Everything on ``side`` that may still be booked: open orders plus settling ones."""
        return self.open_size(side) + self.settling_size(side)

    def committed(self, side: Side) -> float:
        """The part of :meth:`exposure` a new quote does not replace: unacked open orders and settling ones."""
        buy, sell = self.committed_both()
        return buy if side == "buy" else sell

    def committed_both(self) -> tuple[float, float]:
        """(``committed("buy")``, ``committed("sell")``): :func:`bot.core.strategy.committed` over the open
        orders and :meth:`settling_size` (the quoter reads both on every decision)."""
        if self.settling:
            return committed(self.open.values(), self.settling_size("buy"), self.settling_size("sell"))
        return committed(self.open.values())
