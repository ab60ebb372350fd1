"""Build the ccxt.pro client for a venue. Only URLs and options are changed: ccxt stays unmodified.

- ``sim``: ``ccxt.pro.binance`` (spot only) in sandbox mode with every URL pointed at the local
  simulator at ``url`` (``http://host:port``): REST ``url/api/v3``, market data ``ws://host:port/stream/ws``,
  WebSocket API ``ws://host:port/ws-api/v3``.
- ``testnet``: ``ccxt.pro.<exchange_id>`` with ``set_sandbox_mode(True)`` and the given keys.
- ``paper``: a :class:`~bot.paper.venue.PaperExchange` (orders and balances simulated locally with the
  ``paper`` settings) over a public feed without keys: ``ccxt.pro.<exchange_id>``, or, when ``url`` is
  given, the simulator at ``url`` (Binance protocol, public endpoints only) - handy to paper trade offline.

Bad input (unknown exchange, no sandbox, missing URL) raises ``UserError``. Keys are never logged.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import ccxt.pro

from bot.errors import UserError
from bot.paper.settings import PaperSettings

SPOT_OPTIONS = {"defaultType": "spot", "fetchMarkets": {"types": ["spot"]}}
# ccxt.pro keeps the last N parsed public trades, own orders and own trades (each dict with its raw
# ``info``) per client; its default of 1,000 each is several MiB that fills over the first minutes.
# The bot only reads what is new since its previous watch_* call (ccxt's newUpdates mode), a few
# entries per message, and its REST reconciliation pages fetch_my_trades itself; so 200 is plenty.
CACHE_OPTIONS = {"tradesLimit": 200, "ordersLimit": 200}


def _exchange_class(exchange_id: str) -> type:
    cls = getattr(ccxt.pro, exchange_id, None) if exchange_id in ccxt.pro.exchanges else None
    if cls is None:
        raise UserError(f"venue.exchange: unknown ccxt.pro exchange id {exchange_id!r}")
    return cls  # type: ignore[no-any-return]


def _sim_urls(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.port is None:
        raise UserError(f"venue.url: expected http://host:port for the simulator (got {url!r})")
    ws_scheme = "wss" if parts.scheme == "https" else "ws"
    base = f"{parts.scheme}://{parts.netloc}"
    ws_base = f"{ws_scheme}://{parts.netloc}"
    return f"{base}/api/v3", f"{ws_base}/stream/ws", f"{ws_base}/ws-api/v3"


def create_exchange(
    kind: str,
    exchange_id: str,
    url: str | None,
    api_key: str | None,
    api_secret: str | None,
    password: str | None = None,
    paper: PaperSettings | None = None,
) -> Any:
    """A configured (not yet connected) ``ccxt.pro`` exchange for ``kind`` in sim/testnet/paper.

    ``paper`` (starting balances, maker fee, queue model) only matters for ``kind="paper"``; None means
    the :class:`PaperSettings` defaults.
    """
    if kind == "sim":
        if not url:
            raise UserError("venue.url: the simulator needs a URL (http://127.0.0.1:PORT)")
        rest, ws, ws_api = _sim_urls(url)
        exchange = ccxt.pro.binance(
            {"enableRateLimit": True, "options": {**SPOT_OPTIONS, **CACHE_OPTIONS}, "apiKey": api_key or "",
             "secret": api_secret or ""}
        )
        exchange.set_sandbox_mode(True)
        api = exchange.urls["api"]
        api["public"] = rest
        api["private"] = rest
        api["ws"] = {**api["ws"], "spot": ws, "ws-api": {**api["ws"]["ws-api"], "spot": ws_api}}
        return exchange
    if kind == "testnet":
        cls = _exchange_class(exchange_id)
        config: dict[str, Any] = {"enableRateLimit": True, "apiKey": api_key or "", "secret": api_secret or "",
                                  "options": dict(CACHE_OPTIONS)}
        if password:
            config["password"] = password
        if exchange_id.startswith("binance"):
            config["options"].update(SPOT_OPTIONS)
        exchange = cls(config)
        if not exchange.urls.get("test"):
            raise UserError(f"venue.exchange: {exchange_id!r} has no sandbox/testnet in ccxt; use kind 'paper'")
        exchange.set_sandbox_mode(True)
        return exchange
    if kind == "paper":
        from bot.paper.venue import PaperExchange

        return PaperExchange(public_feed(exchange_id, url), paper)
    raise UserError(f"venue.kind: must be one of 'sim', 'testnet', 'paper' (got {kind!r})")


def public_feed(exchange_id: str, url: str | None = None) -> Any:
    """A keyless ``ccxt.pro`` client for market data: ``exchange_id``'s public API, or the simulator at ``url``."""
    if url:
        if exchange_id != "binance":
            raise UserError(f"venue.url: a paper feed from a URL is the simulator, which speaks the binance "
                            f"protocol; set venue.exchange = 'binance' (got {exchange_id!r}) or unset venue.url")
        return create_exchange("sim", "binance", url, None, None)
    cls = _exchange_class(exchange_id)
    options = {**SPOT_OPTIONS, **CACHE_OPTIONS} if exchange_id.startswith("binance") else dict(CACHE_OPTIONS)
    return cls({"enableRateLimit": True, "options": options})


#: the ccxt ``urls['api']`` keys of Binance USDⓈ-M futures' REST API, by the version path each one serves
FAPI_KEYS = {"fapiPublic": "v1", "fapiPrivate": "v1", "fapiPublicV2": "v2", "fapiPrivateV2": "v2",
             "fapiPublicV3": "v3", "fapiPrivateV3": "v3"}
FUTURES_KINDS = ("sim", "demo")


def create_futures_exchange(kind: str, exchange_id: str, url: str | None, api_key: str | None,
                            api_secret: str | None) -> Any:
    """A configured (not yet connected) ``ccxt.pro`` USDⓈ-M futures client for the hedge leg.

    - ``sim``: ``ccxt.pro.binanceusdm`` with the six fapi REST URLs at ``url/fapi/v1|v2|v3``, the market and
      user streams at ``ws://host:port/fstream/ws`` and the WebSocket API at ``ws://host:port/ws-fapi/v1``;
      the futures error table (ccxt applies it only to Binance's own hosts) is applied here too, so a local
      venue's -2019/-2022/-5022 mean what they mean at Binance;
    - ``demo``: Binance's futures demo trading (``enable_demo_trading(True)``; ccxt refuses sandbox mode for
      futures) with the given keys.

    ``options['fetchCurrencies'] = False`` always: with keys, ccxt would otherwise ask Binance's spot
    ``sapi`` (real Binance) for currencies at load_markets; and no positions snapshot (``leverageBracket`` +
    ``positionRisk``) behind the first private watcher. Bad input raises ``UserError``.
    """
    if kind not in FUTURES_KINDS:
        raise UserError(f"hedge.kind: must be one of {', '.join(repr(k) for k in FUTURES_KINDS)} (got {kind!r})")
    if exchange_id != "binanceusdm":
        raise UserError(f"hedge.exchange: only 'binanceusdm' (Binance USDⓈ-M futures) is supported "
                        f"(got {exchange_id!r})")
    exchange = ccxt.pro.binanceusdm({
        "enableRateLimit": True, "apiKey": api_key or "", "secret": api_secret or "",
        "options": {"fetchCurrencies": False, **CACHE_OPTIONS,
                    # the leg reads the position itself (positionRisk): no snapshot behind the first private watch
                    "watchPositions": {"fetchPositionsSnapshot": False, "awaitPositionsSnapshot": False}},
    })
    if kind == "demo":
        exchange.enable_demo_trading(True)
        return exchange
    if not url:
        raise UserError("hedge.url: the simulator's futures API needs a URL (http://127.0.0.1:PORT)")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.port is None:
        raise UserError(f"hedge.url: expected http://host:port for the simulator (got {url!r})")
    base = f"{parts.scheme}://{parts.netloc}"
    ws_base = f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"
    api = exchange.urls["api"]
    for key, version in FAPI_KEYS.items():
        api[key] = f"{base}/fapi/{version}"
    api["ws"] = {**api["ws"], "linear": f"{ws_base}/fstream/ws",
                 "ws-api": {**api["ws"]["ws-api"], "linear": f"{ws_base}/ws-fapi/v1"}}
    linear = (exchange.exceptions.get("linear") or {}).get("exact") or {}
    exchange.exceptions["exact"] = {**exchange.exceptions["exact"], **linear}
    return exchange
