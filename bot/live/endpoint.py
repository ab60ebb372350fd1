"""Where the live service connects, and as whom: the venue of ``settings.venue`` resolved to an :class:`Endpoint`.

``venue.kind = "sim"`` without ``venue.url`` starts an in-process simulated exchange (stopped when the
context ends); ``sim`` with a URL uses a running one (its first account's keys unless keys are set);
``testnet`` needs API keys (:func:`require_keys`: one line before anything is started); ``paper`` and the
rest connect as configured.

The hedge leg's futures venue (``[hedge]``, :func:`hedge_endpoint`): ``kind = "sim"`` at ``hedge.url``, else at
``venue.url`` (a sim venue), else at the in-process simulator's URL, as the hedge keys or else the simulator's
account; ``kind = "demo"`` is Binance's futures demo trading and needs the hedge keys (one line without them).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from bot.config import Settings
from bot.errors import UserError


@dataclass
class Endpoint:
    """Where and as whom to connect."""

    kind: str
    exchange_id: str
    url: str | None
    api_key: str | None
    api_secret: str | None
    password: str | None = None
    sim: Any = None  # the in-process SimServer, when we started one


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    text = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
    return text or None


def sim_settings(settings: Settings) -> Any:
    """The ``[sim]`` section (the simulated exchange's own defaults when the settings have none)."""
    from bot.sim.settings import SimSettings

    sim = getattr(settings, "sim", None)
    return sim if isinstance(sim, SimSettings) else SimSettings()


@contextlib.asynccontextmanager
async def open_endpoint(settings: Settings) -> AsyncIterator[Endpoint]:
    """Resolve the venue; start (and finally stop) an in-process sim when none is configured."""
    venue = settings.venue
    key, secret = _secret(venue.api_key), _secret(venue.api_secret)
    password = _secret(venue.api_password)
    if venue.kind == "sim" and not venue.url:
        from bot.sim.server import start_sim

        server = await start_sim(sim_settings(settings))
        try:
            yield Endpoint("sim", venue.exchange, server.url, key or server.api_key,
                           secret or _secret(server.api_secret), password, sim=server)
        finally:
            await server.stop()
        return
    if venue.kind == "sim":
        if key is None or secret is None:
            account = sim_settings(settings).accounts[0]
            key, secret = key or account.api_key, secret or account.api_secret.get_secret_value()
        yield Endpoint("sim", venue.exchange, venue.url, key, secret, password)
        return
    require_keys(settings)
    yield Endpoint(venue.kind, venue.exchange, venue.url, key, secret, password)


def hedge_endpoint(settings: Settings, spot: Endpoint) -> Endpoint:
    """Where and as whom the hedge leg trades futures (see the module docstring); ``spot`` is the resolved
    spot venue (its in-process simulator serves the futures API too)."""
    hedge = settings.hedge
    key, secret = _secret(hedge.api_key), _secret(hedge.api_secret)
    if hedge.kind == "demo":
        require_hedge_keys(settings)
        return Endpoint("demo", hedge.exchange, None, key, secret)
    url = hedge.url or (settings.venue.url if settings.venue.kind == "sim" else None)
    if url is None and spot.sim is not None:
        url = spot.sim.url
    if url is None:
        raise UserError("hedge.kind = 'sim' needs the simulator: set hedge.url (http://127.0.0.1:PORT), or run the "
                        "spot venue on the simulator (venue.kind = 'sim')")
    if key is None or secret is None:
        if spot.sim is not None and url == spot.sim.url:
            key, secret = key or spot.sim.api_key, secret or _secret(spot.sim.api_secret)
        else:
            account = sim_settings(settings).accounts[0]
            key, secret = key or account.api_key, secret or account.api_secret.get_secret_value()
    return Endpoint("sim", hedge.exchange, url, key, secret)


def require_hedge_keys(settings: Settings) -> None:
    """Futures demo trading needs API keys: one line before anything is started."""
    hedge = settings.hedge
    if hedge.enabled and hedge.kind == "demo" and (_secret(hedge.api_key) is None or _secret(hedge.api_secret) is None):
        raise UserError(
            f"hedge.kind = 'demo' needs API keys of a Binance futures demo account ({hedge.exchange}): set "
            "MMBOT_HEDGE__API_KEY and MMBOT_HEDGE__API_SECRET (see README, 'Hedging')"
        )


def require_keys(settings: Settings) -> None:
    """A testnet (and a futures demo hedge leg) needs API keys: say so in one line before anything is started."""
    require_hedge_keys(settings)
    venue = settings.venue
    if venue.kind == "testnet" and (_secret(venue.api_key) is None or _secret(venue.api_secret) is None):
        raise UserError(
            f"venue.kind = 'testnet' needs API keys for the {venue.exchange} testnet: "
            "set MMBOT_VENUE__API_KEY and MMBOT_VENUE__API_SECRET (see README, 'Running the bot')"
        )
