"""``mmbot report``: a self-contained HTML page (and optionally a PNG) from a bot's SQLite journal.

What the journal holds (:mod:`bot.live.journal`) and what the page shows from it, per symbol:

- ``fills`` (each of our trades): replayed through :class:`~bot.core.inventory.Inventory`, they give
  the exact **inventory path** ``q`` after every fill, realized P&L and fees over time, and the
  **fills** themselves (price, side, size) drawn on the quotes chart;
- ``orders`` (every order the bot sent: time, side, price): the **quotes** the bot posted, bids and
  asks, drawn **against the mid**;
- ``snapshots`` (every ``logging.inventory_interval`` seconds: q, equity, mid): the mid line and
  **P&L marked to mid** over time;
- ``kills``: kill-switch events, listed;
- **markouts** (:mod:`bot.core.markouts`) at +1 s, +10 s, +60 s: the journal keeps no mid at a fill, so the
  page measures each fill against its own price, ``-sign * a * (mid(t + h) - p)`` (positive = against us; at
  short horizons it is minus the spread captured), with ``mid(t + h)`` the first snapshot mid at or after
  ``t + h`` (the fill's trade time and the snapshot's time, both Unix seconds); a horizon shorter than the
  snapshot interval reads a later mid than its name says, and the page shows the mean delay.

Numbers as an operator reads them: prices at the symbol's tick and sizes at its lot, both taken from the
journal's own prices and amounts (the most decimals any of them has: a venue price never has more than its
tick's); money to 4 decimals.

Not in the journal: every quote decision and every mid (only orders actually sent and the periodic
snapshots are), so "quotes against mid" shows the prices the bot sent against the mid sampled at the
snapshots; the page says so; nor the position limit (the inventory chart has no band).

The page is one self-contained HTML file: the data as JSON (``<script type="application/json"
id="mmbot-report-data">``) and the console's own chart code drawing it in the browser (the vendored uPlot,
``charts.js`` and the ``report.js`` bootstrap from ``bot/ops/console/``, inlined by :func:`inline_script`; no
external reference). ``--png`` draws the same panels with matplotlib (the ``plot`` extra: ``pip install
'mmbot[plot]'``).
"""

from __future__ import annotations

import html
import importlib.resources
import json
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.core.display import bps, decimals, fixed, money, plain, position_text
from bot.core.inventory import Fill, Inventory
from bot.core.markouts import HORIZONS, Markouts
from bot.core.markouts import label as horizon_label
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
    markouts: list[dict[str, Any]] = field(default_factory=list)  # horizon, label, count, markout, bps, delay
    tick: float = 0.0  # the price step the journal's prices show (see the module docstring); 0: none seen
    lot: float = 0.0  # the size step of its amounts

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
            of(sym).fills.append({"ts": when, "side": side, "price": price, "amount": float(amount),
                                  "amount_text": str(amount), "fee": fee,
                                  "fee_currency": fee_ccy, "q": inv.q, "realized": inv.realized, "fees": inv.fees,
                                  "total_pnl": inv.total_pnl(price)})
    for data in symbols.values():
        data.tick = step_of([f["price"] for f in data.fills] + [o["price"] for o in data.orders])
        data.lot = step_of([f["amount_text"] for f in data.fills])
        data.markouts = fill_markouts(data.fills, data.snapshots)
    for sym, inv in books.items():
        mids = [s["mid"] for s in of(sym).snapshots if s["mid"] is not None]
        mark = mids[-1] if mids else (of(sym).fills[-1]["price"] if of(sym).fills else None)
        of(sym).final = {**inv.snapshot(mark), "fills": inv.fills, "volume_base": float(inv.volume_base),
                         "volume_quote": inv.volume_quote, "mark": mark if mark is not None else float("nan")}
    return JournalData(path, dict(sorted(symbols.items())), kills)


def step_of(values: list[Any]) -> float:
    """The step whose digits the most precise of ``values`` needs (their shortest decimal forms); 0 if none."""
    digits = [decimals(float(v)) if not isinstance(v, str) else _text_decimals(v) for v in values if v is not None]
    return 10.0 ** -max(digits) if digits else 0.0


def _text_decimals(text: str) -> int:
    """Digits after the point of an exact decimal text (``"0.00120"`` -> 4: trailing zeros are no digits)."""
    _, _, frac = text.partition(".")
    return len(frac.rstrip("0"))


def fill_markouts(fills: list[dict[str, Any]], snapshots: list[dict[str, Any]],
                  horizons: tuple[float, ...] = HORIZONS) -> list[dict[str, Any]]:
    """Per horizon, the fills' markouts against their own prices with the snapshot mids (module docstring):
    ``count`` fills whose horizon a snapshot reached, ``markout`` (quote currency), ``bps`` of their notional,
    ``delay``: the mean seconds by which the snapshot used came after ``t + h``."""
    mids = [(s["ts"], s["mid"]) for s in snapshots if s["mid"] is not None]
    tracker = Markouts(horizons)
    # in time order; at one time the fill first (a snapshot at the fill's time is not after it)
    events = sorted([(f["ts"], 0, i) for i, f in enumerate(fills)] + [(t, 1, i) for i, (t, _) in enumerate(mids)])
    for t, kind, i in events:
        if kind == 0:
            f = fills[i]
            tracker.fill(t, 1 if f["side"] == "buy" else -1, f["amount"], f["price"], f["price"])
        else:
            tracker.mid(t, mids[i][1])
    out = []
    for k, h in enumerate(horizons):
        count = tracker.counts[k]
        out.append({"horizon": h, "label": horizon_label(h), "count": count, "markout": money(tracker.sums[k]),
                    "bps": bps(tracker.rate(k)), "delay": round(tracker.lags[k] / count, 3) if count else None})
    return out


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


def _plot_markouts(ax: Any, data: SymbolData) -> None:
    shown = [m for m in data.markouts if m["bps"] is not None]
    if shown:
        xs = [m["horizon"] for m in shown]
        ax.plot(xs, [m["bps"] for m in shown], "o-", color="tab:red", label="mean markout (bps of notional)")
        for m in shown:
            ax.annotate(f"{m['count']} fills, mid {m['delay']:g} s late", (m["horizon"], m["bps"]), fontsize=7,
                        textcoords="offset points", xytext=(4, 4))
        ax.set_xscale("log")
        ax.set_xticks(xs, [m["label"] for m in shown])
    ax.axhline(0.0, color="black", lw=0.6)
    ax.set_xlabel("horizon after the fill")
    ax.set_ylabel("bps (positive = against us)")
    ax.set_title(f"{data.symbol}: markouts against the fill price, mid from the snapshots")


PANELS = (("quotes", _plot_quotes), ("inventory", _plot_inventory), ("pnl", _plot_pnl), ("markouts", _plot_markouts))


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


def write_png(journal: JournalData, out: Path) -> None:
    """Every symbol's panels in one PNG (a column per symbol)."""
    plt = _matplotlib()
    symbols = [d for d in journal.symbols.values() if d.has_data()] or [SymbolData("(no data)")]
    fig, axes = plt.subplots(len(PANELS), len(symbols), figsize=(9 * len(symbols), 3 * len(PANELS)), squeeze=False)
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


def _money(value: float | None) -> str:
    """Money to 4 decimals (:func:`bot.core.display.money`), digits kept."""
    return fixed(value, 0.0001)


def _markout_table(d: SymbolData) -> str:
    """The markouts per horizon: fills reached, sum, bps, how late the snapshot mid came."""
    rows = ["<table><tr><th>horizon</th><th>fills reached</th><th>markout</th><th>bps</th>"
            "<th>mean delay of the mid (s)</th></tr>"]
    for m in d.markouts:
        value = _money(m["markout"]) if m["count"] else "-"
        rate = "-" if m["bps"] is None else f"{m['bps']:+.2f}"
        delay = "-" if m["delay"] is None else f"{m['delay']:g}"
        rows.append(f"<tr><td>{m['label']}</td><td>{m['count']}</td><td>{value}</td><td>{rate}</td>"
                    f"<td>{delay}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _data_json(journal: JournalData) -> str:
    body = {
        sym: {"fills": d.fills, "orders": d.orders, "snapshots": d.snapshots, "final": d.final,
              "markouts": d.markouts, "tick": d.tick, "lot": d.lot}
        for sym, d in journal.symbols.items()
    }
    text = json.dumps({"journal": str(journal.path), "symbols": body, "kills": journal.kills}, default=str)
    return text.replace("</", "<\\/")


STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#222}
table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}
th{background:#f3f3f3}.note{color:#555;font-size:0.9em}.chart{width:100%;min-height:60px;margin:0.5em 0}
.u-legend{font-size:11px}.u-legend td,.u-legend th{border:none;background:none;padding:0 4px}"""
#: the console's files the page inlines, in load order (``bot/ops/console/``)
SCRIPTS = ("vendor/uPlot.iife.min.js", "charts.js", "report.js")
STYLES = ("vendor/uPlot.min.css",)
CHARTS = (("price", "Quotes against mid"), ("inventory", "Inventory path"), ("pnl", "P&amp;L over time"),
          ("markouts", "Markouts"))


def asset(name: str) -> str:
    """A file of the console's assets (``bot/ops/console/NAME``), read from the installed package."""
    return importlib.resources.files("bot.ops").joinpath("console", *name.split("/")).read_text(encoding="utf-8")


_SCRIPT_HAZARD = re.compile(r"<(?=/script|!--)", re.IGNORECASE)
_STYLE_END = re.compile(r"<(?=/style)", re.IGNORECASE)


def inline_script(text: str) -> str:
    """JavaScript safe inside ``<script>...</script>``: the ``<`` of a ``</script`` (which would close the element
    early) or of a ``<!--`` (which switches the HTML parser into its escaped states) becomes ``\\x3C``; both only
    occur in string, template or regular expression literals, where ``\\x3C`` reads ``<``."""
    return _SCRIPT_HAZARD.sub(r"\\x3C", text)


def inline_style(text: str) -> str:
    """CSS safe inside ``<style>...</style>``: the ``<`` of a ``</style`` becomes ``\\3C `` (a CSS escape; such text
    only occurs in a string or a comment)."""
    return _STYLE_END.sub(r"\\3C ", text)


def render_html(journal: JournalData) -> str:
    """The whole page: a summary, per symbol four charts (drawn by the inlined scripts from the embedded data),
    the markouts and fills tables, the kill events."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>mmbot report</title>',
        f"<style>{STYLE}</style>",
        *(f"<style>{inline_style(asset(name))}</style>" for name in STYLES),
        "</head><body>",
        "<h1>mmbot report</h1>",
        f'<p class="note">Journal <code>{html.escape(str(journal.path))}</code>, generated '
        f"{_when(datetime.now(UTC).timestamp())}. Quotes are the orders the bot sent; the journal does not "
        "record every quote decision or every mid (mid and P&amp;L marked to mid come from the periodic "
        "snapshots, every <code>logging.inventory_interval</code> seconds). Markouts: the journal keeps no mid at a "
        "fill, so each fill is measured against its own price, <code>-sign * amount * (mid(t+h) - price)</code> "
        "(positive = the market moved against us; at short horizons it is minus the spread captured), with the "
        "first snapshot mid at or after <code>t+h</code>: the table says how late that mid came. The live "
        "<code>inventory</code> event, <code>/status</code> and the run summary measure against the mid at each "
        "fill, on every book. Charts read time in the viewer's local time (hover for values; drag to zoom, "
        "double-click to reset); the tables in UTC.</p>",
        '<h2 id="summary">Summary</h2>',
        "<table><tr><th>symbol</th><th>fills</th><th>volume (base)</th><th>volume (quote)</th><th>final q</th>"
        "<th>realized</th><th>fees</th><th>unrealized</th><th>total P&amp;L</th><th>orders sent</th></tr>",
    ]
    for sym, d in journal.symbols.items():
        f = d.final
        out.append(
            f"<tr><td>{html.escape(sym)}</td><td>{len(d.fills)}</td><td>{fixed(f.get('volume_base', 0.0), d.lot)}</td>"
            f"<td>{_money(f.get('volume_quote', 0.0))}</td><td>{position_text(f.get('q', 0.0), d.lot)}</td>"
            f"<td>{_money(f.get('realized_pnl', 0.0))}</td><td>{_money(f.get('fees', 0.0))}</td>"
            f"<td>{_money(f.get('unrealized_pnl', 0.0))}</td><td>{_money(f.get('total_pnl', 0.0))}</td>"
            f"<td>{len(d.orders)}</td></tr>"
        )
    out.append("</table>")
    if not journal.symbols:
        out.append('<p class="note">The journal holds no orders, fills or snapshots yet.</p>')
    for sym, d in journal.symbols.items():
        anchor = html.escape(sym.replace("/", "-"))
        out.append(f'<h2 id="{anchor}">{html.escape(sym)}</h2>')
        for name, title in CHARTS:
            out.append(f'<h3 class="section-{name}">{title}</h3>')
            out.append(f'<div class="chart chart-{name}" data-chart="{name}" data-symbol="{html.escape(sym)}"></div>')
            if name == "markouts":
                out.append(_markout_table(d))
        out.append('<h3 class="section-fills">Fills</h3>')
        if d.fills:
            out.append("<table><tr><th>time</th><th>side</th><th>price</th><th>amount</th><th>fee</th>"
                       "<th>q after</th><th>realized</th></tr>")
            for f in d.fills[-200:]:
                fee = "-" if f["fee"] is None else _fmt(plain(f["fee"]))
                out.append(f"<tr><td>{_when(f['ts'])}</td><td>{html.escape(f['side'])}</td>"
                           f"<td>{fixed(f['price'], d.tick)}</td><td>{fixed(f['amount'], d.lot)}</td>"
                           f"<td>{fee} {html.escape(str(f['fee_currency']))}</td>"
                           f"<td>{position_text(f['q'], d.lot)}</td><td>{_money(f['realized'])}</td></tr>")
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
    out.extend(f"<script>{inline_script(asset(name))}</script>" for name in SCRIPTS)
    out.append("</body></html>")
    return "\n".join(out) + "\n"
