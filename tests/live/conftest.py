"""Helpers for the end-to-end tests: a simulated exchange on a free loopback port and a bot run against it."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bot.config import load_settings
from bot.live.service import Service
from bot.live.summary import RunSummary
from bot.logs import configure_logging
from bot.sim.server import SimServer, start_sim
from bot.sim.settings import SimSettings, SymbolSpec
from bot.venue.connect import create_exchange

SYMBOL = "BTC/USDT"
START_BTC = Decimal(2)


def fast_sim(seed: int = 7, **spec: Any) -> SimSettings:
    """One BTC/USDT market with frequent, small takers so a few seconds give many fills."""
    params: dict[str, Any] = {
        "base": "BTC", "quote": "USDT", "mid": Decimal("30000"), "volatility": 2.0, "taker_rate": 30.0,
        "taker_size": 0.004, "level_size": 0.004, "informed_fraction": 0.0,
    }
    params.update(spec)
    return SimSettings(seed=seed, step_interval=0.05, symbols={SYMBOL: SymbolSpec(**params)})


def bot_overrides(sim: SimServer, model: str = "linear", **sections: dict[str, Any]) -> dict[str, Any]:
    """Settings for a bot on ``sim``: quotes near the touch of the 30000 market, small sizes."""
    strategy = {"model": model, "half_spread": 0.02, "skew": 5.0, "gamma": 0.1, "kappa": 50.0, "sigma": 0.02,
                "A": 1.0, "horizon": 1.0, "use_estimators": True}  # as: ~1.6 ticks of skew per order at 4 ticks/sqrt(s)
    out: dict[str, Any] = {
        "venue": {"kind": "sim", "url": sim.url, "api_key": sim.api_key, "api_secret": sim.api_secret,
                  "symbols": [SYMBOL]},
        "strategy": strategy,
        "risk": {"max_position": 0.05},
        "execution": {"order_size": 0.002, "orders_per_second": 20, "requote_ticks": 1, "reconcile_interval": 1.0},
        "logging": {"inventory_interval": 1.0},
    }
    for name, values in sections.items():
        out.setdefault(name, {}).update(values)
    return out


@dataclass
class BotRun:
    summary: RunSummary
    service: Service
    log: list[dict[str, Any]] = field(default_factory=list)

    def events(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.log if e.get("event") == name]


async def until(predicate: Callable[[], bool], limit: float = 10.0) -> bool:
    """Wait until ``predicate()`` holds (checked every 50 ms), at most ``limit`` seconds; whether it did."""
    for _ in range(int(limit / 0.05)):
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return False


def ours(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The orders with the bot's default client id prefix."""
    return [o for o in orders if str(o.get("clientOrderId") or "").startswith("mmbot-")]


async def stop_after_fills(service: Service, fills: int, poll: float = 0.02) -> None:
    """Ask ``service`` to stop once its first symbol has booked ``fills`` fills (a few more may follow)."""
    while not service.runs or service.runs[0].inventory.fills < fills:  # noqa: ASYNC110 (polls a counter)
        await asyncio.sleep(poll)
    service.request_stop(f"{fills} fills")


async def run_bot(
    overrides: dict[str, Any],
    duration: float,
    during: Callable[[Service], Awaitable[None]] | None = None,
    fills: int | None = None,
) -> BotRun:
    """Run the service with JSON logs captured; ``during`` runs alongside.

    It stops after ``duration`` seconds or, with ``fills``, as soon as that many fills are booked
    (``duration`` is then the timeout).
    """
    stream = io.StringIO()
    settings = load_settings(None, overrides)
    configure_logging("debug", "json", settings.secret_values(), stream=stream)
    service = Service(settings, duration=duration)
    task = asyncio.create_task(service.run())
    watcher = asyncio.create_task(stop_after_fills(service, fills)) if fills is not None else None
    try:
        if during is not None:
            await during(service)
        summary = await task
    finally:
        if watcher is not None:
            watcher.cancel()
    log = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    return BotRun(summary, service, log)


async def venue_view(sim: SimServer) -> tuple[list[dict[str, Any]], Decimal]:
    """What an independent client sees: open orders on SYMBOL and the total BTC balance."""
    ex = create_exchange("sim", "binance", sim.url, sim.api_key, sim.api_secret)
    try:
        orders = await ex.fetch_open_orders(SYMBOL)
        balance = await ex.fetch_balance()
    finally:
        await ex.close()
    return orders, Decimal(str(balance["total"]["BTC"]))


async def started(settings: SimSettings) -> SimServer:
    """A sim on a free loopback port (logging reset first: an earlier test may have closed its stream)."""
    configure_logging("warning", "json", (), stream=io.StringIO())
    return await start_sim(settings, port=0)
