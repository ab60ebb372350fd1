"""The operator console in real headless Chromium against a running bot on the simulated exchange.

One bot for the module; the tests run in file order and the kill goes last. Every effect of a control is
confirmed at the venue (open orders read by an independent client), never only on the page.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.browser.harness import ARTIFACTS, REPO, SYMBOLS, Bot, Venue, child_env, log_time, mmbot

FOREIGN_ORIGIN = "http://evil.example"
SEEN_WITHIN = 2.0  # seconds from the bot's `fill` log line to the fill on the page
# the explorer's outputs (the contract's ids): the quote's numbers as the server sent them, and the command line
EXPLORE = {"bid": "#explore-bid", "ask": "#explore-ask", "reservation": "#explore-reservation",
           "half_spread": "#explore-half-spread", "command": "#explore-command"}


def panel(symbol: str) -> str:
    return f'section.symbol-panel[data-symbol="{symbol}"]'


def points(page: Any, symbol: str, chart: str = "price") -> int:
    return int(page.get_attribute(f"{panel(symbol)} .chart-{chart}", "data-points") or 0)


def fill_markers(page: Any, symbol: str) -> int:
    return int(page.get_attribute(f"{panel(symbol)} .chart-price", "data-fills") or 0)


class Console:
    """A page of the console in its own browser context, with what it logged and requested."""

    def __init__(self, browser: Any, url: str) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.posts: list[str] = []
        self.explore: list[Any] = []
        self.failed: list[str] = []  # answers >= 400
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        self.page.on("console", lambda msg: self._console(msg.type, msg.text))
        self.page.on("request", lambda req: req.method == "POST" and self.posts.append(req.url))
        self.page.on("response", self._response)
        self.page.goto(url)
        try:
            self.page.wait_for_function(  # the stream is open and its hello drawn
                "() => document.querySelector('#conn')?.textContent.trim() === 'live'"
                " && document.querySelectorAll('button.tab[data-symbol]').length > 0", timeout=15_000)
        except Exception as exc:
            raise AssertionError(f"the console never went live: #conn {self.text('#conn')!r}, "
                                 f"{self.page.locator('button.tab').count()} tabs, errors {self.errors}") from exc

    def _console(self, kind: str, text: str) -> None:
        """Script errors and CSP violations (failed requests are in ``failed``)."""
        if kind == "error" and not text.startswith("Failed to load resource"):
            self.errors.append(f"console: {text}")

    def _response(self, response: Any) -> None:
        if "/console/explore" in response.url:
            self.explore.append(response)
        if response.status >= 400:
            self.failed.append(f"{response.status} {response.url}")

    def failed_besides_explorer(self) -> list[str]:
        """Failed requests, but for the explorer's (it answers 400 until the bot has a mid, by design)."""
        return [f for f in self.failed if "/console/explore" not in f]

    def text(self, selector: str) -> str:
        return (self.page.text_content(selector) or "").strip()

    def wait_text(self, selector: str, text: str, timeout: float = 10.0) -> None:
        self.page.wait_for_function(
            "([sel, text]) => document.querySelector(sel)?.textContent.trim() === text", arg=[selector, text],
            timeout=timeout * 1000, polling=50,
        )

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def console(browser: Any, bot: Bot) -> Iterator[Console]:
    page = Console(browser, bot.console_url)
    yield page
    page.close()


def post(bot: Bot, path: str, token: str | None, origin: str | None = None,
         content_type: str = "application/json") -> tuple[int, Any]:
    """POST ``{}`` to the ops server as a script would; the status and the JSON answer (None when not JSON)."""
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if origin is not None:
        headers["Origin"] = origin
    request = urllib.request.Request(bot.base + path, data=b"{}", headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status, body = answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


def get_json(bot: Bot, path: str) -> Any:
    with urllib.request.urlopen(bot.base + path, timeout=10) as answer:
        return json.loads(answer.read())


def all_quoting(counts: dict[str, int]) -> bool:
    return all(n > 0 for n in counts.values())


def test_page_loads_live_with_one_tab_per_symbol_and_growing_charts(console: Console, bot: Bot) -> None:
    page = console.page
    assert "#token=" not in page.url  # the token left the address bar
    assert console.text("#state") == "quoting"
    tabs = page.eval_on_selector_all("button.tab[data-symbol]", "els => els.map(e => e.dataset.symbol)")
    assert sorted(tabs) == sorted(SYMBOLS)
    assert page.get_attribute(f'button.tab[data-symbol="{SYMBOLS[0]}"]', "aria-selected") == "true"
    assert page.is_visible(panel(SYMBOLS[0])) and not page.is_visible(panel(SYMBOLS[1]))
    before = {symbol: points(page, symbol) for symbol in SYMBOLS}
    page.wait_for_function(
        "(before) => Object.entries(before).every(([s, n]) =>"
        " +document.querySelector(`section.symbol-panel[data-symbol=\"${s}\"] .chart-price`)"
        "?.getAttribute('data-points') >= n + 3)", arg=before, timeout=10_000,
    )
    page.click(f'button.tab[data-symbol="{SYMBOLS[1]}"]')
    assert page.get_attribute(f'button.tab[data-symbol="{SYMBOLS[1]}"]', "aria-selected") == "true"
    assert page.is_visible(panel(SYMBOLS[1])) and not page.is_visible(panel(SYMBOLS[0]))
    assert points(page, SYMBOLS[1], "inventory") > 0 and points(page, SYMBOLS[1], "pnl") > 0
    page.wait_for_selector(f"{panel(SYMBOLS[1])} .orders-table tr.order", timeout=15_000)
    with urllib.request.urlopen(bot.page_url, timeout=10) as answer:  # the server never puts the token in the page
        assert bot.token not in answer.read().decode()
    assert console.errors == []  # no script error, no CSP violation
    assert console.failed_besides_explorer() == []  # every asset served


def test_a_fill_shows_on_the_page_within_2s_of_its_log_line(console: Console, bot: Bot) -> None:
    page = console.page
    start = len(bot.process.stdout)
    markers = {symbol: fill_markers(page, symbol) for symbol in SYMBOLS}
    line = bot.process.wait_for(bot.process.stdout, lambda x: bool(x.event and x.event.get("event") == "fill"),
                                timeout=60, start=start)
    assert line.event is not None
    logged, symbol, trade_id = log_time(line.event), line.event["symbol"], str(line.event["trade_id"])
    page.wait_for_function(
        "([sel, id, before]) => !!document.querySelector(`${sel} .fills-table tr.fill[data-id=\"${id}\"]`)"
        " && +document.querySelector(`${sel} .chart-price`).getAttribute('data-fills') > before",
        arg=[panel(symbol), trade_id, markers[symbol]], timeout=10_000, polling=20,
    )
    seen = time.time()
    assert seen - logged <= SEEN_WITHIN, f"fill {trade_id} on the page {seen - logged:.2f} s after its log line"
    rows = page.eval_on_selector_all(f"{panel(symbol)} .fills-table tr.fill", "els => els.map(e => e.dataset.id)")
    assert int(rows[0]) >= int(trade_id) and int(rows[0]) >= int(rows[-1])  # newest first (the sim counts up)
    assert console.errors == []


def test_the_orders_table_shows_what_rests_at_the_venue(console: Console, venue: Venue) -> None:
    """Each symbol's open orders on the page (side, price) are the ones the venue holds (polled together: the
    bot requotes as the market moves)."""
    page = console.page
    for symbol in SYMBOLS:
        page.click(f'button.tab[data-symbol="{symbol}"]')
        deadline, shown, resting = time.monotonic() + 15, [], []
        while time.monotonic() < deadline:
            rows = page.eval_on_selector_all(f"{panel(symbol)} .orders-table tr.order",
                                             "els => els.map(e => [...e.cells].map(c => c.textContent.trim()))")
            shown = sorted((side, float(price)) for side, price, *_ in rows)
            resting = sorted((o["side"], float(o["price"])) for o in venue.open_orders(symbol))
            if shown and shown == resting:
                break
            time.sleep(0.1)
        assert shown and shown == resting, (symbol, shown, resting)


def test_the_expected_base_balance_on_the_page_is_the_venues(console: Console, venue: Venue) -> None:
    """The balances table's ``expected`` base balance (balance at start + booked q) is what the venue holds
    (polled together: fills move both)."""
    page, symbol = console.page, SYMBOLS[0]
    base = symbol.split("/")[0]
    deadline, shown, held = time.monotonic() + 15, None, None
    while time.monotonic() < deadline:
        rows = page.eval_on_selector_all(f"{panel(symbol)} .balances-table tbody tr",
                                         "els => els.map(e => [...e.cells].map(c => c.textContent.trim()))")
        shown = next((row[3] for row in rows if row and row[0] == base), None)
        held = venue.balance(base)
        if shown not in (None, "-") and float(shown) == held:
            break
        time.sleep(0.1)
    assert shown not in (None, "-") and float(shown) == held, (shown, held)


def test_screenshot_of_the_live_page_with_fills(console: Console, bot: Bot) -> None:
    page = console.page
    page.wait_for_selector(f"{panel(SYMBOLS[0])} .fills-table tr.fill", state="attached", timeout=60_000)
    time.sleep(1.0)  # a few more frames on the charts
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "console.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000


def wait_for_mid(console: Console, symbol: str = SYMBOLS[0]) -> None:
    """Until the page has frames with a mid for ``symbol`` (the explorer computes at the live mid)."""
    console.page.wait_for_function("(sel) => +document.querySelector(sel)?.getAttribute('data-points') > 1",
                                   arg=f"{panel(symbol)} .chart-price", timeout=15_000)


def set_input(console: Console, name: str, value: float) -> None:
    """Type ``value`` in the number box beside the explorer's range input ``name``."""
    box = console.page.locator(f'#explorer input[type=range][name="{name}"] + input[type=number]')
    box.fill(repr(value))
    box.dispatch_event("change")


def flags(argv: list[str]) -> dict[str, str]:
    """``--flag value`` pairs of an ``mmbot quote`` command line."""
    return {argv[i]: argv[i + 1] for i in range(2, len(argv) - 1) if argv[i].startswith("--")}


def explorer_shown(console: Console, carries: Callable[[list[str]], bool], timeout: float = 10.0) -> dict[str, Any]:
    """The explorer's outputs on the page (read at once) with the server's answer they show, once that answer's
    argv ``carries`` what the test set (the page asks again by itself at a new live mid: the answer shown is
    looked up by its command line, not assumed to be the latest)."""
    deadline = time.monotonic() + timeout
    while True:
        shown = console.page.evaluate("(ids) => Object.fromEntries(Object.entries(ids).map(([k, sel]) =>"
                                      " [k, (document.querySelector(sel)?.textContent || '').trim()]))", EXPLORE)
        answers = [r.json() for r in console.explore if r.ok]
        answer = next((a for a in reversed(answers) if a.get("command") == shown["command"]), None)
        if answer is not None and carries(answer["argv"]):
            return {"shown": shown, "answer": answer}
        assert time.monotonic() < deadline, (f"the explorer never showed an answer carrying the inputs: {shown}, "
                                             f"error {console.text('#explore-error')!r}")
        time.sleep(0.1)


def test_explorer_shows_what_mmbot_quote_prints_for_the_same_inputs(console: Console, bot: Bot) -> None:
    page = console.page
    wait_for_mid(console)
    page.select_option("#explorer select[name=model]", "linear")
    wanted = {"q": 0.012, "half_spread": 0.05, "skew": 2.5, "limit": 0.04, "horizon": 30.0}
    for name, value in wanted.items():
        set_input(console, name, value)
    expected = {f"--{name.replace('_', '-')}": value for name, value in wanted.items()}
    got = explorer_shown(console, lambda argv: all(float(flags(argv).get(f, "nan")) == v for f, v in expected.items()))
    shown, answer = got["shown"], got["answer"]
    argv = answer["argv"]
    assert argv[:2] == ["mmbot", "quote"] and flags(argv).get("--model") == "linear"
    assert shlex.split(answer["command"]) == argv
    run = subprocess.run(mmbot(*argv[1:]), capture_output=True, text=True, env=child_env(), cwd=REPO, timeout=60)
    assert run.returncode == 0, run.stderr
    printed = json.loads(run.stdout)
    tick_digits = len(flags(argv)["--tick"].partition(".")[2])  # the market's tick, e.g. 0.01: 2 digits
    for key in ("bid", "ask", "reservation", "half_spread"):
        assert printed[key] is not None and printed[key] == answer["quote"][key], key
        digits = tick_digits + (2 if key in ("reservation", "half_spread") else 0)  # as mmbot quote rounds them
        assert float(shown[key]) == printed[key], f"{EXPLORE[key]}: {shown[key]!r} != {printed[key]!r}"
        assert len(shown[key].partition(".")[2]) == digits, f"{EXPLORE[key]}: {shown[key]!r} not at the tick's digits"
    assert console.errors == []


@pytest.mark.parametrize("side", ["ask", "bid"])
def test_explorer_hard_limit_preset_puts_a_side_at_the_mid_at_the_limit(console: Console, side: str) -> None:
    """The preset "hard-limit skew": linear, skew = half_spread / limit, so at q = +limit the ask sits at the mid
    and at q = -limit the bid does (within the tick the price is rounded out to)."""
    limit, half_spread = 0.04, 0.05
    wait_for_mid(console)
    set_input(console, "half_spread", half_spread)
    set_input(console, "limit", limit)
    set_input(console, "q", limit if side == "ask" else -limit)
    console.page.click("#preset-hard-limit")
    got = explorer_shown(console, lambda argv: flags(argv).get("--model") == "linear"
                         and float(flags(argv)["--q"]) == (limit if side == "ask" else -limit)
                         and abs(float(flags(argv)["--skew"]) - half_spread / limit) < 1e-9)
    answer, tick = got["answer"], float(flags(got["answer"]["argv"])["--tick"])
    mid, price, q = answer["inputs"]["mid"], answer["quote"][side], answer["inputs"]["q"]
    assert abs(answer["quote"]["reservation"] - (mid - q * half_spread / limit)) < tick / 100  # the model, unclamped
    assert price is not None and abs(price - mid) < tick + 1e-9, (side, price, mid)
    # shown at the tick's digits (30000.20 for 30000.2: comparing the text with JavaScript's String() failed
    # whenever the price ended in a zero)
    shown = got["shown"][side]
    assert float(shown) == price and len(shown.partition(".")[2]) == len(flags(got["answer"]["argv"])["--tick"]
                                                                     .partition(".")[2]), (shown, price)


def test_pause_withdraws_the_quotes_at_the_venue_and_resume_restores_them(
    console: Console, bot: Bot, venue: Venue
) -> None:
    page = console.page
    venue.wait(all_quoting, timeout=15)
    before = console.text("#control-result")
    with page.expect_response(lambda r: r.url.endswith("/pause") and r.request.method == "POST") as answer:
        page.click("#btn-pause")
    assert answer.value.status == 200
    body = answer.value.request.post_data_json or {}
    paused = set(answer.value.json()["paused"])
    assert paused == ({body["symbol"]} if "symbol" in body else set(SYMBOLS))
    venue.wait(lambda c: all(c[s] == 0 for s in paused), timeout=5)
    console.wait_text("#state", "paused", timeout=5)
    assert console.text("#control-result") != before and "pause" in console.text("#control-result")
    for _ in range(8):  # still withdrawn a few quoting cycles later (a pause, not a one-off cancel)
        time.sleep(0.25)
        counts = venue.counts()
        assert all(counts[s] == 0 for s in paused), counts
    status = get_json(bot, "/status")
    assert {s for s, v in status["symbols"].items() if v["paused"]} == paused
    with page.expect_response(lambda r: r.url.endswith("/resume") and r.request.method == "POST") as answer:
        page.click("#btn-resume")
    assert answer.value.status == 200 and not set(answer.value.json()["paused"]) & paused
    assert "resume" in console.text("#control-result")
    venue.wait(all_quoting, timeout=15)
    console.wait_text("#state", "quoting", timeout=5)
    assert console.errors == []


def test_state_changing_posts_need_the_token_and_a_same_origin_json_request(bot: Bot, venue: Venue) -> None:
    venue.wait(all_quoting, timeout=15)
    for path in ("/pause", "/resume", "/kill"):
        assert post(bot, path, None)[0] == 401, path
        assert post(bot, path, "not-the-token")[0] == 401, path
        assert post(bot, path, bot.token, origin=FOREIGN_ORIGIN)[0] == 403, path
        assert post(bot, path, bot.token, content_type="text/plain")[0] == 403, path
    time.sleep(1.5)  # nothing changed: still quoting at the venue, alive, nothing paused or killed
    venue.wait(all_quoting, timeout=5)
    assert bot.process.popen.poll() is None
    status = get_json(bot, "/status")
    assert not any(v["paused"] for v in status["symbols"].values())
    assert bot.process.events("kill_switch") == []


def test_a_page_without_the_token_asks_for_it_and_sends_nothing(browser: Any, bot: Bot, venue: Venue) -> None:
    page = Console(browser, bot.page_url)
    try:
        page.page.click("#btn-pause")
        page.page.wait_for_selector("#token-input", state="visible", timeout=5_000)
        assert "token" in page.text("#control-result")
        time.sleep(1.0)
        assert page.posts == []
        venue.wait(all_quoting, timeout=5)
        assert not any(v["paused"] for v in get_json(bot, "/status")["symbols"].values())
    finally:
        page.close()


def test_kill_asks_first_then_latches_at_the_venue(console: Console, bot: Bot, venue: Venue) -> None:
    page = console.page
    venue.wait(all_quoting, timeout=15)
    page.click("#btn-kill")
    page.wait_for_selector("#kill-dialog", state="visible", timeout=5_000)
    page.click("#kill-cancel")
    page.wait_for_selector("#kill-dialog", state="hidden", timeout=5_000)
    time.sleep(1.5)
    assert console.posts == [] and bot.process.popen.poll() is None
    venue.wait(all_quoting, timeout=5)

    assert (bot.state_dir / "ops-token").read_text().strip() == bot.token  # the run's generated token ...
    page.click("#btn-kill")
    page.wait_for_selector("#kill-dialog", state="visible", timeout=5_000)
    with page.expect_response(lambda r: r.url.endswith("/kill") and r.request.method == "POST") as answer:
        page.click("#kill-confirm")
    assert answer.value.status == 200 and answer.value.json() == {"killed": True}
    console.wait_text("#state", "KILLED", timeout=5)
    venue.wait(lambda c: all(n == 0 for n in c.values()), timeout=10)
    assert bot.process.popen.wait(60) == 1
    assert bot.process.events("kill_switch")
    assert not (bot.state_dir / "ops-token").exists()  # ... removed when it stops, a kill included
    again = subprocess.run(mmbot("run", "--config", str(bot.config)), capture_output=True, text=True,
                           env=child_env(), cwd=REPO, timeout=60)
    assert again.returncode == 2, again.stderr
    assert "reset-kill" in again.stderr
    assert venue.counts() == dict.fromkeys(SYMBOLS, 0)
