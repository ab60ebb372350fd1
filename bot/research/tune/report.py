"""The tuner's outputs as text and files: the trials table, the recommended config block, the walk-forward report
and the HTML page (I/O only in the ``write_*`` functions).

Rows are :func:`bot.research.tune.trial.run_trial`'s, scored by :mod:`bot.research.tune.objective`; they hold
exact numbers and the rounding happens here:

- :func:`write_table`: ``trials.csv`` and ``trials.json`` in ``out_dir`` (each written to a temporary file then
  renamed, so an interrupted sweep never leaves a torn table). Columns: ``id``, the ``p.<key>`` columns in the
  order they first appear, ``split``, the metrics (:data:`bot.research.tune.trial.METRICS`), then any other key.
  Numbers as the display rules show them (:data:`MONEY_COLUMNS`, :data:`POSITION_COLUMNS`, :data:`BPS_COLUMNS`,
  else :func:`bot.core.display.plain`: no float noise); in the CSV None is an
  empty cell, booleans ``true``/``false``, ``violations`` joined by ``"; "``; the JSON is a list of row objects.
- :func:`format_table`: the terminal table of the best ``top`` rows (:func:`ranked`: feasible first, then the
  objective, highest first, rows without one last), money to 4 decimals, positions at the lot, the chosen row
  marked ``*``.
- :func:`recommended_block`: the chosen overrides as TOML (``[symbols."X".strategy]``, ``.risk``, ``.execution``,
  as the keys need), every value as the trial used it without float noise; an unset optional setting is a
  comment (TOML has no null).
- :func:`walk_forward_lines`: the in-sample best's out-of-sample metrics, the out-of-sample best, and a WARNING
  line unless the two are *near* (:func:`is_near`).
- :func:`write_html`: one self-contained page (``tune.html``): PNGs as data URIs, the table, the block, the
  walk-forward report; no external reference; every text escaped.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.core.display import Steps, fixed, money, money_text, plain, plain_text, position_text
from bot.research.tune.objective import Objective, choose, risk_score
from bot.research.tune.trial import METRICS, MODELS, split_key

CSV_FILE = "trials.csv"
JSON_FILE = "trials.json"
HTML_FILE = "tune.html"
#: walk-forward "near": the in-sample best ranks in this top fraction of the feasible out-of-sample rows ...
NEAR_TOP = 0.10
#: ... or its out-of-sample score is within this fraction of the out-of-sample scores' range of the best
NEAR_RANGE = 0.10
HTML_TOP = 50  # rows of the page's table (the CSV holds them all)
NO_STEPS = Steps()  # unknown tick and lot: sizes to the satoshi
SECTIONS = tuple(MODELS)  # strategy, risk, execution: the block's tables, in this order


# ---------------------------------------------------------------- the table files

def columns(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The table's column order: ``id``, the ``p.*`` columns as they first appear, ``split``, the metrics, the
    rest as they first appear."""
    params: dict[str, None] = {}
    extra: dict[str, None] = {}
    fixed_cols = {"id", "split", *METRICS}
    for row in rows:
        for key in row:
            if key.startswith("p."):
                params.setdefault(key)
            elif key not in fixed_cols:
                extra.setdefault(key)
    return ["id", *params, "split", *METRICS, *extra]


#: how the files round a column (the display rules): money to 4 decimals, positions to the satoshi (8 decimals:
#: the lot's digits or finer, as :meth:`bot.core.display.Steps.position`), markouts in bps to 2 decimals; any
#: other float (a swept value, a ratio, seconds) to 10 significant digits
MONEY_COLUMNS = frozenset({"total_pnl", "spread_captured", "inventory_pnl", "fees", "skew_cost", "volume_quote",
                           "objective"})
POSITION_COLUMNS = frozenset({"q_std", "max_abs_q", "final_q", "limit"})
BPS_COLUMNS = frozenset({"markout_1s_bps", "markout_10s_bps"})
_ROUNDED = MONEY_COLUMNS | POSITION_COLUMNS | BPS_COLUMNS


def _clean(value: Any, column: str = "") -> Any:
    """A cell's value for the files (:data:`MONEY_COLUMNS` ...); a non-finite float is None; lists item by item;
    ints (counts) stay ints outside the money and position columns."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if not isinstance(value, (int, float)) or (isinstance(value, int) and column not in _ROUNDED):
        return value
    x = float(value)
    if not math.isfinite(x):
        return None
    if column in MONEY_COLUMNS:
        return money(x)
    if column in POSITION_COLUMNS:
        return NO_STEPS.position(x)
    if column in BPS_COLUMNS:
        return round(x, 2) + 0.0
    return plain(x)


def file_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` as the files show it (:func:`write_table`'s rounding), for a caller that prints a row as JSON."""
    return {key: _clean(value, key) for key, value in row.items()}


def _csv_cell(value: Any, column: str) -> str:
    value = _clean(value, column)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if isinstance(value, float):
        return plain_text(value)
    return str(value)


def _replace_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (never a torn file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_table(rows: Sequence[Mapping[str, Any]], out_dir: Path) -> tuple[Path, Path]:
    """Every row to ``out_dir/trials.csv`` and ``out_dir/trials.json`` (module docstring); the two paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cols = columns(rows)
    lines: list[list[str]] = [cols]
    lines.extend([_csv_cell(row.get(c), c) for c in cols] for row in rows)
    csv_path, json_path = out_dir / CSV_FILE, out_dir / JSON_FILE
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(lines)
    _replace_text(csv_path, text.getvalue())
    objects = [file_row({c: row[c] for c in cols if c in row}) for row in rows]
    _replace_text(json_path, json.dumps(objects, indent=1, allow_nan=False) + "\n")
    return csv_path, json_path


# ---------------------------------------------------------------- the terminal table

def ranked(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Rows best first: feasible before infeasible, then by objective (highest first; None last), then P&L; the
    sort is stable, so equal rows keep their order."""
    def key(row: Mapping[str, Any]) -> tuple[bool, bool, float, float]:
        obj = row.get("objective")
        return (not row.get("feasible", False), obj is None, -(obj or 0.0), -float(row.get("total_pnl") or 0.0))
    return sorted(rows, key=key)


def param_text(key: str, value: Any) -> str:
    """A swept value as the operator typed it: no float noise, ``true``/``false``, ``none``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return plain_text(value)
    return str(value)


def _short(key: str) -> str:
    """``p.strategy.skew`` -> ``skew``."""
    return key.rsplit(".", 1)[-1]


#: the metric columns of the printed tables: header, row key, kind (money, position, std, count, ratio, bps)
SHOWN: tuple[tuple[str, str, str], ...] = (
    ("P&L", "total_pnl", "money"),
    ("spread", "spread_captured", "money"),
    ("skew cost", "skew_cost", "money"),
    ("inventory", "inventory_pnl", "money"),
    ("fees", "fees", "money"),
    ("q std", "q_std", "std"),
    ("max |q|", "max_abs_q", "position"),
    ("fills", "fills", "count"),
    ("orders/fill", "orders_per_fill", "ratio"),
    ("markout 1s bps", "markout_1s_bps", "bps"),
    ("objective", "objective", "money"),
)


def _metric_text(value: Any, kind: str, steps: Steps) -> str:
    if value is None:
        return "-"
    if kind == "money":
        return money_text(value)
    if kind == "position":
        return position_text(float(value), steps.lot)
    if kind == "std":
        return fixed(value, steps.lot)
    if kind == "count":
        return str(int(value))
    shown = round(float(value), 2) + 0.0  # no "-0.00"
    return f"{shown:.2f}" if kind == "ratio" or shown == 0 else f"{shown:+.2f}"


def table_cells(rows: Sequence[Mapping[str, Any]], steps: Steps, top: int = 10, chosen_id: str | None = None,
                ) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of the best ``top`` rows (:func:`ranked`), first column ``*`` on the chosen row (given,
    else :func:`bot.research.tune.objective.choose`'s), last column ``ok`` or the row's violations."""
    chosen = chosen_id if chosen_id is not None else choose(rows)
    params = [c for c in columns(rows) if c.startswith("p.")]
    splits = {r.get("split") for r in rows}
    headers = ["", "id", *(_short(p) for p in params), *(["split"] if len(splits) > 1 else []),
               *(h for h, _, _ in SHOWN), "constraints"]
    cells = []
    for row in ranked(rows)[:max(0, top)]:
        cells.append([
            "*" if chosen is not None and row.get("id") == chosen else "",
            str(row.get("id", "")),
            *(param_text(p, row.get(p)) for p in params),
            *([str(row.get("split", ""))] if len(splits) > 1 else []),
            *(_metric_text(row.get(key), kind, steps) for _, key, kind in SHOWN),
            "ok" if row.get("feasible") else "; ".join(map(str, row.get("violations") or ["infeasible"])),
        ])
    return headers, cells


def format_table(rows: Sequence[Mapping[str, Any]], steps: Steps, top: int = 10, chosen_id: str | None = None
                 ) -> str:
    """The terminal table (:func:`table_cells`), columns aligned (numbers to the right), with a last line saying
    how many rows it leaves out."""
    headers, cells = table_cells(rows, steps, top, chosen_id)
    widths = [max(len(line[i]) for line in [headers, *cells]) for i in range(len(headers))]
    left = {0, 1, len(headers) - 1}

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) if i in left else v.rjust(w)
                         for i, (v, w) in enumerate(zip(values, widths, strict=True))).rstrip()

    out = [line(headers), *(line(c) for c in cells)]
    if len(rows) > len(cells):
        out.append(f"({len(rows) - len(cells)} more rows in the table files)")
    return "\n".join(out)


# ---------------------------------------------------------------- the config block

def toml_value(section: str, name: str, value: Any) -> str | None:
    """``value`` as a TOML literal for ``[section] name`` (None for an unset optional setting): a float without
    float noise in fixed-point form (``0.00001``, ``2.0``), a float holding a whole number as an int where the
    setting is an int, strings and booleans as TOML writes them."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    number = plain(float(value))
    if MODELS[section].model_fields[name].annotation is int and number == int(number):
        return str(int(number))
    text = plain_text(number)
    return text if "." in text else f"{text}.0"


def _toml_key(text: str) -> str:
    return json.dumps(text)  # a TOML basic string: JSON's escapes are TOML's


def recommended_block(symbol: str, overrides: Mapping[str, Any], steps: Steps) -> str:
    """The chosen overrides (``{"strategy.skew": 2.0, ...}``) as the config block to paste (module docstring);
    a first comment line names the symbol's tick and lot the sweep ran with ("not known" for a step of 0)."""
    grouped: dict[str, list[tuple[str, Any]]] = {}
    for key, value in overrides.items():
        section, name = split_key(key)
        grouped.setdefault(section, []).append((name, value))
    tick = plain_text(steps.tick) if steps.tick > 0 else "not known"
    lot = plain_text(steps.lot) if steps.lot > 0 else "not known"
    head = f"# mmbot tune: the chosen settings for {symbol} (tick {tick}, lot {lot}); paste into the config"
    lines = [head]
    for section in SECTIONS:
        if section not in grouped:
            continue
        lines.append(f"[symbols.{_toml_key(symbol)}.{section}]")
        for name, value in grouped[section]:
            literal = toml_value(section, name, value)
            lines.append(f"# {name}: unset (leave it out)" if literal is None else f"{name} = {literal}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- walk-forward

def score_of(row: Mapping[str, Any], objective: Objective) -> float:
    """A row's score for the walk-forward comparison: ``total_pnl`` for ``pnl``, the risk score otherwise (for
    ``pareto`` too: the best risk score is always on the frontier, so ranking by it agrees with the choice)."""
    if objective.kind == "pnl":
        return float(row["total_pnl"])
    return risk_score(row, objective.risk_lambda or 0.0)


def _params(row: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple((k, v) for k, v in row.items() if k.startswith("p."))


def is_near(value: float, scores: Sequence[float]) -> bool:
    """The walk-forward rule: ``value`` (the in-sample best's out-of-sample score) is *near* the out-of-sample
    best when it ranks in the top :data:`NEAR_TOP` of ``scores`` (the feasible out-of-sample scores; at least the
    top 1) or lies within :data:`NEAR_RANGE` of their range (best - worst) below the best."""
    if not scores:
        return False
    best, worst = max(scores), min(scores)
    rank = 1 + sum(1 for s in scores if s > value)
    return rank <= max(1, math.ceil(NEAR_TOP * len(scores))) or best - value <= NEAR_RANGE * (best - worst)


def _summary(row: Mapping[str, Any], objective: Objective, steps: Steps) -> str:
    return (f"score {money_text(score_of(row, objective))}, P&L {money_text(row['total_pnl'])}, "
            f"q std {fixed(row['q_std'], steps.lot)}, max |q| {position_text(row['max_abs_q'], steps.lot)}, "
            f"fills {row['fills']}")


def _named(row: Mapping[str, Any]) -> str:
    params = ", ".join(f"{_short(k)}={param_text(k, v)}" for k, v in _params(row))
    return f"{row['id']} ({params})" if params else str(row["id"])


def walk_forward_lines(in_rows: Sequence[Mapping[str, Any]], out_rows: Sequence[Mapping[str, Any]],
                       objective: Objective, steps: Steps = NO_STEPS) -> list[str]:
    """The walk-forward report: the in-sample best (feasible, highest objective) and its metrics on the held-out
    part (matched by its swept values), the held-out best, and the verdict by :func:`is_near` (a line starting
    ``WARNING:`` when not near, when the in-sample best breaks a constraint out of sample, or when there is
    nothing to compare)."""
    rule = (f"near = the in-sample best ranks in the top {NEAR_TOP:.0%} of the feasible out-of-sample trials or "
            f"scores within {NEAR_RANGE:.0%} of their range of the out-of-sample best")
    lines = [f"walk-forward: {len(in_rows)} trials fitted on the first part, {len(out_rows)} checked on the "
             f"held-out part ({objective.kind} score)"]
    best_in_id = choose(in_rows)
    if best_in_id is None:
        return [*lines, "WARNING: no in-sample trial meets the constraints: nothing to validate"]
    best_in = next(r for r in in_rows if r["id"] == best_in_id)
    lines.append(f"in-sample best {_named(best_in)}: {_summary(best_in, objective, steps)}")
    twin = next((r for r in out_rows if _params(r) == _params(best_in)), None)
    feasible_out = [r for r in out_rows if r.get("feasible")]
    if twin is None:
        return [*lines, "WARNING: the in-sample best has no out-of-sample trial: not validated"]
    scores = [score_of(r, objective) for r in feasible_out]
    value = score_of(twin, objective)
    rank = 1 + sum(1 for s in scores if s > value)
    where = f"rank {rank} of {len(scores)} feasible" if twin.get("feasible") else "infeasible"
    lines.append(f"  out of sample: {_summary(twin, objective, steps)} ({where})")
    if feasible_out:
        best_out = max(feasible_out, key=lambda r: score_of(r, objective))
        lines.append(f"out-of-sample best {_named(best_out)}: {_summary(best_out, objective, steps)}")
    else:
        lines.append("out-of-sample best: none (no trial meets the constraints out of sample)")
    if not twin.get("feasible"):
        broken = "; ".join(map(str, twin.get("violations") or []))
        lines.append(f"WARNING: the in-sample best breaks the constraints out of sample ({broken}): likely "
                     "overfitted; " + rule)
    elif not is_near(value, scores):
        lines.append(f"WARNING: the in-sample best is not near the out-of-sample best (rank {rank} of "
                     f"{len(scores)}): likely overfitted to the first part of the data; {rule}")
    else:
        lines.append(f"ok: the in-sample best holds out of sample ({rule})")
    return lines


# ---------------------------------------------------------------- the HTML page

STYLE = """body{font:13px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0;padding:0 16px 24px;
background:#f4f5f7;color:#1f2937}h1{font-size:17px;margin:12px 0}h2{font-size:14px;margin:0 0 8px}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:10px 12px;margin-bottom:12px}
.note{color:#6b7280;margin:0 0 8px}table{border-collapse:collapse;font-variant-numeric:tabular-nums}
td,th{border-bottom:1px solid #e5e7eb;padding:3px 8px;text-align:right;white-space:nowrap}
th{color:#6b7280;font-weight:600}td:nth-child(-n+2),th:nth-child(-n+2),td:last-child,th:last-child{text-align:left}
tr.chosen{background:#eff6ff;font-weight:600}
pre{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f8fafc;border:1px solid #e5e7eb;
border-radius:6px;padding:8px;overflow-x:auto}.warn{color:#b45309;font-weight:600}figure{margin:0 0 12px}
img{max-width:100%;height:auto;border:1px solid #e5e7eb;border-radius:6px}figcaption{color:#6b7280}
.scroll{overflow-x:auto}.wf p{margin:2px 0;white-space:pre-wrap}"""


def data_uri(png: Path) -> str:
    """A PNG file as a ``data:image/png;base64,...`` URI."""
    return "data:image/png;base64," + base64.b64encode(Path(png).read_bytes()).decode("ascii")


def _html_table(rows: Sequence[Mapping[str, Any]], chosen_id: str | None, steps: Steps) -> str:
    headers, cells = table_cells(rows, steps, HTML_TOP, chosen_id)
    out = ["<table><tr>", *(f"<th>{html.escape(h)}</th>" for h in headers), "</tr>"]
    for line in cells:
        css = ' class="chosen"' if line[0] == "*" else ""
        out.append(f"<tr{css}>" + "".join(f"<td>{html.escape(v)}</td>" for v in line) + "</tr>")
    out.append("</table>")
    return "".join(out)


def render_html(rows: Sequence[Mapping[str, Any]], chosen_id: str | None, pictures: Mapping[str, Path],
                block: str, walk_forward: Sequence[str], steps: Steps = NO_STEPS, title: str = "mmbot tune") -> str:
    """The page's text (:func:`write_html`)."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    shown = min(len(rows), HTML_TOP)
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
           f"<h1>{html.escape(title)}</h1>",
           f'<p class="note">{len(rows)} trials, generated {when}; the chosen trial is marked *. Money in the quote '
           "currency to 4 decimals, positions at the lot.</p>"]
    if pictures:
        out.append('<div class="card"><h2>Pictures</h2>')
        for caption, png in pictures.items():
            out.append(f'<figure><img alt="{html.escape(caption)}" src="{data_uri(png)}">'
                       f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        out.append("</div>")
    else:
        out.append('<div class="card"><p class="note">No pictures (they need matplotlib: '
                   "pip install 'mmbot[plot]').</p></div>")
    out.append('<div class="card"><h2>Recommended settings</h2>'
               f"<pre>{html.escape(block) if block else 'no trial meets the constraints'}</pre></div>")
    if walk_forward:
        out.append('<div class="card wf"><h2>Walk-forward</h2>')
        for text in walk_forward:
            css = ' class="warn"' if text.startswith("WARNING") else ""
            out.append(f"<p{css}>{html.escape(text)}</p>")
        out.append("</div>")
    out.append(f'<div class="card"><h2>Trials (best {shown} of {len(rows)}; every trial in '
               f"{CSV_FILE} and {JSON_FILE})</h2>")
    out.append(f'<div class="scroll">{_html_table(rows, chosen_id, steps)}</div></div>')
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_html(out_dir: Path, rows: Sequence[Mapping[str, Any]], chosen_id: str | None,
               pictures: Mapping[str, Path], block: str, walk_forward: Sequence[str], steps: Steps = NO_STEPS,
               title: str = "mmbot tune") -> Path:
    """``out_dir/tune.html``: one self-contained page (``pictures``: caption -> PNG file, embedded as data URIs;
    the table of the best rows, ``block``, the ``walk_forward`` lines); its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / HTML_FILE
    _replace_text(path, render_html(rows, chosen_id, pictures, block, walk_forward, steps, title))
    return path
