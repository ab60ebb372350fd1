"""`mmbot report` renders from a real journal written by a short run against the simulated exchange, its charts
drawn by the console's chart code inlined into the one HTML file; a missing or invalid journal is one line and
exit code 2."""

from __future__ import annotations

import json
import random
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.cli import main
from bot.ops.report import SCRIPTS, asset, inline_script, inline_style
from tests.live.conftest import SYMBOL, fast_sim, started
from tests.ops.live_helpers import LiveRun, overrides


async def test_report_renders_from_a_real_journal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sim = await started(fast_sim(seed=4, sell_fraction=0.7))
    try:
        run = LiveRun(overrides(sim, tmp_path, ops={"enabled": False}), 4.0)
        summary = await run.task
    finally:
        await sim.stop()
    assert summary.symbols[0].fills > 0
    [journal] = sorted((tmp_path / "var").glob("journal-*.sqlite"))
    with sqlite3.connect(journal) as db:
        journaled_fills = db.execute("SELECT COUNT(*) FROM fills WHERE symbol = ?", (SYMBOL,)).fetchone()[0]
        journaled_orders = db.execute("SELECT COUNT(*) FROM orders WHERE symbol = ?", (SYMBOL,)).fetchone()[0]

    out, png = tmp_path / "report.html", tmp_path / "report.png"
    capsys.readouterr()
    assert main(["report", "--journal", str(journal), "--out", str(out), "--png", str(png)]) == 0
    assert capsys.readouterr().out.startswith(f"mmbot: wrote {out} and {png}: 1 symbol(s), {journaled_fills} fills")

    page = out.read_text(encoding="utf-8")
    for section in ("Summary", "Quotes against mid", "Inventory path", "P&amp;L over time", "Markouts", "Fills",
                    "Kill switch"):
        assert f">{section}</h" in page, section
    # self-contained: a container per chart, drawn by the console's chart code inlined, nothing fetched
    for name in ("price", "inventory", "pnl", "markouts"):
        assert page.count(f'data-chart="{name}" data-symbol="{SYMBOL}"') == 1, name
    assert not re.search(r"""(src|href)=["']?https?:""", page)
    assert not re.search(r"<script[^>]*\ssrc=|<link[^>]*stylesheet", page)
    scripts = re.findall(r"<script>(.*?)</script>", page, re.DOTALL)
    assert scripts == [inline_script(asset(name)) for name in SCRIPTS]  # uPlot, charts.js, report.js, in order
    assert "window.MMBotCharts" in scripts[1] and 'getElementById("mmbot-report-data")' in scripts[2]

    data = json.loads(page.split('<script type="application/json" id="mmbot-report-data">', 1)[1]
                      .split("</script>", 1)[0])
    btc = data["symbols"][SYMBOL]
    assert len(btc["fills"]) == journaled_fills == summary.symbols[0].fills
    assert len(btc["orders"]) == journaled_orders > 0
    assert btc["snapshots"] and all(s["mid"] is not None for s in btc["snapshots"])
    # the replayed inventory ends where the run's accounting ended
    assert btc["fills"][-1]["q"] == pytest.approx(summary.symbols[0].q, abs=1e-12)
    assert btc["final"]["fees"] == pytest.approx(summary.symbols[0].fees, abs=5e-5)  # the summary's: 4 decimals
    # markouts per horizon; a 4 s run reaches the +1 s horizon of its early fills only
    assert [m["label"] for m in btc["markouts"]] == ["1s", "10s", "60s"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("kind", ["missing", "not sqlite", "foreign sqlite"])
def test_missing_or_invalid_journal_is_one_line_exit_2(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "journal.sqlite"
    if kind == "not sqlite":
        path.write_text("definitely not a database\n" * 50, encoding="utf-8")
    elif kind == "foreign sqlite":
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE things (x)")
    out = tmp_path / "report.html"
    assert main(["report", "--journal", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mmbot: ") and str(path) in err
    assert "Traceback" not in err
    assert not out.exists()


FILLS = [
    {"ts": 100.0, "side": "buy", "price": 30000.7, "amount": 0.002, "amount_text": "0.00200", "fee": 0.0,
     "fee_currency": "USDT", "q": 0.002, "realized": 0.0, "fees": 0.0, "total_pnl": 0.0},
    {"ts": 100.5, "side": "sell", "price": 30000.72, "amount": 0.001, "amount_text": "0.001", "fee": 0.03,
     "fee_currency": "USDT", "q": 0.001, "realized": 0.00002, "fees": 0.03, "total_pnl": -0.03},
]
SNAPSHOTS = [{"ts": t, "q": 0.0, "equity": 0.0, "mid": m} for t, m in ((99.0, 30000.0), (103.0, 30000.5),
                                                                    (111.0, 30001.0))]


def test_the_fills_table_keeps_cents_and_the_markouts_read_the_snapshot_mids(tmp_path: Path) -> None:
    from bot.ops.report import JournalData, SymbolData, fill_markouts, render_html, step_of

    fills = FILLS
    snaps = SNAPSHOTS
    marks = fill_markouts(fills, snaps)
    # +1 s: both fills read the 103.0 snapshot (2 s and 1.5 s late); the buy gained 0.2*0.002, the sell lost 0.22*0.001
    assert marks[0]["count"] == 2 and marks[0]["delay"] == 1.75
    assert marks[0]["markout"] == round(-(30000.5 - 30000.7) * 0.002 + (30000.5 - 30000.72) * 0.001, 4)
    assert marks[1]["count"] == 2 and marks[2]["count"] == 0 and marks[2]["bps"] is None  # +60 s: not reached
    assert step_of([30000.7, 30000.72]) == 0.01 and step_of(["0.00200", "0.001"]) == 0.001
    data = SymbolData("BTC/USDT", fills=fills, snapshots=snaps, markouts=marks, tick=0.01, lot=0.001,
                      final={"q": 0.001, "volume_quote": 90.00212})
    page = render_html(JournalData(tmp_path / "j.sqlite", {"BTC/USDT": data}, []))
    table = page.split('<h3 class="section-fills">', 1)[1]
    assert "<td>30000.70</td><td>0.002</td>" in table and "<td>30000.72</td><td>0.001</td>" in table
    assert "<td>90.0021</td>" in page  # money to 4 decimals in the summary


PIECES = ["<", "/", "!", "-", "s", "S", "cript", "CRIPT", "tyle", ">", '"', "x3C", "\\", "a"]


@given(st.lists(st.sampled_from(PIECES), max_size=40).map("".join))
def test_inlined_code_cannot_close_its_element_and_reads_the_same(text: str) -> None:
    """No ``</script`` (any case) or ``<!--`` survives in an inlined script, no ``</style`` in a style, and only
    the ``<`` of those sequences changes (to an escape that reads ``<`` inside the literals they occur in)."""
    script, style = inline_script(text), inline_style(text)
    assert not re.search(r"</script|<!--", script, re.IGNORECASE)
    assert not re.search(r"</style", style, re.IGNORECASE)
    assert script.replace("\\x3C", "<") == text.replace("\\x3C", "<")
    assert style.replace("\\3C ", "<") == text.replace("\\3C ", "<")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (the system's, as the console's browser tests: skipped without it, failed under CI)."""
    from tests.browser.harness import chromium_path, launched, unavailable

    chromium = chromium_path()
    if chromium is None:
        unavailable("no Chromium: install Debian's `chromium` package (.ci/run does)")
    assert chromium is not None
    with launched(chromium) as browser:
        yield browser


def test_the_report_draws_its_charts_in_a_browser_from_the_file_alone(tmp_path: Path, browser: Any) -> None:
    """The HTML file alone (opened from disk, nothing else reachable) runs its inlined chart code without an error
    and draws every chart: the points, the fill markers, a bar per markout horizon reached."""
    from bot.ops.report import JournalData, SymbolData, fill_markouts, render_html

    orders = [{"ts": 99.5, "side": "buy", "price": 30000.7, "amount": 0.002},
              {"ts": 99.5, "side": "sell", "price": 30001.3, "amount": 0.002},
              {"ts": 100.2, "side": "sell", "price": 30000.72, "amount": 0.002}]
    marks = fill_markouts(FILLS, SNAPSHOTS)
    data = SymbolData("BTC/USDT", fills=FILLS, orders=orders, snapshots=SNAPSHOTS, markouts=marks, tick=0.01,
                      lot=0.001, final={"q": 0.001})
    out = tmp_path / "report.html"
    out.write_text(render_html(JournalData(tmp_path / "j.sqlite", {"BTC/USDT": data}, [])), encoding="utf-8")

    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    try:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
        page.on("request", lambda req: req.url.startswith("file:") or errors.append(f"fetched {req.url}"))
        page.goto(out.as_uri())
        page.wait_for_selector('div.chart[data-chart="markouts"] canvas', state="attached", timeout=10_000)
        drawn = page.eval_on_selector_all(
            "div.chart[data-chart]", "els => Object.fromEntries(els.map(e => [e.dataset.chart, "
            "[+e.dataset.points, e.dataset.fills === undefined ? null : +e.dataset.fills, "
            "e.querySelectorAll('canvas').length]]))")
    finally:
        page.close()
    assert errors == []
    # price: the snapshot mids and the orders sent on one time axis (5 times: 99.5 holds a bid and an ask), both
    # fills marked
    assert drawn["price"] == [5, 2, 1]
    assert drawn["inventory"] == [len(FILLS) + len(SNAPSHOTS), None, 1]
    assert drawn["pnl"] == [len(FILLS) + len(SNAPSHOTS), None, 1]
    assert drawn["markouts"] == [sum(m["bps"] is not None for m in marks), None, 1]


STEPS = [0.01, 0.00001, 0.5, 1.0, 25.0, 0.0001, 0.001, 0.1, 0.05, 1e-8, 3 * 0.00001, 0.1 + 0.2, 2.5e-3]


def test_the_charts_print_numbers_as_the_python_side_does(browser: Any) -> None:
    """charts.js's decimals and fmtStep (every axis, legend and table of the console and the report) give the
    text of bot.core.display's decimals and fixed: a step computed in floats reads its own digits, a price its
    tick's, no float noise, no -0. (Random values: an exact binary tie, which Python rounds to even and
    toFixed up, has probability 0 here.)"""
    from bot.core.display import decimals, fixed

    rng = random.Random(20)
    cases = [(rng.choice([-1, 1]) * rng.uniform(0, 10 ** rng.randint(-6, 6)), step, rng.choice([0, 0, 1, 2]))
             for step in STEPS for _ in range(60)]
    cases += [(0.0, 0.01, 0), (-0.0, 0.01, 0), (-0.001, 0.01, 0), (30000.7, 0.01, 0), (1e-05, 1e-05, 0)]
    page = browser.new_page()
    try:
        page.add_script_tag(content=asset("charts.js"))
        got_decimals, got_text = page.evaluate(
            "([steps, cases]) => [steps.map(s => MMBotCharts.decimals(s)),"
            " cases.map(([v, s, e]) => MMBotCharts.fmtStep(v, s, e))]", [STEPS, cases])
    finally:
        page.close()
    assert got_decimals == [decimals(s) for s in STEPS]
    assert got_text == [fixed(v, s, e) for v, s, e in cases]
