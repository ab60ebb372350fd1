"""Desired quotes versus working orders -> the cancels and creates that close the gap (pure).

Per side, with target ``(price P, amount S)`` (or none) and the working orders on that side:
- no target: cancel every working order (reason ``withdrawn``);
- no working order: create the target (``new``);
- otherwise keep the first working order that is within tolerance, cancel the rest (``duplicate``);
  if none is within tolerance, cancel them all and create the target. A working order at price ``p``,
  remaining ``s``, created at ``t0`` is within tolerance at time ``now`` iff
  ``|p - P| <= max(requote_ticks * tick, requote_bps * 1e-4 * P)`` (else reason ``price``),
  ``|s - S| <= size_tolerance * S`` (else ``size``) and ``now - t0 < max_order_age`` (else ``age``).

Ordering: on the side that would grow ``|q|`` (buy when ``q >= 0``, sell when ``q <= 0``) its cancels
come before its create, so old and new orders never rest together and the worst-case position never
exceeds what the limit allowed; on the reducing side the create comes first, so the flattening quote is
never absent. The executor runs the actions in list order and does not create before an earlier
cancel is acknowledged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.core.quote import Side

SIDES: tuple[Side, Side] = ("buy", "sell")


@dataclass(frozen=True, init=False)
class Target:
    """A quote the strategy wants resting: ``side`` at ``price`` for ``amount`` base units."""

    side: Side
    price: float
    amount: float

    def __init__(self, side: Side, price: float, amount: float) -> None:
        object.__setattr__(self, "side", side)
        object.__setattr__(self, "price", price)
        object.__setattr__(self, "amount", amount)


@dataclass(frozen=True, init=False)
class WorkingOrder:
    """An order of ours believed open at the venue; ``amount`` is the remaining size."""

    client_id: str
    side: Side
    price: float
    amount: float
    created_at: float

    def __init__(self, client_id: str, side: Side, price: float, amount: float, created_at: float) -> None:
        object.__setattr__(self, "client_id", client_id)
        object.__setattr__(self, "side", side)
        object.__setattr__(self, "price", price)
        object.__setattr__(self, "amount", amount)
        object.__setattr__(self, "created_at", created_at)


class Working(Protocol):
    """What reconciliation reads of a working order (:class:`WorkingOrder` or any object with these)."""

    @property
    def client_id(self) -> str: ...
    @property
    def side(self) -> Side: ...
    @property
    def price(self) -> float: ...
    @property
    def amount(self) -> float: ...
    @property
    def created_at(self) -> float: ...


@dataclass(frozen=True)
class Tolerance:
    tick: float
    requote_ticks: int = 2
    requote_bps: float = 0.0
    size_tolerance: float = 0.1
    max_order_age: float = 30.0

    def price_band(self, price: float) -> float:
        return max(self.requote_ticks * self.tick, self.requote_bps * 1e-4 * abs(price))


# Target, WorkingOrder, Cancel and Create are built for every decision. Their __init__ does what a frozen
# dataclass's generated one does, but written out: compiled by mypyc (setup.py) each object.__setattr__
# becomes a direct field store, where the generated __init__ stays interpreted (~15% of a compiled backtest).


@dataclass(frozen=True, init=False)
class Cancel:
    client_id: str
    side: Side
    reason: str

    def __init__(self, client_id: str, side: Side, reason: str) -> None:
        object.__setattr__(self, "client_id", client_id)
        object.__setattr__(self, "side", side)
        object.__setattr__(self, "reason", reason)


@dataclass(frozen=True, init=False)
class Create:
    side: Side
    price: float
    amount: float
    reason: str

    def __init__(self, side: Side, price: float, amount: float, reason: str) -> None:
        object.__setattr__(self, "side", side)
        object.__setattr__(self, "price", price)
        object.__setattr__(self, "amount", amount)
        object.__setattr__(self, "reason", reason)


Action = Cancel | Create


def stale_reason(order: Working, target: Target, now: float, tol: Tolerance) -> str | None:
    """Why ``order`` no longer represents ``target`` ("price", "size", "age"), or None to keep it."""
    # a relative epsilon keeps an order exactly on the band edge despite float rounding;
    # band = tol.price_band(target.price), inlined (this runs for every working order of every decision)
    price = target.price
    band = tol.requote_ticks * tol.tick
    relative = tol.requote_bps * 1e-4 * abs(price)
    if relative > band:
        band = relative
    if abs(order.price - price) > band * (1 + 1e-9) + 1e-12:
        return "price"
    if abs(order.amount - target.amount) > tol.size_tolerance * target.amount * (1 + 1e-9) + 1e-15:
        return "size"
    if now - order.created_at >= tol.max_order_age:
        return "age"
    return None


def grows_exposure(side: Side, q: float) -> bool:
    """Whether a fill on ``side`` would increase ``|q|`` (at ``q == 0`` both sides do)."""
    return q >= 0 if side == "buy" else q <= 0


def reconcile_side(
    side: Side, target: Target | None, working: Iterable[Working], q: float, now: float, tol: Tolerance
) -> list[Action]:
    """The actions for one side, already in execution order."""
    return list(_side_actions(side, target, [o for o in working if o.side == side], q, now, tol))


_NOTHING: tuple[Action, ...] = ()


def _side_actions(
    side: Side, target: Target | None, mine: list[Working], q: float, now: float, tol: Tolerance
) -> Sequence[Action]:
    """:func:`reconcile_side` for ``mine``, the working orders on ``side`` (a shared empty tuple when
    there is nothing to do: the usual answer, built without allocating)."""
    if target is None or target.amount <= 0:
        return [Cancel(o.client_id, side, "withdrawn") for o in mine]
    if not mine:
        return [Create(side, target.price, target.amount, "new")]
    if len(mine) == 1:  # the usual case: one order, kept or replaced
        return _keep_or_replace(side, target, mine[0], stale_reason(mine[0], target, now, tol), q)
    reasons = [stale_reason(o, target, now, tol) for o in mine]
    if None in reasons:
        keep = reasons.index(None)
        return [Cancel(o.client_id, side, "duplicate") for i, o in enumerate(mine) if i != keep]
    cancels: list[Action] = [Cancel(o.client_id, side, r or "") for o, r in zip(mine, reasons, strict=True)]
    create = Create(side, target.price, target.amount, reasons[0] or "new")
    return [*cancels, create] if grows_exposure(side, q) else [create, *cancels]


def _keep_or_replace(side: Side, target: Target, order: Working, reason: str | None, q: float) -> Sequence[Action]:
    """One working order on ``side``: nothing when it is within tolerance (``reason`` None), else
    cancel and create (the cancel first when the side grows ``|q|``)."""
    if reason is None:
        return _NOTHING
    cancel = Cancel(order.client_id, side, reason)
    create = Create(side, target.price, target.amount, reason)
    return [cancel, create] if grows_exposure(side, q) else [create, cancel]


def reconcile(
    targets: Mapping[Side, Target | None],
    working: Iterable[Working],
    q: float,
    now: float,
    tol: Tolerance,
) -> list[Action]:
    """All actions for both sides: the exposure-growing side's cancels first, then the rest."""
    buys: list[Working] = []
    sells: list[Working] = []
    for o in working:
        side = o.side
        if side == "buy":
            buys.append(o)
        elif side == "sell":
            sells.append(o)
    buy_target, sell_target = targets.get("buy"), targets.get("sell")
    if (
        len(buys) == 1 and len(sells) == 1 and buy_target is not None and sell_target is not None
        and buy_target.amount > 0 and sell_target.amount > 0
    ):  # the usual case: one order per side, each kept or replaced
        buy_reason = stale_reason(buys[0], buy_target, now, tol)
        sell_reason = stale_reason(sells[0], sell_target, now, tol)
        if buy_reason is None and sell_reason is None:
            return []
        buy = _keep_or_replace("buy", buy_target, buys[0], buy_reason, q)
        sell = _keep_or_replace("sell", sell_target, sells[0], sell_reason, q)
    else:
        buy = _side_actions("buy", buy_target, buys, q, now, tol)
        sell = _side_actions("sell", sell_target, sells, q, now, tol)
    # one side alone is already in execution order (its cancels first when it grows |q|)
    if not sell:
        return list(buy)
    if not buy:
        return list(sell)
    # cancels on a side that grows |q| (buy when q >= 0, sell when q <= 0) go first
    first: list[Action] = []
    rest: list[Action] = []
    for side_actions, grows in ((buy, q >= 0), (sell, q <= 0)):
        for action in side_actions:
            (first if grows and isinstance(action, Cancel) else rest).append(action)
    return first + rest
