"""The harness of the console's browser tests: the simulated exchange and the bot as their own processes, the
system's Chromium, and a ccxt client that reads the bot's orders at the venue (fixtures in conftest.py).

- the sim: ``mmbot sim --port 0`` (its URL read from the ``sim_listening`` log line);
- the bot: ``mmbot run`` on that sim (:data:`BOT_CONFIG`: both default markets quoted at the touch, so fills come
  every second or so) with ``risk.state_dir`` in a temporary folder and the ops server on any free port
  (``ops.port = 0``); the console URL and its token come from its stderr line
  (``mmbot: console at http://127.0.0.1:PORT/console#token=...``), its stdout JSON log lines are kept with the
  time each was read (:class:`Process`);
- :class:`Venue`: what an independent client with the bot's keys sees at the sim;
- Chromium: ``chromium`` on PATH, else /usr/bin/chromium (Debian's package), launched with
  :data:`CHROMIUM_FLAGS`; never a browser build downloaded by Playwright. Without it (or without the
  ``playwright`` package: the ``browser`` extra) the tests skip with the reason, except where ``CI`` is set:
  there they fail (:func:`unavailable`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ccxt
import pytest

from bot.sim.settings import DEFAULT_API_KEY, DEFAULT_API_SECRET

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
SYMBOLS = ("BTC/USDT", "SOL/USDT")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip

# the bot: both default sim markets, quoted at the touch (fills every second or so), small limits
BOT_CONFIG = """\
[venue]
kind = "sim"
url = "{url}"
symbols = ["BTC/USDT", "SOL/USDT"]

[strategy]
model = "linear"

[risk]
state_dir = "{state_dir}"
stale_after = 5.0

[execution]
post_only = true
requote_ticks = 1
orders_per_second = 20.0
reconcile_interval = 2.0

[ops]
port = 0                           # any free port: the console line names it

[logging]
level = "info"
format = "json"
inventory_interval = 5.0

[symbols."BTC/USDT".strategy]
half_spread = 0.02
skew = 5.0
[symbols."BTC/USDT".risk]
max_position = 0.05
[symbols."BTC/USDT".execution]
order_size = 0.002

[symbols."SOL/USDT".strategy]
half_spread = 0.03
skew = 0.01
[symbols."SOL/USDT".risk]
max_position = 30.0
[symbols."SOL/USDT".execution]
order_size = 1.0
"""

SIM_CONFIG = """\
[logging]
level = "info"
format = "json"

[sim]
seed = 11
step_interval = 0.05
"""


def in_ci() -> bool:
    """Whether ``CI`` is set (CI must never skip the browser tests silently)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str) -> None:
    """Skip with ``reason`` locally; fail under CI."""
    if in_ci():
        pytest.fail(f"browser tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def launched(chromium: str) -> Iterator[Any]:
    """Headless ``chromium`` driven by Playwright (no browser download); skipped (failed under CI) without the
    ``playwright`` package."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the `playwright` package is missing: pip install -e '.[browser]'")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=list(CHROMIUM_FLAGS))
        try:
            yield browser
        finally:
            browser.close()


def chromium_path() -> str | None:
    """The system's Chromium: ``chromium`` on PATH, else /usr/bin/chromium; None when neither exists."""
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def child_env(**extra: str) -> dict[str, str]:
    """This environment without ``MMBOT_*`` settings (``MMBOT_PURE`` kept), unbuffered output, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMBOT_") or k == "MMBOT_PURE"}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def mmbot(*args: str) -> list[str]:
    """The command line of ``mmbot ARGS`` in this interpreter."""
    return [sys.executable, "-m", "bot", *args]


def log_time(event: dict[str, Any]) -> float:
    """A JSON log line's ``timestamp`` (``2026-11-25T01:02:03.000456Z``) as Unix seconds."""
    return datetime.strptime(event["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


@dataclass
class Line:
    """One output line of a child, with the time it was read (``time.time()``) and its JSON when it is one."""

    text: str
    at: float
    event: dict[str, Any] | None


@dataclass
class Process:
    """A child process whose stdout and stderr lines are collected by two reader threads."""

    popen: subprocess.Popen[str]
    stdout: list[Line] = field(default_factory=list)
    stderr: list[Line] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    @classmethod
    def start(cls, argv: list[str], env: dict[str, str], cwd: Path) -> Process:
        popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env=env, cwd=cwd, start_new_session=True)
        proc = cls(popen)
        for stream, lines in ((popen.stdout, proc.stdout), (popen.stderr, proc.stderr)):
            threading.Thread(target=proc._read, args=(stream, lines), daemon=True).start()
        return proc

    def _read(self, stream: Any, lines: list[Line]) -> None:
        for text in stream:
            event = None
            if text.startswith("{"):
                try:
                    event = json.loads(text)
                except ValueError:
                    event = None
            with self.changed:
                lines.append(Line(text.rstrip("\n"), time.time(), event))
                self.changed.notify_all()

    def wait_for(self, lines: list[Line], match: Callable[[Line], bool], timeout: float, start: int = 0) -> Line:
        """The first line of ``lines`` from index ``start`` that ``match``es, waiting at most ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for line in lines[start:]:
                    if match(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or (self.popen.poll() is not None and not self._more(left)):
                    raise AssertionError(f"no matching line within {timeout} s or before the exit (exit code "
                                         f"{self.popen.poll()}); "
                                         f"last lines: {[x.text for x in (self.stdout + self.stderr)[-8:]]}")
                self.changed.wait(min(left, 0.2))

    def _more(self, left: float) -> bool:
        """After the child exited, give the readers a moment to deliver its last lines."""
        return self.changed.wait(min(left, 0.5))

    def events(self, name: str, start: int = 0) -> list[Line]:
        """The stdout JSON log lines of event ``name`` from index ``start``."""
        with self.changed:
            return [x for x in self.stdout[start:] if x.event is not None and x.event.get("event") == name]

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (the clean stop), then SIGKILL after ``timeout`` s; the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                return self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
        return self.popen.wait(10)


@dataclass
class Sim:
    process: Process
    url: str


@dataclass
class Bot:
    """A running ``mmbot run``: its process, config, state folder and console."""

    process: Process
    config: Path
    state_dir: Path
    console_url: str  # with ``#token=...``
    base: str  # http://127.0.0.1:PORT
    token: str

    @property
    def page_url(self) -> str:
        """The console's URL without the token."""
        return self.console_url.split("#", 1)[0]


class Venue:
    """The sim as an independent client with the bot's (default) keys sees it: open orders per symbol."""

    def __init__(self, url: str) -> None:
        ex = ccxt.binance({"enableRateLimit": False, "options": {"defaultType": "spot",
                                                                 "fetchMarkets": {"types": ["spot"]}}})
        ex.set_sandbox_mode(True)
        ex.apiKey, ex.secret = DEFAULT_API_KEY, DEFAULT_API_SECRET  # the sim's documented local pair: the bot's
        ex.urls["api"]["public"] = ex.urls["api"]["private"] = f"{url}/api/v3"
        self.exchange = ex

    def open_orders(self, symbol: str) -> list[dict[str, Any]]:
        """The bot's open orders on ``symbol`` (client ids with the default ``mmbot`` prefix)."""
        orders = self.exchange.fetch_open_orders(symbol)
        return [o for o in orders if str(o.get("clientOrderId") or "").startswith("mmbot")]

    def balance(self, asset: str) -> float:
        """The account's total ``asset`` (free + in orders)."""
        return float(self.exchange.fetch_balance()["total"][asset])

    def counts(self) -> dict[str, int]:
        """Open orders of the bot per traded symbol."""
        return {symbol: len(self.open_orders(symbol)) for symbol in SYMBOLS}

    def wait(self, predicate: Callable[[dict[str, int]], bool], timeout: float) -> dict[str, int]:
        """Poll :meth:`counts` until ``predicate`` holds (the counts then), at most ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            counts = self.counts()
            if predicate(counts):
                return counts
            if time.monotonic() > deadline:
                raise AssertionError(f"venue never reached the expected state in {timeout} s: {counts}")
            time.sleep(0.2)


def write_bot_config(folder: Path, sim_url: str) -> Path:
    """The bot's TOML config in ``folder`` (its state in ``folder/state``)."""
    config = folder / "bot.toml"
    config.write_text(BOT_CONFIG.format(url=sim_url, state_dir=folder / "state"))
    return config
