"""``mmbot report``: a self-contained HTML page (and optionally a PNG) from a bot's SQLite journal.

What the journal holds (:mod:`bot.live.journal`) and what the page shows from it, per symbol:

- ``fills`` (each of our trades): replayed through :class:`~bot.core.inventory.Inventory`, they give
  the exact **inventory path** ``q`` after every fill, realized P&L and fees over time, and the
  **fills** themselves (price, side, size) drawn on the quotes chart;
- ``orders`` (every order the bot sent: time, side, price): the **quotes** the bot posted, bids and
  asks, drawn **against the mid**;
- ``snapshots`` (every ``logging.inventory_interval`` seconds: q, equity, mid): the mid line and
  **P&L marked to mid** over time;
- ``kills``: kill-switch events, listed.

Not in the journal: every quote decision and every mid (only orders actually sent and the periodic
snapshots are), so "quotes against mid" shows the prices the bot sent against the mid sampled at the
snapshots; the page says so. Plots are matplotlib figures inlined as SVG (no external files); the plot
data is also embedded as JSON (``<script id="mmbot-report-data">``). Matplotlib comes with the ``plot``
extra (``pip install 'mmbot[plot]'``).
"""

from __future__ import annotations

import html
import io
import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.core.inventory import Fill, Inventory
from bot.errors import UserError

TABLES = ("fills", "orders", "snapshots", "kills")
SCHEMA_VERSION = 1


class ReportError(UserError):
    """The journal is missing or is not a readable mmbot journal."""


@dataclass
class SymbolData:
    """One symbol's series from the journal; times are Unix seconds."""

    symbol: str
    fills: list[dict[str, Any]] = field(default_factory=list)  # ts, side, price, amount, fee, q, realized, fees
    orders: list[dict[str, Any]] = field(default_factory=list)  # ts, side, price, amount
    snapshots: list[dict[str, Any]] = field(default_factory=list)  # ts, q, equity, mid
    final: dict[str, float] = field(default_factory=dict)  # the replayed accounting at the end

    def has_data(self) -> bool:
        return bool(self.fills or self.orders or self.snapshots)


@dataclass
class JournalData:
    path: Path
    symbols: dict[str, SymbolData]
    kills: list[dict[str, Any]]


def _connect(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise ReportError(f"no journal at {path}")
    try:
        db = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as exc:
        raise ReportError(f"{path} is not an mmbot journal: {exc}") from None
    missing = [t for t in (*TABLES, "meta") if t not in names]
    if missing:
        db.close()
        raise ReportError(f"{path} is not an mmbot journal (no table {', '.join(missing)})")
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None or str(row[0]) != str(SCHEMA_VERSION):
        db.close()
        raise ReportError(f"{path}: journal schema version {row[0] if row else 'unknown'}, "
                          f"this mmbot reads {SCHEMA_VERSION}")
    return db


def load_journal(path: str | Path) -> JournalData:
    """Read every symbol's fills, orders and snapshots (opened read-only); replay the fills."""
    path = Path(path)
    db = _connect(path)
    try:
        symbols: dict[str, SymbolData] = {}

        def of(symbol: str) -> SymbolData:
            return symbols.setdefault(symbol, SymbolData(symbol))

        for sym, ts, side, price, amount in db.execute(
                "SELECT symbol, created_at, side, price, amount FROM orders ORDER BY created_at"):
            of(sym).orders.append({"ts": ts, "side": side, "price": price, "amount": amount})
        for sym, ts, q, equity, mid in db.execute("SELECT symbol, ts, q, equity, mid FROM snapshots ORDER BY ts, id"):
            of(sym).snapshots.append({"ts": ts, "q": float(q), "equity": equity, "mid": mid})
        rows = db.execute("SELECT symbol, trade_id, side, price, amount, fee, fee_currency, ts, order_id, client_id, "
                          "recorded_at FROM fills ORDER BY ts, recorded_at, rowid").fetchall()
        kills = [{"ts": r[0], "reason": r[1], "cleared_at": r[2], "cleared_by": r[3]}
                 for r in db.execute("SELECT ts, reason, cleared_at, cleared_by FROM kills ORDER BY id")]
    except sqlite3.Error as exc:
        raise ReportError(f"cannot read the journal {path}: {exc}") from None
    finally:
        db.close()
    books: dict[str, Inventory] = {}
    for sym, trade_id, side, price, amount, fee, fee_ccy, ts, order_id, client_id, recorded in rows:
        base, _, quote = sym.partition("/")
        inv = books.setdefault(sym, Inventory(base=base, quote=quote.split(":")[0]))
        when = ts if ts else recorded
        fill = Fill(trade_id=trade_id, side=side, price=price, amount=amount, fee=fee, fee_currency=fee_ccy,
                    timestamp=when, order_id=order_id, client_id=client_id)
        if inv.apply(fill):
            of(sym).fills.append({"ts": when, "side": side, "price": price, "amount": float(amount), "fee": fee,
                                  "fee_currency": fee_ccy, "q": inv.q, "realized": inv.realized, "fees": inv.fees,
                                  "total_pnl": inv.total_pnl(price)})
    for sym, inv in books.items():
        mids = [s["mid"] for s in of(sym).snapshots if s["mid"] is not None]
        mark = mids[-1] if mids else (of(sym).fills[-1]["price"] if of(sym).fills else None)
        of(sym).final = {**inv.snapshot(mark), "fills": inv.fills, "volume_base": float(inv.volume_base),
                         "volume_quote": inv.volume_quote, "mark": mark if mark is not None else float("nan")}
    return JournalData(path, dict(sorted(symbols.items())), kills)


# -- plots ----------------------------------------------------------------------------------------

def _times(values: list[dict[str, Any]]) -> list[datetime]:
    return [datetime.fromtimestamp(v["ts"], UTC) for v in values]


def _plot_quotes(ax: Any, data: SymbolData) -> None:
    snaps = [s for s in data.snapshots if s["mid"] is not None]
    if snaps:
        ax.plot(_times(snaps), [s["mid"] for s in snaps], color="black", lw=1.2, label="mid (snapshots)")
    for side, color, label in (("buy", "tab:blue", "bid sent"), ("sell", "tab:red", "ask sent")):
        orders = [o for o in data.orders if o["side"] == side]
        if orders:
            ax.scatter(_times(orders), [o["price"] for o in orders], s=6, color=color, alpha=0.45, label=label)
    for side, color, marker, label in (("buy", "navy", "^", "bought"), ("sell", "darkred", "v", "sold")):
        fills = [f for f in data.fills if f["side"] == side]
        if fills:
            ax.scatter(_times(fills), [f["price"] for f in fills], s=28, color=color, marker=marker, label=label)
    ax.set_ylabel("price")
    ax.set_title(f"{data.symbol}: quotes against mid, fills")


def _plot_inventory(ax: Any, data: SymbolData) -> None:
    if data.fills:
        start = {"ts": data.fills[0]["ts"], "q": 0.0}
        path = [start, *data.fills]
        ax.step(_times(path), [p["q"] for p in path], where="post", color="tab:purple", label="q (replayed fills)")
    if data.snapshots:
        ax.plot(_times(data.snapshots), [s["q"] for s in data.snapshots], "o", ms=3, color="gray",
                label="q (snapshots)")
    ax.axhline(0.0, color="black", lw=0.6)
    ax.set_ylabel("inventory q (base)")
    ax.set_title(f"{data.symbol}: inventory path")


def _plot_pnl(ax: Any, data: SymbolData) -> None:
    snaps = [s for s in data.snapshots if s["equity"] is not None]
    if snaps:
        ax.plot(_times(snaps), [s["equity"] for s in snaps], color="tab:green", label="total P&L (marked to mid)")
    if data.fills:
        times = _times(data.fills)
        ax.step(times, [f["realized"] for f in data.fills], where="post", color="tab:orange", label="realized")
        ax.step(times, [-f["fees"] for f in data.fills], where="post", color="tab:gray", label="- fees")
    ax.axhline(0.0, color="black", lw=0.6)
    ax.set_ylabel("quote currency")
    ax.set_title(f"{data.symbol}: P&L over time")


PANELS = (("quotes", _plot_quotes), ("inventory", _plot_inventory), ("pnl", _plot_pnl))


def _matplotlib() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UserError("mmbot report needs matplotlib: pip install 'mmbot[plot]'") from None
    return plt


def _finish(ax: Any) -> None:
    handles, _labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    for label in ax.get_xticklabels():
        label.set_rotation(20)


def panel_svg(data: SymbolData, name: str) -> str:
    """One panel as an inline ``<svg>`` element (text kept as text, no external references)."""
    plt = _matplotlib()
    draw = dict(PANELS)[name]
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "mmbot"}):
        fig, ax = plt.subplots(figsize=(9, 3.2))
        try:
            draw(ax, data)
            _finish(ax)
            fig.tight_layout()
            buf = io.StringIO()
            fig.savefig(buf, format="svg")
        finally:
            plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def write_png(journal: JournalData, out: Path) -> None:
    """Every symbol's three panels in one PNG (a column per symbol)."""
    plt = _matplotlib()
    symbols = [d for d in journal.symbols.values() if d.has_data()] or [SymbolData("(no data)")]
    fig, axes = plt.subplots(len(PANELS), len(symbols), figsize=(9 * len(symbols), 9), squeeze=False)
    try:
        for col, data in enumerate(symbols):
            for row, (_name, draw) in enumerate(PANELS):
                draw(axes[row][col], data)
                _finish(axes[row][col])
        fig.tight_layout()
        fig.savefig(out, format="png", dpi=100)
    finally:
        plt.close(fig)


# -- the page -------------------------------------------------------------------------------------

def _fmt(value: Any, digits: int = 6) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e6 else f"{value:,.2f}"
    return html.escape(str(value))


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _data_json(journal: JournalData) -> str:
    body = {
        sym: {"fills": d.fills, "orders": d.orders, "snapshots": d.snapshots, "final": d.final}
        for sym, d in journal.symbols.items()
    }
    text = json.dumps({"journal": str(journal.path), "symbols": body, "kills": journal.kills}, default=str)
    return text.replace("</", "<\\/")


STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#222}
table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}
th{background:#f3f3f3}.note{color:#555;font-size:0.9em}svg{max-width:100%;height:auto}"""


def render_html(journal: JournalData) -> str:
    """The whole page: a summary, per symbol the three plots and a fills table, the kill events."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>mmbot report</title>',
        f"<style>{STYLE}</style></head><body>",
        "<h1>mmbot report</h1>",
        f'<p class="note">Journal <code>{html.escape(str(journal.path))}</code>, generated '
        f"{_when(datetime.now(UTC).timestamp())}. Quotes are the orders the bot sent; the journal does not "
        "record every quote decision or every mid (mid and P&amp;L marked to mid come from the periodic "
        "snapshots, every <code>logging.inventory_interval</code> seconds).</p>",
        '<h2 id="summary">Summary</h2>',
        "<table><tr><th>symbol</th><th>fills</th><th>volume (base)</th><th>volume (quote)</th><th>final q</th>"
        "<th>realized</th><th>fees</th><th>unrealized</th><th>total P&amp;L</th><th>orders sent</th></tr>",
    ]
    for sym, d in journal.symbols.items():
        f = d.final
        out.append(
            f"<tr><td>{html.escape(sym)}</td><td>{len(d.fills)}</td><td>{_fmt(f.get('volume_base', 0.0))}</td>"
            f"<td>{_fmt(f.get('volume_quote', 0.0))}</td><td>{_fmt(f.get('q', 0.0))}</td>"
            f"<td>{_fmt(f.get('realized_pnl', 0.0))}</td><td>{_fmt(f.get('fees', 0.0))}</td>"
            f"<td>{_fmt(f.get('unrealized_pnl', 0.0))}</td><td>{_fmt(f.get('total_pnl', 0.0))}</td>"
            f"<td>{len(d.orders)}</td></tr>"
        )
    out.append("</table>")
    if not journal.symbols:
        out.append('<p class="note">The journal holds no orders, fills or snapshots yet.</p>')
    for sym, d in journal.symbols.items():
        anchor = html.escape(sym.replace("/", "-"))
        out.append(f'<h2 id="{anchor}">{html.escape(sym)}</h2>')
        for name, title in (("quotes", "Quotes against mid"), ("inventory", "Inventory path"),
                            ("pnl", "P&amp;L over time")):
            out.append(f'<h3 class="section-{name}">{title}</h3>')
            out.append(f'<figure class="plot-{name}">{panel_svg(d, name)}</figure>')
        out.append('<h3 class="section-fills">Fills</h3>')
        if d.fills:
            out.append("<table><tr><th>time</th><th>side</th><th>price</th><th>amount</th><th>fee</th>"
                       "<th>q after</th><th>realized</th></tr>")
            for f in d.fills[-200:]:
                out.append(f"<tr><td>{_when(f['ts'])}</td><td>{html.escape(f['side'])}</td><td>{_fmt(f['price'])}</td>"
                           f"<td>{_fmt(f['amount'])}</td><td>{_fmt(f['fee'])} {html.escape(str(f['fee_currency']))}"
                           f"</td><td>{_fmt(f['q'])}</td><td>{_fmt(f['realized'])}</td></tr>")
            out.append("</table>")
            if len(d.fills) > 200:
                out.append(f'<p class="note">The last 200 of {len(d.fills)} fills.</p>')
        else:
            out.append('<p class="note">No fills.</p>')
    out.append('<h2 id="kills">Kill switch</h2>')
    if journal.kills:
        out.append("<table><tr><th>time</th><th>reason</th><th>cleared</th></tr>")
        for k in journal.kills:
            cleared = "latched"
            if k["cleared_at"]:
                cleared = f"{_when(k['cleared_at'])} by {html.escape(str(k['cleared_by']))}"
            out.append(f"<tr><td>{_when(k['ts'])}</td><td>{html.escape(k['reason'])}</td><td>{cleared}</td></tr>")
        out.append("</table>")
    else:
        out.append('<p class="note">The kill switch never tripped.</p>')
    out.append(f'<script type="application/json" id="mmbot-report-data">{_data_json(journal)}</script>')
    out.append("</body></html>")
    return "\n".join(out) + "\n"
