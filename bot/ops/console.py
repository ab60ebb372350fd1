"""The operator console's server side: a feed sampled at a bounded rate, fanned out without waiting.

:class:`Console` calls ``frame()`` every ``interval`` seconds (one dict: the state now, see the shape in
docs/ARCHITECTURE.md "Operator console"), keeps the last ``window`` seconds of it as column series
(:class:`History`, one point per ``max(interval, window / MAX_POINTS)`` seconds) with the fills, and, while pages
are open, serializes the frame once and offers it to each page (:class:`Broadcast`).

Monitoring never blocks trading: nothing the quoter runs waits for a page. :meth:`Broadcast.publish` never
awaits; a page whose queue is full is marked lagging, its queue emptied, and it gets a fresh ``hello`` (the
history) when it reads again; a page that does not take a write for ``write_timeout`` seconds is closed. At most
``max_clients`` pages stream at once (503 beyond).

Routes (:meth:`Console.routes`; the ops server's guard applies to them): ``GET /`` (302 to ``/console``),
``GET /console`` (the page, under a strict Content-Security-Policy), ``GET /console/assets/{name}`` (the files of
``bot/ops/console/``), ``GET /console/stream`` (server-sent events: ``hello`` then ``frame``),
``GET /console/explore`` (``explore(symbol, query)``: 400 on a bad value, 404 on an unknown symbol).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.errors import UserError
from bot.ops.http import jsonable

ASSETS = Path(__file__).with_name("console")
#: the series a page draws (per symbol, one value per point; the frame's keys, ``pnl`` keys flattened)
SERIES = ("mid", "reservation", "bid", "ask", "best_bid", "best_ask", "q")
PNL_SERIES = ("total_pnl", "spread_captured", "skew_cost", "inventory_pnl", "fees")
MAX_POINTS = 1200  # per symbol in the history: bounds the hello a page receives
MAX_FILLS = 500  # per symbol in the history
QUEUE_DEPTH = 8  # frames waiting for one page before it is marked lagging
WRITE_TIMEOUT = 30.0  # s a page may take to accept one write before it is closed
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml",
                 ".png": "image/png", ".txt": "text/plain", ".md": "text/plain"}


def to_json(body: Any) -> str:
    """One line of compact JSON with non-finite floats as null (:func:`bot.ops.http.jsonable`)."""
    return json.dumps(jsonable(body), separators=(",", ":"), default=str, allow_nan=False)


def sse(event: str, data: str) -> bytes:
    """One server-sent event (``data`` is one line of JSON)."""
    return f"event: {event}\ndata: {data}\n\n".encode()


class History:
    """The last ``window`` seconds of frames as column series per symbol, one point per ``step`` seconds at
    most, and the fills inside the window (at most :data:`MAX_FILLS` per symbol)."""

    def __init__(self, window: float, step: float) -> None:
        self.window, self.step = window, step
        self.columns: dict[str, dict[str, deque[Any]]] = {}
        self.fills: dict[str, deque[dict[str, Any]]] = {}
        self._last: dict[str, float] = {}

    def add(self, frame: Mapping[str, Any]) -> None:
        t = float(frame["t"])
        for symbol, s in (frame.get("symbols") or {}).items():
            fills = self.fills.setdefault(symbol, deque(maxlen=MAX_FILLS))
            fills.extend(s.get("fills") or ())
            cols = self.columns.get(symbol)
            if cols is None:
                cols = self.columns[symbol] = {k: deque() for k in ("t", *SERIES, *PNL_SERIES)}
            elif t - self._last.get(symbol, -math.inf) < self.step:
                continue
            self._last[symbol] = t
            cols["t"].append(t)
            for key in SERIES:
                cols[key].append(s.get(key))
            pnl = s.get("pnl") or {}
            for key in PNL_SERIES:
                cols[key].append(pnl.get(key))
        self.trim(t)

    def trim(self, now: float) -> None:
        """Forget points and fills older than the window."""
        oldest = now - self.window
        for cols in self.columns.values():
            times = cols["t"]
            while times and times[0] < oldest:
                for series in cols.values():
                    series.popleft()
        for fills in self.fills.values():
            while fills and float(fills[0].get("t") or 0.0) < oldest:
                fills.popleft()

    def document(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(history, fills)`` as the ``hello`` event carries them."""
        history = {sym: {k: list(v) for k, v in cols.items()} for sym, cols in self.columns.items()}
        return history, {sym: list(f) for sym, f in self.fills.items()}


class Client:
    """One open page: a bounded queue of serialized events, and whether it fell behind."""

    def __init__(self, depth: int = QUEUE_DEPTH) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(depth)
        self.lagged = False
        self.dropped = 0

    def offer(self, message: bytes | None) -> None:
        """Queue ``message`` without waiting; when the queue is full, empty it and mark the page lagging (it
        gets the history again instead). ``None`` closes the page's stream."""
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            while not self.queue.empty():
                self.queue.get_nowait()
                self.dropped += 1
            self.lagged = True
            self.queue.put_nowait(message)


class Broadcast:
    """The open pages; :meth:`publish` hands one message to each without ever waiting."""

    def __init__(self, max_clients: int, depth: int = QUEUE_DEPTH) -> None:
        self.max_clients, self.depth = max_clients, depth
        self.clients: set[Client] = set()

    def join(self) -> Client | None:
        """A new page's client, or None when ``max_clients`` are open."""
        if len(self.clients) >= self.max_clients:
            return None
        client = Client(self.depth)
        self.clients.add(client)
        return client

    def leave(self, client: Client) -> None:
        self.clients.discard(client)

    def publish(self, message: bytes | None) -> None:
        for client in self.clients:
            client.offer(message)


class Console:
    """The console feed and routes over a running bot: ``frame()`` (the state now), ``describe()`` (the
    ``hello``'s fixed part: venue, symbols, their settings) and ``explore(symbol, query)`` (the explorer's
    answer; KeyError for an unknown symbol, UserError for a bad value)."""

    def __init__(
        self,
        frame: Callable[[], dict[str, Any]],
        describe: Callable[[], dict[str, Any]],
        explore: Callable[[str, Mapping[str, str]], dict[str, Any]],
        *,
        interval: float = 0.5,
        window: float = 600.0,
        max_clients: int = 8,
        log: Any = None,
        assets: Path = ASSETS,
        write_timeout: float = WRITE_TIMEOUT,
    ) -> None:
        self.frame, self.describe, self.explore = frame, describe, explore
        self.interval, self.window, self.log, self.assets = interval, window, log, assets
        self.write_timeout = write_timeout
        self.history = History(window, max(interval, window / MAX_POINTS))
        self.broadcast = Broadcast(max_clients)
        self.latest: dict[str, Any] | None = None
        self.frames = 0
        self.closed = False

    # -- the feed ---------------------------------------------------------------------------------
    def tick(self) -> None:
        """One sample: the frame into the history and, while pages are open, to each of them (serialized once)."""
        frame = self.frame()
        self.latest = frame
        self.frames += 1
        self.history.add(frame)
        if self.broadcast.clients and not self.closed:
            self.broadcast.publish(sse("frame", to_json(frame)))

    async def run(self) -> None:
        """Sample every ``interval`` seconds until cancelled; a frame that fails is logged and skipped."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                self.tick()
            except Exception as exc:  # the console must never take the bot down
                if self.log is not None:
                    self.log.warning("console_frame_failed", error=type(exc).__name__, detail=str(exc)[:200])

    def close(self) -> None:
        """End every page's stream (before the server stops) after one last frame, so a page shows the state the
        bot stopped in (killed, stopping) even when the stop was quicker than a frame."""
        if not self.closed and self.broadcast.clients:
            with contextlib.suppress(Exception):
                self.tick()
        self.closed = True
        self.broadcast.publish(None)

    def hello(self) -> bytes:
        history, fills = self.history.document()  # frame: the latest sampled (None before the first)
        body = {**self.describe(), "interval": self.interval, "window": self.window, "history": history,
                "fills": fills, "frame": self.latest}
        return sse("hello", to_json(body))

    # -- routes -----------------------------------------------------------------------------------
    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/", self._root),
            web.get("/console", self._page),
            web.get("/console/assets/{name:.+}", self._asset),
            web.get("/console/stream", self._stream),
            web.get("/console/explore", self._explore),
        ]

    async def _root(self, _: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/console")

    async def _page(self, _: web.Request) -> web.StreamResponse:
        return self._file(self.assets / "index.html")

    async def _asset(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        parts = name.split("/")
        if any(p in ("", ".", "..") or p.startswith(".") for p in parts) or len(parts) > 2:
            raise web.HTTPNotFound()
        return self._file(self.assets.joinpath(*parts))

    def _file(self, path: Path) -> web.StreamResponse:
        if path.suffix not in CONTENT_TYPES or not path.is_file():
            raise web.HTTPNotFound()
        return web.Response(body=path.read_bytes(), content_type=CONTENT_TYPES[path.suffix],
                            charset="utf-8" if path.suffix != ".png" else None, headers=PAGE_HEADERS)

    async def _explore(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        symbol = query.get("symbol", "")
        try:
            body = self.explore(symbol, query)
        except KeyError:
            return web.json_response({"error": f"unknown symbol {symbol[:40]!r}"}, status=404)
        except UserError as exc:
            return web.json_response({"error": "; ".join(exc.lines)}, status=400)
        return web.Response(text=to_json(body), content_type="application/json", headers={"Cache-Control": "no-store"})

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        client = None if self.closed else self.broadcast.join()
        if client is None:
            return web.json_response({"error": "too many console pages open (ops.console_clients)"}, status=503)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                               "X-Accel-Buffering": "no"})
        try:
            await response.prepare(request)
            await self._write(response, self.hello())
            while True:
                message = await client.queue.get()
                if message is None:
                    break
                if client.lagged:  # frames were dropped: the page starts over from the history
                    client.lagged = False
                    message = self.hello()
                await self._write(response, message)
        except (ConnectionError, TimeoutError):
            pass
        finally:
            self.broadcast.leave(client)
        return response

    async def _write(self, response: web.StreamResponse, message: bytes) -> None:
        async with asyncio.timeout(self.write_timeout):
            await response.write(message)


class FillTape:
    """The latest fills of one symbol for the console (each a dict: ``t``, ``side``, ``price``, ``amount``,
    ``id``), numbered so a reader takes each once (:meth:`since`)."""

    def __init__(self, keep: int = MAX_FILLS) -> None:
        self.items: deque[tuple[int, dict[str, Any]]] = deque(maxlen=keep)
        self.seq = 0

    def add(self, entry: dict[str, Any]) -> None:
        self.seq += 1
        self.items.append((self.seq, entry))

    def since(self, seq: int) -> list[dict[str, Any]]:
        """The fills numbered after ``seq`` (oldest first; those pushed out of the tape are gone)."""
        return [entry for n, entry in self.items if n > seq]


def percentiles(samples: Iterable[float], ranks: tuple[float, ...] = (0.5, 0.99)) -> list[float | None]:
    """The nearest-rank percentiles of ``samples`` (None each when there are none)."""
    ordered = sorted(samples)
    if not ordered:
        return [None for _ in ranks]
    n = len(ordered)
    return [ordered[min(n - 1, max(0, math.ceil(r * n) - 1))] for r in ranks]


async def cancel_quietly(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` and wait for it to end."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def wall_time() -> float:
    """Unix seconds at millisecond resolution (the page's time axis)."""
    return round(time.time(), 3)
