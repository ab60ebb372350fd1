"""The ops HTTP server: metrics, liveness, readiness and status of a running bot.

Routes (GET, but the service's ``POST /kill``):

- ``/metrics``: the bot's :class:`~bot.ops.metrics.Metrics` registry in the Prometheus text format.
- ``/healthz``: 200 ``{"alive": true}`` while the event loop answers (liveness).
- ``/readyz``: 200 ``{"ready": true, "reason": ...}`` when ``readiness()`` returns ``(True, reason)``,
  else 503 ``{"ready": false, "reason": ...}``. A readiness callback that raises counts as not ready.
- ``/status``: ``status()`` as JSON; 500 ``{"error": ...}`` if it raises. Non-finite floats become null.
- ``POST /kill`` (the live service adds it: :func:`kill_routes`): trips the kill switch.

The callbacks may be plain functions or coroutine functions. The status document the ``mmbot status``
command understands (extra top-level keys are shown as they are; a symbol's keys are those of
``Inventory.snapshot(mid)`` plus the market and limit)::

    {"killed": false, "kill_reason": null, "venue": "sim", "uptime": 12.5,
     "symbols": {"BTC/USDT": {"q": 0.02, "limit": 1.0, "mid": 30000.0, "bid": 29999.5, "ask": 30000.6,
                              "realized_pnl": 1.2, "unrealized_pnl": -0.3, "fees": 0.1, "total_pnl": 0.8,
                              "fills": 14, "feed_age": 0.2}}}

Bind to loopback (the default) unless the port must be reached from elsewhere, e.g. Prometheus in
another container: then ``host="0.0.0.0"``, a ``token`` (required: :func:`start_ops_server` refuses to
serve beyond loopback without one) and keep the port off public interfaces.

Every request passes one guard (:func:`refusal`, applied as an aiohttp middleware, so a route added
later gets it without asking):

- its ``Host`` header must name the bound address, ``localhost``, ``127.0.0.1``, ``[::1]`` or one of
  ``allowed_hosts`` (any port): else 421. This defeats DNS rebinding, where a web page reaches the
  server under the page's own host name.
- a state-changing request (any method but GET, HEAD and OPTIONS: ``POST /kill`` and any route added
  later) must carry no ``Origin`` or a loopback one (``http://127.0.0.1:*``, ``http://localhost:*``,
  ``http://[::1]:*``), ``Content-Type: application/json``, and ``Authorization: Bearer <token>`` when a
  token is configured (compared in constant time); without a token only loopback clients may send one.
  Else 401 or 403.
  A browser can send neither a JSON body nor an ``Authorization`` header to another origin without a
  CORS preflight, and no CORS header is ever sent: an ``OPTIONS`` preflight is answered 403.

A refusal is a short JSON ``{"error": ...}`` and one ``ops_refused`` warning (the same reason at most
once a minute, then with the count of those left unlogged); the token is never echoed or logged.
"""

from __future__ import annotations

import hmac
import inspect
import ipaddress
import json
import math
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from pydantic import SecretStr

from bot.errors import UserError
from bot.logs import get_logger
from bot.ops.metrics import CONTENT_TYPE, Metrics

T = TypeVar("T")
Readiness = Callable[[], tuple[bool, str] | Awaitable[tuple[bool, str]]]
Status = Callable[[], dict[str, Any] | Awaitable[dict[str, Any]]]


async def _call(fn: Callable[[], T | Awaitable[T]]) -> T:
    result = fn()
    if inspect.isawaitable(result):
        return await result
    return result


def jsonable(value: Any) -> Any:
    """``value`` with non-finite floats replaced by None (JSON has no NaN) and tuples as lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _json(body: Any, status: int = 200) -> web.Response:
    text = json.dumps(jsonable(body), default=str, allow_nan=False)
    return web.Response(text=text, status=status, content_type="application/json")


# -- the request guard ---------------------------------------------------------------------------

#: in ``risk.state_dir``: the token a run generates when ``ops.token`` is not set (for ``mmbot pause``/``resume``)
TOKEN_FILE = "ops-token"
SAFE_METHODS = frozenset({"GET", "HEAD"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
REFUSAL_LOG_EVERY = 60.0


@dataclass(frozen=True)
class Facts:
    """What the guard looks at in a request (header values as sent, None when absent)."""

    method: str
    host: str | None
    origin: str | None
    content_type: str | None
    authorization: str | None
    remote: str | None


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: HTTP ``status``, a short ``reason`` for the log, the client's ``error``."""

    status: int
    reason: str
    error: str


def address(value: str) -> str:
    """A configured host name or address in the form :func:`host_name` returns: lower case, no brackets."""
    value = value.strip().lower()
    return value[1:-1] if value.startswith("[") and value.endswith("]") else value


def host_name(header: str) -> str | None:
    """The host of a ``Host`` header (``name``, ``name:port``, ``[v6]``, ``[v6]:port``), lower case and
    without brackets or port; None when malformed (empty, a bad port, an unbracketed IPv6 address)."""
    value = header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        name, rest = (value[1:end], value[end + 1 :]) if end > 0 else ("", "")
    else:
        name, sep, port = value.partition(":")
        rest = sep + port
    if rest and not (rest.startswith(":") and rest[1:].isdigit()):
        return None
    return name or None


def allowed_host_names(bind_host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The host names a request may address: the bound address, the loopback names and ``extra``."""
    return frozenset({address(bind_host), *LOOPBACK_NAMES, *(address(h) for h in extra)}) - {""}


def is_loopback(host: str | None) -> bool:
    """True for ``localhost`` and loopback IP addresses (IPv4-mapped too); False for anything else."""
    if host is None:
        return False
    name = address(host)
    if name == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return (mapped or ip).is_loopback


def origin_is_loopback(origin: str) -> bool:
    """True for an ``Origin`` of a page served from this host's loopback (``http://127.0.0.1:8080``,
    ``http://localhost``, ``https://[::1]:3000``); False for any other, ``null`` or malformed."""
    try:
        parts = urllib.parse.urlsplit(origin.strip())
        _ = parts.port  # a bad port raises
    except ValueError:
        return False
    return (parts.scheme in ("http", "https") and parts.hostname in LOOPBACK_NAMES
            and parts.path in ("", "/") and not parts.query and not parts.username)


def bearer_matches(authorization: str | None, token: str) -> bool:
    """True when ``authorization`` is ``Bearer <token>``; the token is compared in constant time."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    same = hmac.compare_digest(value.strip().encode(), token.encode())
    return same and scheme.lower() == "bearer"


def refusal(facts: Facts, allowed_hosts: frozenset[str], token: str | None) -> Refusal | None:
    """None when the request may be served, else why not (the rules in the module docstring).

    Every request needs an allowed ``Host``; GET and HEAD need nothing more; ``OPTIONS`` (a CORS
    preflight) is refused; any other method is state-changing.
    """
    name = host_name(facts.host) if facts.host is not None else None
    if name is None or name not in allowed_hosts:
        return Refusal(421, "host", "Host not allowed: use 127.0.0.1 or localhost, or add the name to "
                                    "ops.allowed_hosts")
    method = facts.method.upper()
    if method in SAFE_METHODS:
        return None
    if method == "OPTIONS":
        return Refusal(403, "preflight", "cross-origin requests are not allowed")
    if facts.origin is not None and not origin_is_loopback(facts.origin):
        return Refusal(403, "origin", "cross-origin requests are not allowed")
    media = (facts.content_type or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        return Refusal(403, "content_type", f"{method} needs Content-Type: application/json")
    if token is not None:
        if not bearer_matches(facts.authorization, token):
            return Refusal(401, "token", f"{method} needs Authorization: Bearer <ops.token>")
    elif not is_loopback(facts.remote):
        return Refusal(403, "remote", f"{method} from another host needs ops.token")
    return None


def _short(value: str | None, limit: int = 80) -> str | None:
    """A client-supplied header for the log, cut to ``limit`` characters."""
    return value if value is None or len(value) <= limit else value[:limit] + "..."


class RefusalLog:
    """Logs refused requests as ``ops_refused`` warnings, each reason at most once per ``every`` seconds
    (a page hammering the port cannot flood the log); the next line counts those ``suppressed``."""

    def __init__(self, log: Any, every: float = REFUSAL_LOG_EVERY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log = log
        self.every = every
        self.clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def __call__(self, refused: Refusal, facts: Facts, path: str) -> None:
        now = self.clock()
        last = self._last.get(refused.reason)
        if last is not None and now - last < self.every:
            self._suppressed[refused.reason] = self._suppressed.get(refused.reason, 0) + 1
            return
        self._last[refused.reason] = now
        self.log.warning("ops_refused", reason=refused.reason, status=refused.status, method=_short(facts.method),
                         path=_short(path), remote=facts.remote, host=_short(facts.host),
                         origin=_short(facts.origin), suppressed=self._suppressed.pop(refused.reason, 0))


def facts_of(request: web.Request) -> Facts:
    """The guard's view of an aiohttp request."""
    headers = request.headers
    return Facts(method=request.method, host=headers.get("Host"), origin=headers.get("Origin"),
                 content_type=headers.get("Content-Type"), authorization=headers.get("Authorization"),
                 remote=request.remote)


def guard_middleware(allowed_hosts: frozenset[str], token: str | None, report: RefusalLog) -> Any:
    """The aiohttp middleware applying :func:`refusal` to every request of the app."""

    @web.middleware
    async def guard(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
        facts = facts_of(request)
        refused = refusal(facts, allowed_hosts, token)
        if refused is None:
            return await handler(request)
        report(refused, facts, request.path)
        headers = {"WWW-Authenticate": "Bearer"} if refused.status == 401 else None
        return web.json_response({"error": refused.error}, status=refused.status, headers=headers)

    return guard


def valid_host_entry(entry: str) -> bool:
    """True for a host name or IP address (IPv6 with or without brackets); False with a port, scheme or path."""
    name = address(entry)
    if not name or any(c in name for c in "/@[] "):
        return False
    if ":" in name:
        try:
            ipaddress.IPv6Address(name)
        except ValueError:
            return False
    return True


def check_binding(host: str, token: SecretStr | None, allowed_hosts: Iterable[str] = ()) -> str | None:
    """The token's value to require (None: no token), or UserError when the settings are unsafe or wrong:
    an empty token, an address beyond loopback without a token, an allowed host with a port or scheme."""
    bad = [h for h in allowed_hosts if not valid_host_entry(h)]
    if bad:
        raise UserError(f"ops.allowed_hosts: {bad[0]!r} is not a host name or address (no scheme or port, "
                        "e.g. \"bot\")")
    value = token.get_secret_value() if token is not None else None
    if value is not None and not value.strip():
        raise UserError("ops.token is empty: set a long random value (MMBOT_OPS__TOKEN or the secret file "
                        "mmbot_ops__token), or unset it")
    if value is None and not is_loopback(host):
        raise UserError(f"ops.host = {host} serves the ops endpoint beyond loopback, which needs a token: set "
                        "ops.token (MMBOT_OPS__TOKEN or the secret file mmbot_ops__token) or ops.host = 127.0.0.1")
    return value


# -- the routes a service adds ------------------------------------------------------------------


def kill_routes(trip: Callable[[str], None]) -> list[web.RouteDef]:
    """aiohttp routes for the ops server: ``POST /kill`` trips the kill switch (``trip(reason)``).

    Serve them only through :func:`build_app`: its guard admits a POST only with an allowed ``Host``, no
    foreign ``Origin``, a JSON content type and the ops token (without a token: loopback clients only), so
    a web page cannot send it. The body is not read.
    """

    async def kill(_: web.Request) -> web.Response:
        trip("manual: POST /kill")
        return web.json_response({"killed": True})

    return [web.post("/kill", kill)]


# -- the server ----------------------------------------------------------------------------------


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
    metrics: Metrics,
    readiness: Readiness,
    status: Status,
    routes: Sequence[web.RouteDef] = (),
    *,
    bind_host: str = "127.0.0.1",
    token: str | None = None,
    allowed_hosts: Iterable[str] = (),
    log: Any = None,
) -> web.Application:
    """The aiohttp application serving the four routes, plus ``routes`` (e.g. ``POST /kill``), every one
    behind the guard (:func:`refusal`) for a server bound to ``bind_host``; refusals go to ``log``."""
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

    report = RefusalLog(log if log is not None else get_logger(component="ops"))
    app = web.Application(middlewares=[guard_middleware(allowed_host_names(bind_host, allowed_hosts), token, report)])
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
    *,
    token: SecretStr | None = None,
    allowed_hosts: Iterable[str] = (),
    log: Any = None,
) -> OpsServer:
    """Serve the ops routes (and the extra ``routes``) on ``host:port`` (port 0: any free port; see
    ``OpsServer.port``), guarded as the module docstring says.

    Raises ``UserError`` before binding when ``host`` is beyond loopback without a ``token`` (or the token
    is empty), ``OSError`` when the address cannot be bound (e.g. the port is taken).
    """
    allowed_hosts = list(allowed_hosts)
    secret = check_binding(host, token, allowed_hosts)
    app = build_app(metrics, readiness, status, routes, bind_host=host, token=secret,
                    allowed_hosts=allowed_hosts, log=log)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1] if runner.addresses else port
    return OpsServer(runner, host, int(bound))
