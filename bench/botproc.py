"""Benchmark child: the live service (``bot.live.service.Service``) with timing probes on its venue object.

    python -m bench.botproc SETTINGS_JSON OUT_JSON [--no-rate-limit] [--socket-stamps] [--no-book-probe]

SETTINGS_JSON holds ``load_settings`` overrides. Lines on stdin: ``mark`` clears the samples (end of the
warm-up), ``dump PATH`` writes the samples so far to PATH, ``sizes PATH`` writes the lengths and caps of
the containers that could grow (:func:`container_sizes`) to PATH, ``stop`` writes the samples to OUT_JSON
and asks the service to stop (it cancels its orders and returns).

Probes (benchmark-only wrappers set on the ccxt exchange instance after it connects, not product code):
``watch_order_book`` stamps the moment a book is handed to the bot (``perf_counter_ns``) and its age
(``time.time()`` against the book's exchange timestamp, ms); ``create_order``/``cancel_order`` and their
``_ws`` twins (``venue.order_entry = "websocket"``) stamp the moment an order request is handed to ccxt.
Bot-internal latency = first request after a book - that book. With ``--socket-stamps`` (the reaction
benchmark) the last socket read before each such book is kept too (:class:`bench.common.SocketStamps`):
read -> book is ccxt's inbound share (aiohttp's frame parsing, ccxt's message handling and book update); so
is the first socket write after each sampled request (request -> write is ccxt's outbound share: building,
signing, the HTTP request or WebSocket frame). Without it (overhead, capacity) the transport is left alone.
With ``--no-book-probe`` (the overhead benchmark, which compares the bot's CPU with a bare loop that has no
probe) only the order requests are counted: no wrapper around ``watch_order_book`` or the quoter's cycle.
Samples go to preallocated arrays so the probes do not grow the process while it is measured.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import SocketStamps
from bot.config import load_settings
from bot.live import journal as journal_module
from bot.live.endpoint import Endpoint
from bot.live.service import Service
from bot.logs import configure_logging

CAP = 1 << 18


class Probe:
    def __init__(self) -> None:
        self.internal = np.full(CAP, np.nan)
        self.first_book_ns = np.zeros(CAP, dtype=np.int64)  # absolute perf_counter_ns of each pair
        self.first_req_ns = np.zeros(CAP, dtype=np.int64)
        self.first_read_ns = np.zeros(CAP, dtype=np.int64)  # the socket read that brought that book
        self.first_write_ns = np.zeros(CAP, dtype=np.int64)  # the first socket write after that request
        self.stamps = SocketStamps()
        self._read_ns: dict[str, int] = {}
        self.n_internal = 0
        self.lag = np.full(CAP, np.nan)
        self.lag_t = np.full(CAP, np.nan)
        self.n_lag = 0
        self.to_cycle = np.full(CAP, np.nan)
        self.n_to_cycle = 0
        self.books = 0
        self.requests = 0
        self._book_ns: dict[str, int] = {}
        self._pending: set[str] = set()
        self._cycle_pending: set[str] = set()

    def mark(self) -> None:
        self.n_internal = self.n_lag = self.n_to_cycle = self.books = self.requests = 0

    def on_book(self, symbol: str, book: Any) -> None:
        now = time.perf_counter_ns()
        self._book_ns[symbol] = now
        self._read_ns[symbol] = self.stamps.last_read
        self._pending.add(symbol)
        self._cycle_pending.add(symbol)
        self.books += 1
        ts = book.get("timestamp") if isinstance(book, dict) else None
        if ts and self.n_lag < CAP:
            self.lag[self.n_lag] = time.time() * 1000.0 - ts
            self.lag_t[self.n_lag] = time.monotonic()
            self.n_lag += 1

    def on_cycle(self, symbol: str) -> None:
        """A quoter cycle starts: the first one after a book splits the internal latency in two."""
        if symbol in self._cycle_pending:
            self._cycle_pending.discard(symbol)
            if self.n_to_cycle < CAP:
                self.to_cycle[self.n_to_cycle] = time.perf_counter_ns() - self._book_ns[symbol]
                self.n_to_cycle += 1

    def wrap_quoter(self, quoter: Any) -> None:
        cycle, symbol = quoter.cycle, quoter.symbol

        async def timed_cycle() -> None:
            self.on_cycle(symbol)
            await cycle()

        quoter.cycle = timed_cycle

    def _keep_write(self) -> None:
        """The socket write that followed the latest sampled request (taken late: it comes after the call)."""
        if self.n_internal and not self.first_write_ns[self.n_internal - 1]:
            self.first_write_ns[self.n_internal - 1] = self.stamps.first_write

    def on_request(self, symbol: str | None) -> None:
        now = time.perf_counter_ns()
        self.requests += 1
        if symbol in self._pending:
            self._pending.discard(symbol)
            self._keep_write()
            self.stamps.arm()
            if self.n_internal < CAP:
                self.internal[self.n_internal] = now - self._book_ns[symbol]
                self.first_book_ns[self.n_internal] = self._book_ns[symbol]
                self.first_req_ns[self.n_internal] = now
                self.first_read_ns[self.n_internal] = self._read_ns[symbol]
                self.n_internal += 1

    def wrap(self, ex: Any, books: bool = True) -> None:
        watch = ex.watch_order_book

        async def watch_order_book(symbol: str, *args: Any, **kw: Any) -> Any:
            book = await watch(symbol, *args, **kw)
            self.on_book(symbol, book)
            return book

        def creating(create: Any) -> Any:
            async def create_order(symbol: str, *args: Any, **kw: Any) -> Any:
                self.on_request(symbol)
                return await create(symbol, *args, **kw)
            return create_order

        def canceling(cancel: Any) -> Any:
            async def cancel_order(order_id: Any, symbol: str | None = None, *args: Any, **kw: Any) -> Any:
                self.on_request(symbol)
                return await cancel(order_id, symbol, *args, **kw)
            return cancel_order

        # REST and WebSocket API order entry alike (venue.order_entry)
        ex.create_order, ex.cancel_order = creating(ex.create_order), canceling(ex.cancel_order)
        ex.create_order_ws, ex.cancel_order_ws = creating(ex.create_order_ws), canceling(ex.cancel_order_ws)
        if books:
            ex.watch_order_book = watch_order_book

    def result(self) -> dict[str, Any]:
        self._keep_write()
        return {
            "internal_ns": self.internal[: self.n_internal].tolist(),
            "book_abs_ns": self.first_book_ns[: self.n_internal].tolist(),
            "request_abs_ns": self.first_req_ns[: self.n_internal].tolist(),
            "read_abs_ns": self.first_read_ns[: self.n_internal].tolist(),
            "write_abs_ns": self.first_write_ns[: self.n_internal].tolist(),
            "clock": time.get_clock_info("perf_counter").implementation,
            "to_cycle_ns": self.to_cycle[: self.n_to_cycle].tolist(),
            "lag_ms": self.lag[: self.n_lag].tolist(),
            "lag_t": self.lag_t[: self.n_lag].tolist(),
            "books": self.books,
            "requests": self.requests,
        }


class BenchService(Service):
    def __init__(self, *args: Any, probe: Probe, no_rate_limit: bool, book_probe: bool = True, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.probe = probe
        self.no_rate_limit = no_rate_limit
        self.book_probe = book_probe

    async def _connect(self, endpoint: Endpoint) -> None:
        await super()._connect(endpoint)
        if self.no_rate_limit:  # start-up of hundreds of symbols would otherwise pace at ccxt's 50 ms per call
            self.exchange.enableRateLimit = False
        self.probe.wrap(self.exchange, books=self.book_probe)

    def _start_symbol(self, run: Any, start_ms: int) -> None:
        super()._start_symbol(run, start_ms)
        # the quoter task looks ``cycle`` up on each turn, so the wrapper is seen
        if run.quoter is not None and self.book_probe:
            self.probe.wrap_quoter(run.quoter)


def _write(path: str, data: dict[str, Any]) -> None:
    tmp = path + ".part"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


class Profile:
    """Diagnostics from ``mark`` to ``stop`` (they slow the bot: never on for a measurement).

    ``BENCH_PROFILE=FILE``: pyinstrument (``bench`` extra) samples the bot and writes a text report to FILE
    (``BENCH_PROFILE_INTERVAL`` seconds between samples, default 0.0002). ``BENCH_TRACEMALLOC=FILE``: the
    25 allocation sites whose live memory grew most, with 8-frame tracebacks, between the baseline snapshot
    and ``stop``; tracing starts at ``mark`` and the baseline is taken ``BENCH_TRACEMALLOC_BASE_S`` seconds
    later (default 0: at ``mark``), so growth after a warm-up is not mixed with the warm-up's.
    """

    def __init__(self) -> None:
        self.path = os.environ.get("BENCH_PROFILE")
        self.profiler: Any = None
        self.trace_path = os.environ.get("BENCH_TRACEMALLOC")
        self.trace_start: Any = None
        self.trace_base_s = float(os.environ.get("BENCH_TRACEMALLOC_BASE_S") or 0.0)

    def start(self) -> None:
        if self.trace_path and self.trace_start is None:
            import tracemalloc

            tracemalloc.start(8)
            if self.trace_base_s > 0:
                asyncio.get_running_loop().call_later(self.trace_base_s, self._baseline)
            else:
                self._baseline()
        if self.path and self.profiler is None:
            from pyinstrument import Profiler

            self.profiler = Profiler(interval=float(os.environ.get("BENCH_PROFILE_INTERVAL", "0.0002")))
            self.profiler.start()

    def _baseline(self) -> None:
        import tracemalloc

        if tracemalloc.is_tracing():
            self.trace_types = _type_counts()
            self.trace_start = tracemalloc.take_snapshot()
            self.trace_start_t = time.monotonic()

    def stop(self) -> None:
        if self.trace_start is not None and self.trace_path:
            import tracemalloc

            stats = tracemalloc.take_snapshot().compare_to(self.trace_start, "traceback")
            total = sum(stat.size_diff for stat in stats)
            lines = [f"total {total / 1024:+.1f} KiB over {time.monotonic() - self.trace_start_t:.0f} s"]
            for stat in stats[:25]:
                lines.append(f"{stat.size_diff / 1024:+.1f} KiB in {stat.count_diff:+d} blocks")
                lines.extend("    " + str(frame) for frame in stat.traceback)
            types = _type_counts()
            grown = sorted(((types[k] - self.trace_types.get(k, 0), k) for k in types), reverse=True)[:25]
            lines.append("gc-tracked objects that grew most (count diff, type):")
            lines.extend(f"    {d:+d} {k}" for d, k in grown if d > 0)
            Path(self.trace_path).write_text("\n".join(lines) + "\n")
            tracemalloc.stop()
            self.trace_start = None
        if self.profiler is not None and self.path:
            self.profiler.stop()
            Path(self.path).write_text(self.profiler.output_text(unicode=False, show_all=False))
            self.profiler = None


def _type_counts() -> dict[str, int]:
    """Number of live gc-tracked objects per type name."""
    import gc
    from collections import Counter

    return dict(Counter(type(o).__name__ for o in gc.get_objects()))


def _size(obj: Any) -> int | None:
    try:
        return len(obj)
    except TypeError:
        return None


@functools.cache
def _sqlite_lib() -> Any:
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("sqlite3")
    if name is None:
        return None
    lib = ctypes.CDLL(name)
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    return lib


def _sqlite_heap() -> int | None:
    """Bytes SQLite's allocator holds in this process (``sqlite3_memory_used``), None where it cannot be read."""
    lib = _sqlite_lib()
    return None if lib is None else int(lib.sqlite3_memory_used())


def container_sizes(service: Service) -> dict[str, Any]:
    """Lengths (and caps, ``[length, cap]``) of everything that could grow over a run: ccxt's caches and
    clients, the bot's order and trade books, estimator windows, SQLite's heap, asyncio tasks."""
    ex = service.exchange
    out: dict[str, Any] = {}
    if ex is not None:
        options = getattr(ex, "options", None) or {}
        caps = {"trades": options.get("tradesLimit"), "orders": options.get("ordersLimit"),
                "myTrades": options.get("tradesLimit")}
        for name in ("trades", "orders", "myTrades", "orderbooks", "balance", "ohlcvs", "tickers"):
            value = getattr(ex, name, None)
            if isinstance(value, dict):
                out[f"ccxt.{name}"] = {k: _size(v) for k, v in value.items()}
            else:
                out[f"ccxt.{name}"] = [_size(value), caps.get(name)] if name in caps else _size(value)
        for url, client in (getattr(ex, "clients", None) or {}).items():
            out[f"ccxt.client[{url}]"] = {
                k: _size(getattr(client, k, None)) for k in ("futures", "subscriptions", "rejections")
            }
        throttle = getattr(ex, "throttler", None)
        out["ccxt.throttler.queue"] = _size(getattr(throttle, "queue", None))
    for run in service.runs:
        tracker = run.orders.tracker
        seen = run.inventory.seen
        sym: dict[str, Any] = {
            "tracker.open": len(tracker.open),
            "tracker.settling": len(tracker.settling),
            "tracker.done_kept": [len(tracker._closed), tracker.keep_closed],
            "tracker.by_client_id": len(tracker.by_client_id),
            "tracker.by_order_id": len(tracker.by_order_id),
            "inventory.seen": [len(seen), getattr(seen, "keep", None)],
        }
        fills = getattr(run, "fills", None)
        if fills is not None:
            sym["fills.held"] = len(fills.held)
            sym["fills.unresolved"] = len(fills.unresolved)
        intensity = getattr(run.state, "intensity", None)
        if intensity is not None:
            sym["intensity.trades"] = [intensity.trades, getattr(intensity, "max_trades", None)]
        out[run.symbol] = sym
    from bot.core import ticks

    for name, attr in (("ticks.on_grid", "_GRID"), ("ticks.floor_to", "_FLOORED")):
        memo = getattr(ticks, attr, None)
        if isinstance(memo, dict):
            out[name] = {str(step): [len(values), getattr(ticks, "_MEMO_MAX", None)] for step, values in memo.items()}
    if ex is not None:
        for sym, book in (getattr(ex, "orderbooks", None) or {}).items():
            out[f"ccxt.orderbook_cache[{sym}]"] = _size(getattr(book, "cache", None))
    journal = getattr(service, "journal", None)
    if journal is not None:
        pages = journal.db.execute("PRAGMA page_count").fetchone()[0]
        page_size = journal.db.execute("PRAGMA page_size").fetchone()[0]
        out["journal.file_kib"] = pages * page_size / 1024.0
    heap = _sqlite_heap()
    # [heap, page cache cap]: the rest of the heap (schema, statements) is ~150 KiB and does not grow
    cap = getattr(journal_module, "CACHE_KIB", 2000)  # SQLite's default cache is 2,000 KiB
    out["sqlite.heap_kib"] = None if heap is None else [round(heap / 1024.0), cap]
    out["asyncio.tasks"] = len(asyncio.all_tasks())
    out["python.allocated_blocks"] = sys.getallocatedblocks()  # cheap: no list of every object
    return out


def _stdin_commands(loop: asyncio.AbstractEventLoop, probe: Probe, service: Service, out_path: str) -> None:
    profile = Profile()

    def mark() -> None:
        probe.mark()
        profile.start()

    def stop() -> None:
        profile.stop()
        result = probe.result()
        try:
            result["sizes"] = container_sizes(service)
        except Exception as exc:  # diagnostics must never break a measurement
            result["sizes"] = {"error": repr(exc)}
        _write(out_path, result)  # the samples as of the stop, before the (slow) shutdown
        service.request_stop("bench")

    def dump(path: str) -> None:
        _write(path, probe.result())

    def sizes(path: str) -> None:
        try:
            data = container_sizes(service)
        except Exception as exc:  # diagnostics must never break a measurement
            data = {"error": repr(exc)}
        _write(path, data)

    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "mark":
            loop.call_soon_threadsafe(mark)
        elif cmd.startswith("sizes "):
            loop.call_soon_threadsafe(sizes, cmd[len("sizes "):])
        elif cmd.startswith("dump "):
            loop.call_soon_threadsafe(dump, cmd[len("dump "):])
        elif cmd == "stop":
            break
    loop.call_soon_threadsafe(stop)


async def main(
    settings_path: str, out_path: str, no_rate_limit: bool, socket_stamps: bool = False, book_probe: bool = True
) -> int:
    overrides = json.loads(Path(settings_path).read_text())  # noqa: ASYNC240 (start-up, nothing else runs)
    # the ops endpoint (metrics) stays on, as live, but on a free port: the machine may run other bots
    overrides.setdefault("ops", {}).setdefault("port", 0)
    settings = load_settings(None, overrides)
    configure_logging(settings.logging.level, settings.logging.format, settings.secret_values())
    probe = Probe()
    if socket_stamps:
        probe.stamps.install()  # before the service connects: a transport binds its read callback when made
    service = BenchService(settings, probe=probe, no_rate_limit=no_rate_limit, book_probe=book_probe)
    loop = asyncio.get_running_loop()
    threading.Thread(target=_stdin_commands, args=(loop, probe, service, out_path), daemon=True).start()
    summary = await service.run()
    if not Path(out_path).exists():  # noqa: ASYNC240 (exit path)
        _write(out_path, probe.result())
    return 1 if summary.kill_reason else 0


if __name__ == "__main__":
    argv = sys.argv[1:]
    sys.exit(asyncio.run(main(argv[0], argv[1], "--no-rate-limit" in argv, "--socket-stamps" in argv,
                              "--no-book-probe" not in argv)))
