"""The end-of-run summary: numbers per symbol (:func:`symbol_summary` reads them off a run) and their
plain-text rendering."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.live.orders import OpenCheck
    from bot.live.symbolrun import SymbolRun


@dataclass
class SymbolSummary:
    symbol: str
    base: str
    quote: str
    fills: int
    volume_base: float
    volume_quote: float
    q: float
    max_abs_q: float
    mid: float | None
    realized_pnl: float
    unrealized_pnl: float
    fees: float
    total_pnl: float
    spread_captured: float
    skew_cost: float
    orders_placed: int
    orders_canceled: int
    orders_rejected: int
    open_orders_left: int | None  # by a venue read after our last cancel; None: the venue did not answer
    q_exact: Decimal = Decimal(0)
    venue_base_delta: Decimal | None = None  # end minus start base balance at the venue
    open_orders_unconfirmed: int = 0  # when open_orders_left is None: orders of ours that may be open


def symbol_summary(run: SymbolRun, check: OpenCheck) -> SymbolSummary:
    """One symbol's numbers at the end of a run; ``check`` is the venue's last word on our open orders."""
    inv, mid = run.inventory, run.state.mid
    snap = inv.snapshot(mid)
    delta = None
    if run.start_base is not None and run.end_base is not None:
        delta = run.end_base - run.start_base
    return SymbolSummary(
        symbol=run.symbol, base=inv.base, quote=inv.quote, fills=inv.fills,
        volume_base=float(inv.volume_base), volume_quote=inv.volume_quote, q=inv.q,
        max_abs_q=float(inv.max_abs_q), mid=mid, realized_pnl=snap["realized_pnl"],
        unrealized_pnl=snap["unrealized_pnl"], fees=snap["fees"], total_pnl=snap["total_pnl"],
        spread_captured=inv.spread_captured, skew_cost=inv.skew_cost,
        orders_placed=run.orders.placed, orders_canceled=run.orders.canceled,
        orders_rejected=run.orders.rejected, open_orders_left=check.left if check.confirmed else None,
        open_orders_unconfirmed=0 if check.confirmed else check.left, q_exact=inv.q_exact,
        venue_base_delta=delta,
    )


@dataclass
class RunSummary:
    venue: str
    duration: float
    symbols: list[SymbolSummary] = field(default_factory=list)
    stop_reason: str = ""
    kill_reason: str | None = None
    rate_limit_hits: int = 0
    kill_latch: str | None = None  # when the kill was not latched in the journal: where it was, or NOT LATCHED
    journal_error: str | None = None  # the first journal write refused this run
    journal_failed_writes: int = 0

    @property
    def open_orders_left(self) -> int:
        """Orders of ours left open by the venue's word (symbols whose venue did not answer not counted)."""
        return sum(s.open_orders_left or 0 for s in self.symbols)

    @property
    def open_orders_confirmed(self) -> bool:
        """Whether the venue answered for every symbol after our last cancel."""
        return all(s.open_orders_left is not None for s in self.symbols)

    @property
    def open_orders_unconfirmed(self) -> int:
        """Orders of ours that may be open on symbols whose venue did not answer (0 on the others)."""
        return sum(s.open_orders_unconfirmed for s in self.symbols)

    @property
    def clean(self) -> bool:
        """No order of ours left open, as confirmed by the venue."""
        return self.open_orders_confirmed and self.open_orders_left == 0

    @property
    def fills(self) -> int:
        return sum(s.fills for s in self.symbols)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for s in out["symbols"]:
            s["q_exact"] = plain(s["q_exact"])
            s["venue_base_delta"] = None if s["venue_base_delta"] is None else plain(s["venue_base_delta"])
        return out


def plain(x: Decimal) -> str:
    """A decimal in plain notation without trailing zeros: equal values print the same (0.00128990 -> 0.0012899)."""
    return format(x.normalize(), "f") if x else "0"


def _num(x: float | None, digits: int = 4) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def open_orders_line(run: RunSummary) -> str:
    """What the venue said of our open orders at the end: "none" only when a read after the last cancel said so."""
    left, unknown = run.open_orders_left, run.open_orders_unconfirmed
    if not run.open_orders_confirmed:
        known = f"; {left} more confirmed open" if left else ""
        return (f"OPEN ORDERS LEFT: unknown (the venue did not answer: {unknown} order{'s' * (unknown != 1)} of ours "
                f"may be open{known})")
    return "open orders left: none (confirmed with the venue)" if left == 0 else \
        f"OPEN ORDERS LEFT: {left} (confirmed with the venue)"


def format_summary(run: RunSummary) -> str:
    """A short human report, one block per symbol."""
    lines = [
        f"mmbot run summary: {run.venue}, {run.duration:.1f} s, stopped by {run.stop_reason or 'end'}"
        + (f", kill switch: {run.kill_reason}" if run.kill_reason else "")
        + (f" [{run.kill_latch}]" if run.kill_reason and run.kill_latch else ""),
    ]
    for s in run.symbols:
        check = ""
        if s.venue_base_delta is not None:
            ok = s.venue_base_delta == s.q_exact
            check = f"  (venue {s.base} delta {plain(s.venue_base_delta)}: {'matches' if ok else 'MISMATCH'})"
        lines += [
            f"  {s.symbol}",
            f"    fills {s.fills}, volume {s.volume_base:g} {s.base} / {_num(s.volume_quote, 2)} {s.quote}; "
            f"orders placed {s.orders_placed}, canceled {s.orders_canceled}, rejected {s.orders_rejected}",
            f"    inventory: final q {plain(s.q_exact)} {s.base}, max |q| {s.max_abs_q:g}{check}",
            f"    P&L ({s.quote}, marked to mid {_num(s.mid, 2)}): realized {_num(s.realized_pnl)}, "
            f"unrealized {_num(s.unrealized_pnl)}, fees {_num(s.fees)}, total {_num(s.total_pnl)}",
            f"    spread captured {_num(s.spread_captured)}, given up to skew {_num(s.skew_cost)}",
        ]
    lines.append("  " + open_orders_line(run))
    if run.journal_error:
        lines.append(f"  JOURNAL INCOMPLETE: {run.journal_failed_writes} write{'s' * (run.journal_failed_writes != 1)} "
                     f"refused ({run.journal_error}); the next start reads the venue's trades since the last "
                     "journaled fill or unsettled order and books those the journal missed")
    if run.rate_limit_hits:
        lines.append(f"  rate-limit backoffs: {run.rate_limit_hits}")
    return "\n".join(lines)
