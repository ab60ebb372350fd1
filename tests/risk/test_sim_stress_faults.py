"""The simulator's stress features seen through unmodified ccxt: a request-weight window of any length
(429 with Retry-After, then 418 for a client that keeps going, counted per client in /admin/state),
and the ``crossed_book`` depth fault."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import ccxt
import pytest

from bot.sim.server import SimServer, start_sim
from bot.sim.settings import RateLimitSettings
from bot.venue.connect import create_exchange
from tests.sim.conftest import fast_settings
from tests.sim.test_ccxt_ws import WAIT, _assert_matches_rest

BTC = "BTC/USDT"


def _client(sim: SimServer) -> Any:
    ex = create_exchange("sim", "binance", sim.url, sim.api_key, sim.api_secret)
    ex.enableRateLimit = False  # ccxt's own limiter knows only Binance's real limits
    return ex


async def _until_refused(ex: Any, status: str, attempts: int = 200) -> ccxt.DDoSProtection:
    """Fetch small books (weight 5) until the venue answers ``status`` (429 or 418)."""
    for _ in range(attempts):
        try:
            await ex.fetch_order_book(BTC, 5)
        except ccxt.DDoSProtection as exc:
            if f" {status} " in str(exc):
                return exc
    raise AssertionError(f"no {status} in {attempts} requests")


async def _admin_state(sim: SimServer) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(sim.url + "/admin/state") as response:
        assert response.status == 200
        return await response.json()  # type: ignore[no-any-return]


async def test_a_two_second_weight_window_is_named_announced_and_ends() -> None:
    settings = fast_settings(rate_limits=RateLimitSettings(weight_per_minute=40, weight_window=2, ban_after=3))
    async with await start_sim(settings) as sim:
        ex = _client(sim)
        try:
            info = await ex.public_get_exchangeinfo()
            weight = next(r for r in info["rateLimits"] if r["rateLimitType"] == "REQUEST_WEIGHT")
            assert (weight["interval"], weight["intervalNum"], weight["limit"]) == ("SECOND", 2, 40)
            limited = await _until_refused(ex, "429")
            assert "request weight per 2 SECOND" in str(limited)
            headers = ex.last_response_headers
            assert 1 <= int(headers["Retry-After"]) <= 2  # the end of the 2 s window, whole seconds
            assert "X-MBX-USED-WEIGHT-2S" in headers and "X-MBX-USED-WEIGHT-1M" not in headers
            await asyncio.sleep(int(headers["Retry-After"]))  # waiting for Retry-After is enough
            await ex.fetch_order_book(BTC, 5)
            assert int(ex.last_response_headers["X-MBX-USED-WEIGHT-2S"]) <= 40
        finally:
            await ex.close()
        clients = (await _admin_state(sim))["rate_limits"]["clients"]
    assert clients["127.0.0.1"]["limited"] >= 1 and clients["127.0.0.1"]["refused"] == 0
    assert clients["127.0.0.1"]["bans"] == 0


async def test_a_client_that_keeps_going_after_429s_is_banned_with_418() -> None:
    limits = RateLimitSettings(weight_per_minute=40, weight_window=3, ban_after=2, ban_seconds=30.0)
    async with await start_sim(fast_settings(rate_limits=limits)) as sim:
        ex = _client(sim)
        try:
            await _until_refused(ex, "429")
            banned = await _until_refused(ex, "418")
            assert "IP banned until" in str(banned)
            assert 29 <= int(ex.last_response_headers["Retry-After"]) <= 30  # the ban's end, not the window's
            with pytest.raises(ccxt.DDoSProtection, match="418"):
                await ex.fetch_order_book(BTC, 5)  # every request during the ban
        finally:
            await ex.close()
        stats = (await _admin_state(sim))["rate_limits"]["clients"]["127.0.0.1"]
    assert stats["bans"] == 1 and stats["refused"] >= 2 and stats["limited"] >= 2 and stats["max_strikes"] >= 3


async def test_rate_limits_change_at_run_time_through_the_admin_endpoint() -> None:
    async with await start_sim(fast_settings()) as sim:
        ex = _client(sim)
        try:
            await ex.fetch_order_book(BTC, 5)  # the default limits: nowhere near
            async with aiohttp.ClientSession() as session:
                async with session.post(sim.url + "/admin/rate_limits", json={"weight_per_minute": 0}) as response:
                    assert response.status == 400 and "weight_per_minute" in (await response.json())["error"]
                async with session.post(sim.url + "/admin/rate_limits", json=[1]) as response:
                    assert response.status == 400
                new = {"weight_per_minute": 30, "weight_window": 5}
                async with session.post(sim.url + "/admin/rate_limits", json=new) as response:
                    assert response.status == 200
                    limits = (await response.json())["rate_limits"]
            assert limits["weight_per_minute"] == 30 and limits["weight_window"] == 5 and limits["ban_after"] == 3
            info = await ex.public_get_exchangeinfo()
            weight = next(r for r in info["rateLimits"] if r["rateLimitType"] == "REQUEST_WEIGHT")
            assert (weight["interval"], weight["intervalNum"], weight["limit"]) == ("SECOND", 5, 30)
            assert "request weight per 5 SECOND" in str(await _until_refused(ex, "429"))
        finally:
            await ex.close()


def _crossed(book: dict[str, Any]) -> bool:
    return bool(book["bids"]) and bool(book["asks"]) and book["bids"][0][0] >= book["asks"][0][0]


async def test_the_crossed_book_fault_crosses_subscribers_books_until_switched_off() -> None:
    async with await start_sim(fast_settings()) as sim:
        ex = _client(sim)
        try:
            await ex.load_markets()
            async with asyncio.timeout(WAIT):
                for _ in range(3):
                    assert not _crossed(await ex.watch_order_book(BTC))
            async with aiohttp.ClientSession() as session:
                async with session.post(sim.url + "/admin/faults", json={"crossed_book": True}) as response:
                    assert response.status == 200 and (await response.json())["faults"]["crossed_book"] is True
                async with asyncio.timeout(WAIT):
                    while not _crossed(book := await ex.watch_order_book(BTC)):
                        pass
                    assert book["bids"][0][0] == book["asks"][0][0]  # a phantom bid at the best ask
                    for _ in range(10):  # it follows the best ask while the fault is on
                        assert _crossed(await ex.watch_order_book(BTC))
                snapshot = await ex.fetch_order_book(BTC, 5)
                assert not _crossed(snapshot)  # REST shows the real book
                async with session.post(sim.url + "/admin/faults", json={"crossed_book": False}) as response:
                    assert response.status == 200
            async with asyncio.timeout(WAIT):
                while _crossed(await ex.watch_order_book(BTC)):
                    pass
            await _assert_matches_rest(ex, sim)  # every phantom level went back to its real quantity
        finally:
            await ex.close()
