"""Benchmark child: the live service (``bot.live.service.Service``) with timing probes on its venue object.

    python -m bench.botproc SETTINGS_JSON OUT_JSON [--no-rate-limit]

SETTINGS_JSON holds ``load_settings`` overrides. Lines on stdin: ``mark`` clears the samples (end of the
warm-up), ``stop`` writes the samples to OUT_JSON and asks the service to stop (it cancels its orders and returns).

Probes (benchmark-only wrappers set on the ccxt exchange instance after it connects, not product code):
``watch_order_book`` stamps the moment a book is handed to the bot (``perf_counter_ns``) and its age
(``time.time()`` against the book's exchange timestamp, ms); ``create_order``/``cancel_order`` stamp the
moment an order request is handed to ccxt. Bot-internal latency = first request after a book - that book.
Samples go to preallocated arrays so the probes do not grow the process while it is measured.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from bot.config import load_settings
from bot.live.service import Endpoint, Service
from bot.logs import configure_logging

CAP = 1 << 18


class Probe:
    def __init__(self) -> None:
        self.internal = np.full(CAP, np.nan)
        self.n_internal = 0
        self.lag = np.full(CAP, np.nan)
        self.lag_t = np.full(CAP, np.nan)
        self.n_lag = 0
        self.books = 0
        self.requests = 0
        self._book_ns: dict[str, int] = {}
        self._pending: set[str] = set()

    def mark(self) -> None:
        self.n_internal = self.n_lag = self.books = self.requests = 0

    def on_book(self, symbol: str, book: Any) -> None:
        now = time.perf_counter_ns()
        self._book_ns[symbol] = now
        self._pending.add(symbol)
        self.books += 1
        ts = book.get("timestamp") if isinstance(book, dict) else None
        if ts and self.n_lag < CAP:
            self.lag[self.n_lag] = time.time() * 1000.0 - ts
            self.lag_t[self.n_lag] = time.monotonic()
            self.n_lag += 1

    def on_request(self, symbol: str | None) -> None:
        now = time.perf_counter_ns()
        self.requests += 1
        if symbol in self._pending:
            self._pending.discard(symbol)
            if self.n_internal < CAP:
                self.internal[self.n_internal] = now - self._book_ns[symbol]
                self.n_internal += 1

    def wrap(self, ex: Any) -> None:
        watch, create, cancel = ex.watch_order_book, ex.create_order, ex.cancel_order

        async def watch_order_book(symbol: str, *args: Any, **kw: Any) -> Any:
            book = await watch(symbol, *args, **kw)
            self.on_book(symbol, book)
            return book

        async def create_order(symbol: str, *args: Any, **kw: Any) -> Any:
            self.on_request(symbol)
            return await create(symbol, *args, **kw)

        async def cancel_order(order_id: Any, symbol: str | None = None, *args: Any, **kw: Any) -> Any:
            self.on_request(symbol)
            return await cancel(order_id, symbol, *args, **kw)

        ex.watch_order_book, ex.create_order, ex.cancel_order = watch_order_book, create_order, cancel_order

    def result(self) -> dict[str, Any]:
        return {
            "internal_ns": self.internal[: self.n_internal].tolist(),
            "lag_ms": self.lag[: self.n_lag].tolist(),
            "lag_t": self.lag_t[: self.n_lag].tolist(),
            "books": self.books,
            "requests": self.requests,
        }


class BenchService(Service):
    def __init__(self, *args: Any, probe: Probe, no_rate_limit: bool, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.probe = probe
        self.no_rate_limit = no_rate_limit

    async def _connect(self, endpoint: Endpoint) -> None:
        await super()._connect(endpoint)
        if self.no_rate_limit:  # start-up of hundreds of symbols would otherwise pace at ccxt's 50 ms per call
            self.exchange.enableRateLimit = False
        self.probe.wrap(self.exchange)


def _write(path: str, data: dict[str, Any]) -> None:
    tmp = path + ".part"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def _stdin_commands(loop: asyncio.AbstractEventLoop, probe: Probe, service: Service, out_path: str) -> None:
    def stop() -> None:
        _write(out_path, probe.result())  # the samples as of the stop, before the (slow) shutdown
        service.request_stop("bench")

    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "mark":
            loop.call_soon_threadsafe(probe.mark)
        elif cmd == "stop":
            break
    loop.call_soon_threadsafe(stop)


async def main(settings_path: str, out_path: str, no_rate_limit: bool) -> int:
    overrides = json.loads(Path(settings_path).read_text())  # noqa: ASYNC240 (start-up, nothing else runs)
    settings = load_settings(None, overrides)
    configure_logging(settings.logging.level, settings.logging.format, settings.secret_values())
    probe = Probe()
    service = BenchService(settings, probe=probe, no_rate_limit=no_rate_limit)
    loop = asyncio.get_running_loop()
    threading.Thread(target=_stdin_commands, args=(loop, probe, service, out_path), daemon=True).start()
    summary = await service.run()
    if not Path(out_path).exists():  # noqa: ASYNC240 (exit path)
        _write(out_path, probe.result())
    return 1 if summary.kill_reason else 0


if __name__ == "__main__":
    argv = sys.argv[1:]
    sys.exit(asyncio.run(main(argv[0], argv[1], "--no-rate-limit" in argv)))
