"""Fixtures: a simulated exchange on a free loopback port and unmodified ccxt clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pydantic import SecretStr

from bot.sim.server import SimServer, start_sim
from bot.sim.settings import DEFAULT_API_KEY, DEFAULT_API_SECRET, AccountSpec, SimSettings
from bot.venue.connect import create_exchange

SECOND_KEY, SECOND_SECRET = "taker-key", "taker-secret"


def fast_settings(**kw: Any) -> SimSettings:
    """Default market with a fast clock and a second account (the counterparty in fill tests)."""
    accounts = [
        AccountSpec(api_key=DEFAULT_API_KEY, api_secret=SecretStr(DEFAULT_API_SECRET)),
        AccountSpec(api_key=SECOND_KEY, api_secret=SecretStr(SECOND_SECRET)),
    ]
    return SimSettings(step_interval=0.02, accounts=accounts, **kw)


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    server = await start_sim(fast_settings())
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def make_client(sim: SimServer) -> AsyncIterator[Callable[..., Any]]:
    clients: list[Any] = []

    def make(key: str | None = None, secret: str | None = None, server: SimServer | None = None) -> Any:
        target = server or sim
        ex = create_exchange("sim", "binance", target.url, key or target.api_key, secret or target.api_secret)
        clients.append(ex)
        return ex

    yield make
    for ex in clients:
        await ex.close()


@pytest.fixture
async def client(make_client: Callable[..., Any]) -> Any:
    ex = make_client()
    await ex.load_markets()
    return ex
