"""How creates and cancels reach the venue (``venue.order_entry``): REST, or Binance's WebSocket API.

Both entries hand :class:`~bot.live.orders.OrderManager` the same ccxt order dicts and ccxt exceptions,
which it reads through one table (:func:`bot.venue.answers.classify`: the venue's error code first, ccxt's
class second, since ccxt maps a code to different classes on the two transports), so every rule there
(rejections, outages, rate limits, orders of unknown fate, clock skew) holds for both.

- :class:`RestOrderEntry`: ``create_order`` / ``cancel_order``, one HTTP request each (every venue and the
  paper venue).
- :class:`WsOrderEntry`: ``create_order_ws`` / ``cancel_order_ws`` (``order.place`` / ``order.cancel``)
  on the one WebSocket API connection that also carries the user data stream: no HTTP request to build
  or parse, so an order leaves sooner and costs less CPU. What REST gets from the exchange layer, it
  does itself:

  - **Rate discipline.** Each request first takes the REST endpoint's cost from the shared, gated
    leaky bucket (``exchange.throttler``, see :mod:`bot.live.ratelimit`; skipped, as ccxt skips it for
    REST, when ``enableRateLimit`` is off, which only the capacity benchmark does), synchronously when
    nothing makes it wait (``GatedThrottler.take_now``): it waits while the
    :class:`~bot.live.ratelimit.RateGate` is closed, and Binance counts WebSocket API weight against
    the same per-IP budget as REST. ccxt's own WebSocket throttle (a flat cost of 5 tokens per message,
    250 ms on Binance) is switched off on that one connection, so it does not hold an order that has
    already waited its turn. A rate-limit answer closes the gate (the venue's ``retryAfter`` is the
    hint); any other answer reports the request as answered.
  - **A deadline.** ccxt's WebSocket requests have none: after ``timeout`` seconds (the exchange's REST
    timeout) without an answer the request fails with ``RequestTimeout``, so a create becomes an order of
    unknown fate and is looked up by client id, as after a REST timeout. A dropped connection fails
    every request in flight with ``NetworkError``, with the same outcome. The deadline is kept by one
    :class:`~bot.live.watchdog.IdleWatchdog` per calling task (one timer per ``timeout`` seconds), not a
    timer armed and cancelled in front of every order.
  - **Bounded memory.** ccxt files every request under ``client.subscriptions`` and never removes it;
    answered (or abandoned) order requests are pruned after each call.

Only Binance-protocol venues (the simulator, Binance's testnet) have the WebSocket API; the paper venue
answers orders locally. :func:`make_order_entry` picks it for ``auto`` (the default) where it exists, REST
elsewhere, and refuses an explicit ``websocket`` anywhere else with a ``UserError``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any, Protocol

import ccxt
from ccxt.async_support.base.exchange import Exchange as AsyncExchange

from bot.errors import UserError
from bot.live.ratelimit import GatedThrottler, RateGate
from bot.live.watchdog import IdleWatchdog
from bot.venue.answers import Answer, classify, venue_code

ENTRIES = ("auto", "rest", "websocket")


class OrderEntry(Protocol):
    """Sends one create (limit, or market: a flattening order) or cancel; answers and errors are ccxt's."""

    name: str
    wire_turns: int  # event-loop turns from the call's first suspension until its request is written

    def create(self, symbol: str, side: str, amount: float, price: float,
               params: dict[str, Any]) -> Awaitable[dict[str, Any]]: ...

    def create_market(self, symbol: str, side: str, amount: float,
                      params: dict[str, Any]) -> Awaitable[dict[str, Any]]: ...

    def cancel(self, order_id: str | None, symbol: str, params: dict[str, Any]) -> Awaitable[dict[str, Any]]: ...

    def headers(self) -> dict[str, Any] | None:
        """The last answer's HTTP headers, where the venue's rate-limit hints are (REST only)."""


class RestOrderEntry:
    """``create_order`` / ``cancel_order`` (limit orders). The coroutines are returned, not wrapped, so
    the order path has no extra frame."""

    name = "rest"
    wire_turns = 0  # aiohttp writes the request before the call first suspends

    def __init__(self, exchange: Any) -> None:
        self.exchange = exchange

    def create(self, symbol: str, side: str, amount: float, price: float,
               params: dict[str, Any]) -> Awaitable[dict[str, Any]]:
        return self.exchange.create_order(symbol, "limit", side, amount, price, params)  # type: ignore[no-any-return]

    def create_market(self, symbol: str, side: str, amount: float,
                      params: dict[str, Any]) -> Awaitable[dict[str, Any]]:
        return self.exchange.create_order(symbol, "market", side, amount, None, params)  # type: ignore[no-any-return]

    def cancel(self, order_id: str | None, symbol: str, params: dict[str, Any]) -> Awaitable[dict[str, Any]]:
        return self.exchange.cancel_order(order_id, symbol, params)  # type: ignore[no-any-return]

    def headers(self) -> dict[str, Any] | None:
        headers = getattr(self.exchange, "last_response_headers", None)
        return headers if isinstance(headers, dict) else None


async def _unthrottled(cost: float | None = None) -> None:
    """Stands in for ccxt's per-connection WebSocket throttle (the request has already waited its turn)."""


def ws_api_url(exchange: Any) -> str | None:
    """The spot WebSocket API URL of a Binance-protocol ccxt client (None when it has none)."""
    if not isinstance(exchange, AsyncExchange):
        return None
    has = exchange.has or {}
    if not (has.get("createOrderWs") and has.get("cancelOrderWs")):
        return None
    ws = (exchange.urls.get("api") or {}).get("ws")
    section = ws.get("ws-api") if isinstance(ws, dict) else None
    url = section.get("spot") if isinstance(section, dict) else None
    return url if isinstance(url, str) and url else None


def endpoint_cost(exchange: Any, method: str, path: str = "order") -> float:
    """ccxt's rate-limit cost of the private REST endpoint ``method path`` (1 when it does not say)."""
    try:
        cost = exchange.api["private"][method][path]["cost"]
    except (KeyError, TypeError):
        return 1.0
    return float(cost)


class WsOrderEntry:
    """Creates and cancels over the WebSocket API (see the module docstring)."""

    name = "websocket"
    wire_turns = 2  # ccxt sends from a done-callback that starts a task

    def __init__(self, exchange: Any, gate: RateGate, timeout: float | None = None) -> None:
        url = ws_api_url(exchange)
        if url is None:
            raise ValueError("this venue has no Binance-style WebSocket API for orders")
        self.exchange, self.gate, self.url = exchange, gate, url
        self.timeout = float(timeout if timeout is not None else exchange.timeout / 1000.0)
        self._deadlines: dict[asyncio.Task[Any], IdleWatchdog] = {}  # see _deadline
        self.create_cost = endpoint_cost(exchange, "post")
        self.cancel_cost = endpoint_cost(exchange, "delete")

    async def create(self, symbol: str, side: str, amount: float, price: float,
                     params: dict[str, Any]) -> dict[str, Any]:
        ex = self.exchange
        return await self._request("order.place", self.create_cost,
                                   ex.create_order_ws, symbol, "limit", side, amount, price, params)

    async def create_market(self, symbol: str, side: str, amount: float, params: dict[str, Any]) -> dict[str, Any]:
        return await self._request("order.place", self.create_cost, self.exchange.create_order_ws, symbol, "market",
                                   side, amount, None, params)

    async def cancel(self, order_id: str | None, symbol: str, params: dict[str, Any]) -> dict[str, Any]:
        return await self._request("order.cancel", self.cancel_cost, self.exchange.cancel_order_ws,
                                   order_id, symbol, params)

    def headers(self) -> dict[str, Any] | None:
        return None  # the WebSocket API's hint is in the error itself (retryAfter)

    def _deadline(self) -> IdleWatchdog:
        """The calling task's deadline keeper: one timer per ``timeout`` seconds per task, not one per
        request (``asyncio.timeout`` would arm and cancel a timer in front of every order)."""
        task = asyncio.current_task()
        assert task is not None  # a coroutine awaiting a request runs in a task
        keeper = self._deadlines.get(task)
        if keeper is None:
            for done in [t for t in self._deadlines if t.done()]:  # a keeper holds its task: drop finished ones
                self._deadlines.pop(done).close()
            keeper = self._deadlines[task] = IdleWatchdog(self.timeout)
        return keeper

    def _client(self) -> Any:
        """The connection ccxt will use for the request (a new one after a drop), its throttle off."""
        clients = self.exchange.clients
        client = clients.get(self.url) if clients else None
        if client is None:
            client = self.exchange.client(self.url)
        client.throttle = _unthrottled
        return client

    async def _request(self, method: str, cost: float, call: Any, *args: Any) -> dict[str, Any]:
        exchange = self.exchange
        if exchange.enableRateLimit:  # as ccxt's REST requests do (the gate lives in that throttler)
            throttler = exchange.throttler
            if not (isinstance(throttler, GatedThrottler) and throttler.take_now(cost)):
                await throttler(cost)  # waits for the gate, then its turn at the shared weight budget
        client = self._client()
        sent = time.monotonic()
        try:
            result = await self._deadline().call(lambda: call(*args))
        except TimeoutError:
            raise ccxt.RequestTimeout(f"{method}: no answer on the WebSocket API within {self.timeout:g} s") from None
        except ccxt.BaseError as exc:  # the venue's code decides, as over REST (bot.venue.answers)
            if classify(exc) is Answer.RATE_LIMITED:
                self.gate.limited(f"ws {method}", exc)
            elif isinstance(exc, ccxt.ExchangeError) or venue_code(exc) is not None:
                self.gate.answered(sent)
            raise
        finally:
            self._prune(client)
        self.gate.answered(sent)
        return result  # type: ignore[no-any-return]

    def _prune(self, client: Any) -> None:
        """Forget the order requests ccxt keeps per connection once they are answered or abandoned."""
        handler = getattr(self.exchange, "handle_order_ws", None)  # Binance's handler of order answers
        if handler is None:
            return
        futures = client.futures
        subscriptions = client.subscriptions
        for key, sub in list(subscriptions.items()):
            if isinstance(sub, dict) and sub.get("method") == handler:
                future = futures.get(key)
                if future is None or future.done():
                    del subscriptions[key]
                    if future is not None:
                        del futures[key]


def make_order_entry(kind: str, exchange: Any, gate: RateGate) -> RestOrderEntry | WsOrderEntry:
    """The entry for ``venue.order_entry``: ``auto`` is the WebSocket API where the venue has it, else REST;
    ``UserError`` when ``websocket`` is asked of a venue without it."""
    if kind == "rest" or (kind == "auto" and ws_api_url(exchange) is None):
        return RestOrderEntry(exchange)
    if kind == "auto":
        return WsOrderEntry(exchange, gate)
    if kind != "websocket":
        raise UserError(f"venue.order_entry: must be one of {', '.join(ENTRIES)} (got {kind!r})")
    if not isinstance(exchange, AsyncExchange):
        raise UserError("venue.order_entry = 'websocket' needs a venue's WebSocket API, and the paper venue "
                        "answers orders locally: use 'rest' with kind 'paper'")
    try:
        return WsOrderEntry(exchange, gate)
    except ValueError:
        raise UserError(f"venue.order_entry = 'websocket' is for Binance's WebSocket API (the simulator, "
                        f"Binance's testnet); {exchange.id} has none in ccxt: use 'rest'") from None
