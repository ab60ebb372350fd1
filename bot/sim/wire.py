"""JSON encoding for the wire (orjson when present, else compact json) and a buffered WebSocket
writer so a slow client never blocks the simulation clock."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import web

try:  # orjson ships with ccxt; fall back to the standard library
    import orjson

    def dumps(obj: Any) -> str:
        try:
            return orjson.dumps(obj).decode()
        except TypeError:  # e.g. integers beyond 64 bits, which orjson refuses
            return json.dumps(obj, separators=(",", ":"))

except ImportError:  # pragma: no cover

    def dumps(obj: Any) -> str:
        return json.dumps(obj, separators=(",", ":"))


SIM: web.AppKey[Any] = web.AppKey("sim")  # the SimServer, for handlers


def request_id(value: Any) -> Any:
    """A client's request id if Binance would accept it (int64, or a short string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and -(2**63) <= value < 2**63:
        return value
    if isinstance(value, str) and len(value) <= 36:
        return value
    return None


class Connection:
    """One WebSocket client with an outgoing queue; dropped if it falls ``max_backlog`` behind."""

    def __init__(self, ws: web.WebSocketResponse, max_backlog: int = 50000) -> None:
        self.ws = ws
        self.streams: set[str] = set()
        self.subscriptions: dict[int, str] = {}  # WS-API: subscription id -> account name
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._max = max_backlog
        self._closing = False
        self._farewell = (1008, b"too slow")  # the close frame sent after what is queued
        self._task = asyncio.get_running_loop().create_task(self._writer())

    @property
    def closed(self) -> bool:
        return self.ws.closed or self._task.done()

    def send(self, text: str) -> None:
        if self._closing or self.closed:
            return
        if self._queue.qsize() >= self._max:
            self._closing = True
            self._queue.put_nowait(None)  # too slow: close after what is queued
            return
        self._queue.put_nowait(text)

    def end(self, code: int = 1000, message: bytes = b"") -> None:
        """Close after what is queued (sends after this are dropped)."""
        if self._closing or self.closed:
            return
        self._closing = True
        self._farewell = (code, message)
        self._queue.put_nowait(None)

    async def _writer(self) -> None:
        try:
            while True:
                text = await self._queue.get()
                if text is None:
                    await self.ws.close(code=self._farewell[0], message=self._farewell[1])
                    return
                await self.ws.send_str(text)
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            return

    async def close(self, code: int = 1000, message: bytes = b"") -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if not self.ws.closed:
            with contextlib.suppress(Exception):
                await self.ws.close(code=code, message=message)
