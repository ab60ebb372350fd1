"""The ops HTTP server: metrics, liveness, readiness and status of a running bot.

Routes (all GET):

- ``/metrics``: the bot's :class:`~bot.ops.metrics.Metrics` registry in the Prometheus text format.
- ``/healthz``: 200 ``{"alive": true}`` while the event loop answers (liveness).
- ``/readyz``: 200 ``{"ready": true, "reason": ...}`` when ``readiness()`` returns ``(True, reason)``,
  else 503 ``{"ready": false, "reason": ...}``. A readiness callback that raises counts as not ready.
- ``/status``: ``status()`` as JSON; 500 ``{"error": ...}`` if it raises. Non-finite floats become null.

The callbacks may be plain functions or coroutine functions. The status document the ``mmbot status``
command understands (extra top-level keys are shown as they are; a symbol's keys are those of
``Inventory.snapshot(mid)`` plus the market and limit)::

    {"killed": false, "kill_reason": null, "venue": "sim", "uptime": 12.5,
     "symbols": {"BTC/USDT": {"q": 0.02, "limit": 1.0, "mid": 30000.0, "bid": 29999.5, "ask": 30000.6,
                              "realized_pnl": 1.2, "unrealized_pnl": -0.3, "fees": 0.1, "total_pnl": 0.8,
                              "fills": 14, "feed_age": 0.2}}}

Bind to loopback (the default) unless the port must be reached from elsewhere, e.g. Prometheus in
another container: then ``host="0.0.0.0"`` and keep the port off public interfaces.
"""

from __future__ import annotations

import inspect
import json
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from aiohttp import web

from bot.ops.metrics import CONTENT_TYPE, Metrics

T = TypeVar("T")
Readiness = Callable[[], tuple[bool, str] | Awaitable[tuple[bool, str]]]
Status = Callable[[], dict[str, Any] | Awaitable[dict[str, Any]]]


async def _call(fn: Callable[[], T | Awaitable[T]]) -> T:
    result = fn()
    if inspect.isawaitable(result):
        return await result
    return result


def _jsonable(value: Any) -> Any:
    """``value`` with non-finite floats replaced by None (JSON has no NaN) and tuples as lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _json(body: Any, status: int = 200) -> web.Response:
    text = json.dumps(_jsonable(body), default=str, allow_nan=False)
    return web.Response(text=text, status=status, content_type="application/json")


class OpsServer:
    """A running ops server. ``url`` is ``http://host:port`` with the port actually bound."""

    def __init__(self, runner: web.AppRunner, host: str, port: int) -> None:
        self._runner = runner
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        await self._runner.cleanup()


def build_app(
    metrics: Metrics, readiness: Readiness, status: Status, routes: Sequence[web.RouteDef] = ()
) -> web.Application:
    """The aiohttp application serving the four routes, plus ``routes`` (e.g. ``POST /kill``)."""
    started = time.monotonic()

    async def get_metrics(_: web.Request) -> web.Response:
        return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})

    async def get_healthz(_: web.Request) -> web.Response:
        return _json({"alive": True, "uptime": round(time.monotonic() - started, 3)})

    async def get_readyz(_: web.Request) -> web.Response:
        try:
            ready, reason = await _call(readiness)
        except Exception as exc:  # a broken check must read as "not ready", not as a crash
            ready, reason = False, f"readiness check failed: {type(exc).__name__}: {exc}"
        return _json({"ready": bool(ready), "reason": str(reason)}, status=200 if ready else 503)

    async def get_status(_: web.Request) -> web.Response:
        try:
            body = await _call(status)
        except Exception as exc:
            return _json({"error": f"status failed: {type(exc).__name__}: {exc}"}, status=500)
        return _json(body)

    app = web.Application()
    app.router.add_get("/metrics", get_metrics)
    app.router.add_get("/healthz", get_healthz)
    app.router.add_get("/readyz", get_readyz)
    app.router.add_get("/status", get_status)
    app.router.add_routes(routes)
    return app


async def start_ops_server(
    metrics: Metrics,
    readiness: Readiness,
    status: Status,
    host: str = "127.0.0.1",
    port: int = 0,
    routes: Sequence[web.RouteDef] = (),
) -> OpsServer:
    """Serve the ops routes (and the extra ``routes``) on ``host:port`` (port 0: any free port; see
    ``OpsServer.port``).

    Raises ``OSError`` when the address cannot be bound (e.g. the port is taken).
    """
    runner = web.AppRunner(build_app(metrics, readiness, status, routes), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1] if runner.addresses else port
    return OpsServer(runner, host, int(bound))
