"""The hedge leg's state as an operator reads it (pure): the fields of the ``inventory`` event, the console's
``hedge`` object and the status document, from one :class:`HedgeStateLike` (the live leg's ``state()``).

Positions and exposures at the perpetual's lot, prices at its tick, money to 4 decimals, rates in basis
points to 2 decimals; what the leg does not know (no touch yet, no position for a margin ratio) is None.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

from bot.core.display import at_step, money, position_text


class PnlLike(Protocol):
    """The hedge leg's P&L split (:class:`bot.core.hedgebook.HedgePnl`)."""

    @property
    def hedge(self) -> float: ...
    @property
    def basis(self) -> float: ...
    @property
    def funding(self) -> float: ...
    @property
    def fees(self) -> float: ...
    @property
    def total(self) -> float: ...


class HedgeStateLike(Protocol):
    """What the live hedge leg says of itself (``bot.live.hedge.HedgeState``)."""

    @property
    def instrument(self) -> str: ...
    @property
    def position(self) -> Decimal: ...
    @property
    def in_flight(self) -> Decimal: ...
    @property
    def net(self) -> Decimal: ...
    @property
    def band(self) -> float: ...
    @property
    def max_position(self) -> float: ...
    @property
    def perp_mid(self) -> float | None: ...
    @property
    def mark(self) -> float | None: ...
    @property
    def basis_bps(self) -> float | None: ...
    @property
    def funding_rate(self) -> float | None: ...
    @property
    def next_funding_ms(self) -> int | None: ...
    @property
    def margin_ratio(self) -> float | None: ...
    @property
    def pnl(self) -> PnlLike | None: ...
    @property
    def paused(self) -> str | None: ...
    @property
    def orders_open(self) -> int: ...
    @property
    def tick(self) -> float: ...
    @property
    def lot(self) -> float: ...


def _at(x: float | Decimal | None, step: float, extra: int = 0) -> float | None:
    return None if x is None else at_step(float(x), step, extra)


def _rate(x: float | None, digits: int) -> float | None:
    return None if x is None else round(float(x), digits) + 0.0


def pnl_fields(pnl: PnlLike | None) -> dict[str, float | None]:
    """``{"hedge", "basis", "funding", "fees", "total"}`` to the cent's hundredth (all None without a book)."""
    names = ("hedge", "basis", "funding", "fees", "total")
    return {name: None if pnl is None else money(getattr(pnl, name)) for name in names}


def hedge_frame(state: HedgeStateLike) -> dict[str, Any]:
    """The console's per-symbol ``hedge`` object (``q`` and ``net`` are what its inventory chart draws)."""
    tick, lot = state.tick, state.lot
    return {
        "instrument": state.instrument, "tick": tick, "lot": lot,
        "q": _at(state.position, lot),
        "net": _at(state.net, lot),
        "in_flight": _at(state.in_flight, lot),
        "band": _at(state.band, lot),
        "max_position": _at(state.max_position, lot),
        "perp_mid": _at(state.perp_mid, tick, 1),
        "mark": _at(state.mark, tick, 1),
        "basis_bps": _rate(state.basis_bps, 2),
        "funding_rate": _rate(state.funding_rate, 8),
        "next_funding": None if state.next_funding_ms is None else round(state.next_funding_ms / 1000.0, 3),
        "margin_ratio": _rate(state.margin_ratio, 4),
        "paused": state.paused,
        "orders": state.orders_open,
        "pnl": pnl_fields(state.pnl),
    }


def hedge_event_fields(state: HedgeStateLike) -> dict[str, Any]:
    """The hedge's fields of the ``inventory`` event (flat, prefixed, so log queries need no nesting)."""
    frame = hedge_frame(state)
    pnl = frame["pnl"]
    return {
        "hedge_instrument": frame["instrument"], "hedge_q": frame["q"], "net_q": frame["net"],
        "hedge_in_flight": frame["in_flight"], "perp_mid": frame["perp_mid"], "basis_bps": frame["basis_bps"],
        "funding_rate": frame["funding_rate"], "margin_ratio": frame["margin_ratio"],
        "hedge_paused": frame["paused"], "hedge_pnl": pnl["hedge"], "basis_pnl": pnl["basis"],
        "funding_pnl": pnl["funding"], "hedge_fees": pnl["fees"], "hedge_total_pnl": pnl["total"],
    }


def hedge_lines(sym: str, hedge: dict[str, Any] | None) -> list[str]:
    """A leg's :func:`hedge_frame` as text (``mmbot status`` and the run summary): position, net exposure, orders
    in flight, basis, funding, margin, then its P&L split; nothing without a leg."""
    if not isinstance(hedge, dict):
        return []
    lot = hedge.get("lot") or 0.0
    state = f"paused ({hedge['paused']})" if hedge.get("paused") else "hedging"
    lines = [f"{sym} hedge in {hedge.get('instrument')}: {state}; position {_size(hedge.get('q'), lot)}, "
             f"net exposure {_size(hedge.get('net'), lot)} (band {_plain(hedge.get('band'))}), in flight "
             f"{_size(hedge.get('in_flight'), lot)}, {hedge.get('orders', 0)} open order(s); perp mid "
             f"{_plain(hedge.get('perp_mid'))}, basis {_signed(hedge.get('basis_bps'), 2)} bps, funding rate "
             f"{_plain(hedge.get('funding_rate'))}, margin ratio {_plain(hedge.get('margin_ratio'))}"]
    pnl = hedge.get("pnl")
    if isinstance(pnl, dict):
        lines.append(f"{sym} hedge P&L: " + ", ".join(f"{name} {_signed(pnl.get(name), 4)}"
                                                     for name in ("hedge", "basis", "funding", "fees", "total")))
    return lines


def _plain(x: Any) -> str:
    return "-" if x is None else str(x)


def _signed(x: Any, digits: int) -> str:
    return "-" if not isinstance(x, int | float) else f"{x:+.{digits}f}"


def _size(x: Any, lot: float) -> str:
    if not isinstance(x, int | float):
        return "-"
    text = position_text(float(x), float(lot))
    return "+" + text if x > 0 else text
