"""The end-of-run summary: numbers per symbol (:func:`symbol_summary` reads them off a run) and their
plain-text rendering, with a total line per quote currency across symbols.

Numbers as an operator reads them (:mod:`bot.core.display`): money to 4 decimals, the mid at the tick, sizes at
the lot. The P&L is attributed (:mod:`bot.core.inventory`): ``total = spread captured + inventory - fees``,
with the part of the spread given up to skew and the markouts per horizon (:mod:`bot.core.markouts`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bot.core.display import Steps, at_step, decimals, exact, money
from bot.core.display import bps as to_bps
from bot.ops.hedgeview import hedge_frame, hedge_lines

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
    inventory_pnl: float = 0.0  # each fill marked from its fill-time mid to ``mid``
    # per horizon label ("1s"): {"markout": quote currency, "count": fills, "notional": theirs, "bps": or None}
    markouts: dict[str, dict[str, Any]] = field(default_factory=dict)
    tick: float = 0.0  # the digits of prices (0: unknown)
    lot: float = 0.0  # the digits of sizes (0: unknown)
    hedge: dict[str, Any] | None = None  # the hedge leg at the end (bot.ops.hedgeview.hedge_frame); None: no leg
    # the venue's word on the leg after its last cancel: its position and our open orders (None: it did not answer)
    hedge_venue_position: Decimal | None = None
    hedge_open_orders_left: int | None = None


def symbol_summary(run: SymbolRun, check: OpenCheck) -> SymbolSummary:
    """One symbol's numbers at the end of a run; ``check`` is the venue's last word on our open orders."""
    inv, mid = run.inventory, run.state.mid
    tick, lot = run.rules.tick, run.rules.lot
    steps = Steps(tick, lot)
    snap = inv.snapshot(mid)
    delta = None
    if run.start_base is not None and run.end_base is not None:
        delta = run.end_base - run.start_base
    return SymbolSummary(
        symbol=run.symbol, base=inv.base, quote=inv.quote, fills=inv.fills,
        volume_base=at_step(float(inv.volume_base), lot), volume_quote=money(inv.volume_quote),
        q=steps.position(inv.q) or 0.0, max_abs_q=steps.position(float(inv.max_abs_q)) or 0.0,
        mid=at_step(mid, tick, 1),
        realized_pnl=money(snap["realized_pnl"]), unrealized_pnl=money(snap["unrealized_pnl"]),
        fees=money(snap["fees"]), total_pnl=money(snap["total_pnl"]),
        spread_captured=money(inv.spread_captured), skew_cost=money(inv.skew_cost),
        orders_placed=run.orders.placed, orders_canceled=run.orders.canceled,
        orders_rejected=run.orders.rejected, open_orders_left=check.left if check.confirmed else None,
        open_orders_unconfirmed=0 if check.confirmed else check.left, q_exact=inv.q_exact,
        venue_base_delta=delta, inventory_pnl=money(snap["inventory_pnl"]), markouts=inv.markouts.table(),
        tick=tick, lot=lot, **_hedge_end(run),
    )


def _hedge_end(run: SymbolRun) -> dict[str, Any]:
    leg = run.hedge
    if leg is None:
        return {}
    return {"hedge": hedge_frame(leg.state()), "hedge_venue_position": leg.end_venue_position,
            "hedge_open_orders_left": leg.end_open_orders}


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
            s["q_exact"] = exact(s["q_exact"])
            s["venue_base_delta"] = None if s["venue_base_delta"] is None else exact(s["venue_base_delta"])
            if s["hedge_venue_position"] is not None:
                s["hedge_venue_position"] = exact(s["hedge_venue_position"])
        return out


def _num(x: float | None, digits: int = 4) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def _at(x: float | None, step: float) -> str:
    """``x`` with its step's digits (at least 2 without a known step)."""
    return _num(x, decimals(step) if step > 0 else 2)


def markouts_line(markouts: dict[str, dict[str, Any]]) -> str:
    """``1s 0.0123 over 10 fills (0.41 bps), ...``; a horizon no fill has reached yet says so."""
    parts = []
    for h, m in markouts.items():
        if not m["count"]:
            parts.append(f"{h} - (no fill's horizon elapsed)")
            continue
        rate = "" if m["bps"] is None else f" ({m['bps']:+.2f} bps)"
        parts.append(f"{h} {_num(m['markout'])} over {m['count']} fill{'s' * (m['count'] != 1)}{rate}")
    return "markouts (positive = against us): " + ", ".join(parts)


def attribution_line(spread: float, skew: float, inventory: float, fees: float, total: float) -> str:
    return (f"spread captured {_num(spread)} (of which given up to skew {_num(skew)}), inventory {_num(inventory)}, "
            f"fees {_num(fees)}, total {_num(total)}")


def total_lines(symbols: list[SymbolSummary]) -> list[str]:
    """One total line (and its markouts) per quote currency across symbols, when there are several symbols."""
    if len(symbols) < 2:
        return []
    lines = []
    for quote in sorted({s.quote for s in symbols}):
        group = [s for s in symbols if s.quote == quote]

        def total(key: str, group: list[SymbolSummary] = group) -> float:
            return money(sum(getattr(s, key) for s in group))

        lines.append(f"  total {quote} across {len(group)} symbol{'s' * (len(group) != 1)}: "
                     + attribution_line(total("spread_captured"), total("skew_cost"), total("inventory_pnl"),
                                        total("fees"), total("total_pnl")))
        merged: dict[str, dict[str, Any]] = {}
        for s in group:
            for h, m in s.markouts.items():
                acc = merged.setdefault(h, {"markout": 0.0, "count": 0, "notional": 0.0})
                acc["markout"] += m["markout"]
                acc["count"] += m["count"]
                acc["notional"] += m["notional"]
        for m in merged.values():
            m["markout"], m["notional"] = money(m["markout"]), money(m["notional"])
            m["bps"] = to_bps(m["markout"] / m["notional"]) if m["notional"] > 0 else None
        if merged:
            lines.append("    " + markouts_line(merged))
    return lines


def hedge_check_line(s: SymbolSummary) -> str:
    """The venue's word on the hedge leg at the end: its position against the leg's book, our open orders; "unknown"
    where the venue did not answer."""
    booked = (s.hedge or {}).get("q")
    if s.hedge_venue_position is None:
        position = "venue position unknown (the venue did not answer)"
    else:
        same = booked is not None and Decimal(str(booked)) == s.hedge_venue_position
        position = f"venue position {exact(s.hedge_venue_position)}: {'matches' if same else 'MISMATCH'}"
    if s.hedge_open_orders_left is None:
        orders = "open hedge orders: unknown (the venue did not answer)"
    elif s.hedge_open_orders_left == 0:
        orders = "open hedge orders: none (confirmed with the venue)"
    else:
        orders = f"OPEN HEDGE ORDERS LEFT: {s.hedge_open_orders_left} (confirmed with the venue)"
    return f"hedge {position}; {orders}"


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
            check = f"  (venue {s.base} delta {exact(s.venue_base_delta)}: {'matches' if ok else 'MISMATCH'})"
        lines += [
            f"  {s.symbol}",
            f"    fills {s.fills}, volume {_at(s.volume_base, s.lot)} {s.base} / {_num(s.volume_quote, 2)} {s.quote}; "
            f"orders placed {s.orders_placed}, canceled {s.orders_canceled}, rejected {s.orders_rejected}",
            f"    inventory: final q {exact(s.q_exact)} {s.base}, max |q| {exact(Decimal(repr(s.max_abs_q)))}{check}",
            f"    P&L ({s.quote}, marked to mid {_num(s.mid, decimals(s.tick) + 1 if s.tick > 0 else 2)}): "
            + attribution_line(s.spread_captured, s.skew_cost, s.inventory_pnl, s.fees, s.total_pnl),
            f"      average cost: realized {_num(s.realized_pnl)}, unrealized {_num(s.unrealized_pnl)}",
        ]
        if s.markouts:
            lines.append("    " + markouts_line(s.markouts))
        if s.hedge is not None:
            lines += ["    " + line.removeprefix(f"{s.symbol} ") for line in hedge_lines(s.symbol, s.hedge)]
            lines.append("    " + hedge_check_line(s))
    lines += total_lines(run.symbols)
    lines.append("  " + open_orders_line(run))
    if run.journal_error:
        lines.append(f"  JOURNAL INCOMPLETE: {run.journal_failed_writes} write{'s' * (run.journal_failed_writes != 1)} "
                     f"refused ({run.journal_error}); the next start reads the venue's trades since the last "
                     "journaled fill or unsettled order and books those the journal missed")
    if run.rate_limit_hits:
        lines.append(f"  rate-limit backoffs: {run.rate_limit_hits}")
    return "\n".join(lines)
