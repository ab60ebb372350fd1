"""``mmbot status``: ask a running bot's ops server for its state.

Reads ``/status`` and ``/readyz`` and prints a summary (or the raw documents with ``--json``): readiness, the kill
switch, a row per symbol, then per symbol its pause state, P&L attribution, markouts and balances. The URL:
``--url``, else ``ops.host:ops.port`` of the settings (``--config`` and the environment, as ``mmbot run`` reads
them). :func:`request_json` is the HTTP client ``mmbot pause`` / ``mmbot resume`` use too.
Exit codes: 0 ready, 1 answering but not ready (feed stale, killed...), 2 nothing answering.
"""

from __future__ import annotations

import argparse
import json
import math
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from bot.config import Settings, load_settings
from bot.core.display import fixed, money_text, position_text
from bot.errors import UserError
from bot.live.gate import MANUAL
from bot.ops.hedgeview import hedge_lines

DEFAULT_URL = "http://127.0.0.1:9108"

# (header, key in a symbol's status, format) in display order; "price"/"size": at the symbol's tick/lot
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("q", "q", "size"),
    ("limit", "limit", "{:.6g}"),
    ("mid", "mid", "price"),
    ("bid", "bid", "price"),
    ("ask", "ask", "price"),
    ("pnl", "total_pnl", "{:+.4f}"),
    ("realized", "realized_pnl", "{:+.4f}"),
    ("fees", "fees", "{:.4f}"),
    ("fills", "fills", "{}"),
    ("orders", "open_orders", "{}"),
    ("feed_age", "feed_age", "{:.1f}s"),
)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "status",
        help="show a running bot's inventory, quotes, P&L and readiness",
        description="Ask a running bot's ops server (/status, /readyz). Exit 0 ready, 1 not ready, 2 no answer.",
    )
    add_url_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the status and readiness documents as JSON")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for an answer (default 3)")
    return parser


def add_url_arguments(parser: argparse.ArgumentParser, reads: str = "ops.host, ops.port") -> None:
    """``--url`` and ``--config`` (of which the command ``reads`` these settings): where the bot's ops server is
    (see :func:`ops_url`)."""
    parser.add_argument("--url", help=f"the bot's ops server (default: ops.host:ops.port of the settings, "
                                      f"{DEFAULT_URL} by default)")
    parser.add_argument("--config", metavar="FILE", help=f"the TOML config `mmbot run` used ({reads})")


def ops_url(args: argparse.Namespace, settings: Settings | None = None) -> str:
    """``--url``, else ``ops.host:ops.port`` of ``settings`` (loaded from ``--config`` and the environment when
    not given; a wildcard bind is reached on loopback)."""
    if args.url is not None:
        return base_url(args.url)
    ops = (settings or load_settings(args.config)).ops
    if ops.port == 0:
        raise UserError("ops.port is 0 (the bot took any free port): pass --url http://HOST:PORT")
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(ops.host, ops.host)
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{ops.port}"


def run(args: argparse.Namespace) -> int:
    base = ops_url(args)
    if args.timeout <= 0:
        raise UserError(f"--timeout must be > 0 (got {args.timeout:g})")
    status = _get_json(base, "/status", args.timeout)
    readiness = _get_json(base, "/readyz", args.timeout)
    ready = bool(readiness.get("ready"))
    if args.json:
        print(json.dumps({"url": base, "ready": readiness, "status": status}, indent=2, sort_keys=True))
    else:
        print(render(base, status, readiness))
    return 0 if ready else 1


def base_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UserError(f"--url must look like http://HOST:PORT (got {url!r})")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _get_json(base: str, path: str, timeout: float) -> dict[str, Any]:
    """GET ``base + path`` as a JSON object; 503 and 500 bodies are answers too (readiness, errors)."""
    return request_json(base, path, timeout)[1]


def request_json(
    base: str,
    path: str,
    timeout: float,
    *,
    body: dict[str, Any] | None = None,
    token: str | None = None,
    answers: frozenset[int] = frozenset({500, 503}),
    refusals: frozenset[int] = frozenset({401, 403, 421}),
) -> tuple[int, dict[str, Any]]:
    """``(HTTP status, JSON object)`` of GET ``base + path``, or of a POST of ``body`` as JSON (with the bearer
    ``token`` when given). A status in ``answers`` is an answer too; one in ``refusals`` raises ``UserError``
    "the bot at ... refused ..." with the server's error; anything else, or no answer, "no bot answering".
    The token never appears in a message."""
    method = "GET" if body is None else "POST"
    headers = {} if body is None else {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            code, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        code, raw = exc.code, exc.read()
        if code in refusals:
            raise UserError(f"the bot at {base} refused {method} {path}: HTTP {code}{_error_of(raw)}") from None
        if code not in answers:
            raise UserError(f"no bot answering at {base} ({method} {path}: HTTP {code})") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(f"no bot answering at {base} ({reason})") from None
    try:
        document = json.loads(raw)
    except ValueError:
        raise UserError(f"no bot answering at {base} ({method} {path} did not return JSON)") from None
    if not isinstance(document, dict):
        raise UserError(f"no bot answering at {base} ({method} {path} did not return a JSON object)")
    return code, document


def _error_of(raw: bytes) -> str:
    """``": <error>"`` from an ops server's refusal body ``{"error": ...}`` (one line, cut short), else ``""``."""
    try:
        error = json.loads(raw).get("error")
    except (ValueError, AttributeError):
        return ""
    return f": {' '.join(str(error).split())[:200]}" if error else ""


def _fmt(value: Any, spec: str, data: dict[str, Any] | None = None) -> str:
    """``value`` by ``spec``: a format string, or ``price``/``size`` at the symbol's ``tick``/``lot`` (its
    digits kept: 30000.70, not 30000.7; a position keeps dust below the lot to the satoshi; without a step, the
    value as the bot sent it)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if spec in ("price", "size"):
        step = (data or {}).get("tick" if spec == "price" else "lot")
        if not isinstance(value, int | float):
            return str(value)
        if not (isinstance(step, int | float) and step > 0):
            text = f"{value:.10g}"
        elif spec == "price":
            text = fixed(float(value), float(step))
        else:  # the lot's digits, more where the position holds dust (a base-currency fee)
            text = position_text(float(value), float(step))
        return ("+" + text if value > 0 else text) if spec == "size" else text
    try:
        return spec.format(value)
    except (ValueError, TypeError):
        return str(value)


def _money(value: Any) -> str:
    return _fmt(value, "{:+.4f}")


def attribution_lines(sym: str, data: dict[str, Any]) -> list[str]:
    """The P&L's components, the markouts and the balances of one symbol (those the bot reported)."""
    lines = []
    if "inventory_pnl" in data:
        lines.append(f"{sym} P&L: spread captured {_money(data.get('spread_captured'))} (of which given up to skew "
                     f"{_money(data.get('skew_cost'))}), inventory {_money(data.get('inventory_pnl'))}, fees "
                     f"{_money(data.get('fees'))}, total {_money(data.get('total_pnl'))}")
    horizons = [k[len("markout_"):] for k in data if k.startswith("markout_") and k.count("_") == 1]
    if horizons:
        parts = []
        for h in horizons:
            count = data.get(f"markout_{h}_count") or 0
            rate = data.get(f"markout_{h}_bps")
            if not count:
                parts.append(f"{h} - (no fill's horizon elapsed)")
                continue
            parts.append(f"{h} {_money(data.get(f'markout_{h}'))} over {count} fill{'s' * (count != 1)}"
                         + (f" ({rate:+.2f} bps)" if isinstance(rate, int | float) else ""))
        lines.append(f"{sym} markouts (positive = against us): " + ", ".join(parts))
    balances = data.get("balances")
    if isinstance(balances, dict) and balances:
        parts = []
        for asset, b in balances.items():
            if not isinstance(b, dict):
                continue
            text = f"{asset} {_change(b.get('change'), asset == sym.split('/')[0], data.get('lot'))}"
            if b.get("venue_at_start") is not None:
                text += f" (venue at start {b['venue_at_start']}, expected now {b.get('expected')})"
            parts.append(text)
        lines.append(f"{sym} balances, change since start by the bot's accounting: " + ", ".join(parts))
    return lines


def _change(change: Any, base: bool, lot: Any) -> str:
    """A balance's change, signed: the base at the lot (more digits where it holds dust below it), the quote as
    money (4 decimals); as the bot sent it when not a number."""
    if not isinstance(change, int | float) or not math.isfinite(change):
        return "-" if change is None else str(change)
    if base:
        text = position_text(float(change), float(lot) if isinstance(lot, int | float) and lot > 0 else 0.0)
    else:
        text = money_text(float(change))
    return "+" + text if change > 0 else text


def pause_line(sym: str, data: dict[str, Any], killed: bool) -> str | None:
    """``SYM paused: manual (operator), stale (book 6.0s old)``, ``SYM quoting`` (no pause holds) or
    ``SYM halted: the kill switch is tripped``; None when the bot reports no pause state (an older bot)."""
    pauses = data.get("pauses")
    if not isinstance(pauses, dict) and "paused" not in data:
        return None
    held = [f"{key} ({detail})" if detail else str(key) for key, detail in (pauses or {}).items()]
    if data.get("paused") and not any(str(key) == MANUAL for key in (pauses or {})):
        held.insert(0, f"{MANUAL} (operator)")
    if killed:
        return f"{sym} halted: the kill switch is tripped" + (f"; paused too: {', '.join(held)}" if held else "")
    return f"{sym} paused: {', '.join(held)}" if held else f"{sym} quoting"


def _symbols(status: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Per-symbol rows from ``{"symbols": {SYM: {...}}}`` or ``{"symbols": [{"symbol": SYM, ...}]}``."""
    symbols = status.get("symbols") or {}
    if isinstance(symbols, dict):
        return [(str(k), v if isinstance(v, dict) else {}) for k, v in symbols.items()]
    if isinstance(symbols, list):
        return [(str(s.get("symbol", "?")), s) for s in symbols if isinstance(s, dict)]
    return []


def render(base: str, status: dict[str, Any], readiness: dict[str, Any]) -> str:
    """The human summary: readiness, kill switch, one row per symbol, then any other fields."""
    ready = bool(readiness.get("ready"))
    reason = readiness.get("reason") or ""
    lines = [f"mmbot at {base}: {'ready' if ready else 'NOT READY'}" + (f", {reason}" if reason else "")]
    if "error" in status:
        lines.append(f"status: {status['error']}")
    if "killed" in status:
        killed = bool(status.get("killed"))
        why = status.get("kill_reason")
        lines.append("kill switch: " + ("TRIPPED" + (f" ({why})" if why else "") if killed else "armed"))
    extras = [k for k in status if k not in ("symbols", "killed", "kill_reason", "error")]
    for key in extras:
        lines.append(f"{key}: {_fmt(status[key], '{}')}")
    rows = _symbols(status)
    if rows:
        header = ["symbol", *[h for h, _, _ in COLUMNS]]
        table = [header] + [[sym, *[_fmt(data.get(k), f, data) for _, k, f in COLUMNS]] for sym, data in rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        for row in table:
            cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
            lines.append("  ".join(cells).rstrip())
        killed = bool(status.get("killed"))
        for sym, data in rows:
            line = pause_line(sym, data, killed)
            lines += ([line] if line else []) + attribution_lines(sym, data) + hedge_lines(sym, data.get("hedge"))
    return "\n".join(lines)

