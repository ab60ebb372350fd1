"""The venue factory: URLs for the simulator, sandbox for testnets, public-only paper."""

from __future__ import annotations

import ccxt.pro
import pytest

from bot.errors import UserError
from bot.venue.connect import create_exchange


async def test_sim_points_every_url_at_the_simulator() -> None:
    ex = create_exchange("sim", "binance", "http://127.0.0.1:8765", "k", "s")
    try:
        assert isinstance(ex, ccxt.pro.binance)
        api = ex.urls["api"]
        assert api["public"] == api["private"] == "http://127.0.0.1:8765/api/v3"
        assert api["ws"]["spot"] == "ws://127.0.0.1:8765/stream/ws"
        assert api["ws"]["ws-api"]["spot"] == "ws://127.0.0.1:8765/ws-api/v3"
        assert ex.options["defaultType"] == "spot" and ex.enableRateLimit
        assert ex.apiKey == "k" and ex.secret == "s"
    finally:
        await ex.close()


async def test_testnet_uses_the_sandbox() -> None:
    ex = create_exchange("testnet", "binance", None, "k", "s")
    try:
        assert "testnet" in ex.urls["api"]["public"]
    finally:
        await ex.close()


async def test_paper_has_no_keys() -> None:
    ex = create_exchange("paper", "binance", None, "k", "s")
    try:
        assert not ex.apiKey and not ex.secret
    finally:
        await ex.close()


@pytest.mark.parametrize(
    ("kind", "exchange_id", "url", "needle"),
    [
        ("testnet", "nosuchexchange", None, "unknown ccxt.pro exchange"),
        ("testnet", "bitstamp", None, "no sandbox"),
        ("sim", "binance", None, "needs a URL"),
        ("sim", "binance", "127.0.0.1:8765", "expected http://host:port"),
        ("live", "binance", None, "must be one of"),
    ],
)
def test_bad_venues_are_user_errors(kind: str, exchange_id: str, url: str | None, needle: str) -> None:
    with pytest.raises(UserError, match=needle):
        create_exchange(kind, exchange_id, url, None, None)


@pytest.mark.parametrize(("kind", "exchange_id"), [("sim", "binance"), ("testnet", "binance"), ("testnet", "bybit")])
async def test_ccxt_caches_are_bounded_below_its_default(kind: str, exchange_id: str) -> None:
    ex = create_exchange(kind, exchange_id, "http://127.0.0.1:8765", "k", "s")
    try:
        assert ex.options["tradesLimit"] == ex.options["ordersLimit"] == 200  # ccxt's default: 1,000 each
        if exchange_id == "binance":
            assert ex.options["defaultType"] == "spot"
    finally:
        await ex.close()
