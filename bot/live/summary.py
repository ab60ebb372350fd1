"""The end-of-run summary: numbers per symbol and their plain-text rendering."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any


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
    open_orders_left: int
    q_exact: Decimal = Decimal(0)
    venue_base_delta: Decimal | None = None  # end minus start base balance at the venue


@dataclass
class RunSummary:
    venue: str
    duration: float
    symbols: list[SymbolSummary] = field(default_factory=list)
    stop_reason: str = ""
    kill_reason: str | None = None
    rate_limit_hits: int = 0

    @property
    def open_orders_left(self) -> int:
        return sum(s.open_orders_left for s in self.symbols)

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


def format_summary(run: RunSummary) -> str:
    """A short human report, one block per symbol."""
    lines = [
        f"mmbot run summary: {run.venue}, {run.duration:.1f} s, stopped by {run.stop_reason or 'end'}"
        + (f", kill switch: {run.kill_reason}" if run.kill_reason else ""),
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
    left = run.open_orders_left
    lines.append(
        "  open orders left: none (confirmed with the venue)" if left == 0 else f"  OPEN ORDERS LEFT: {left}"
    )
    if run.rate_limit_hits:
        lines.append(f"  rate-limit backoffs: {run.rate_limit_hits}")
    return "\n".join(lines)
