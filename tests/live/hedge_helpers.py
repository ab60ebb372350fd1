"""Helpers of the hedge leg's tests: a simulated exchange with the perpetual, an independent view of the futures
account, a HedgeLeg run alone against the sim's /fapi with a spot inventory the test moves."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.config import load_settings
from bot.live import hedge_venue
from bot.live.gate import KillSwitch
from bot.live.hedge import HedgeLeg
from bot.live.journal import Journal
from bot.live.market import MarketState
from bot.live.orders import make_throttler
from bot.live.ratelimit import RateGate, gate_exchange
from bot.logs import configure_logging, get_logger
from bot.risk.hedge import HedgeBreach
from bot.sim.server import SimServer
from bot.sim.settings import PerpFaultSettings, PerpSpec, SimSettings, SymbolSpec
from bot.venue.connect import create_futures_exchange
from tests.live.conftest import SYMBOL, until

PERP = "BTC/USDT:USDT"


def hedged_sim(seed: int = 7, perp_faults: dict[str, Any] | None = None, perp: dict[str, Any] | None = None,
               **spot: Any) -> SimSettings:
    """The fast BTC/USDT market of the e2e tests plus its perpetual (lot 0.001, no basis noise, no takers;
    ``perp`` overrides its spec)."""
    params: dict[str, Any] = {
        "base": "BTC", "quote": "USDT", "mid": Decimal("30000"), "volatility": 2.0, "taker_rate": 30.0,
        "taker_size": 0.004, "level_size": 0.004, "informed_fraction": 0.0,
    }
    params.update(spot)
    spec = PerpSpec(**{"base": "BTC", "quote": "USDT", "spot": SYMBOL, "mid": Decimal("30000"),
                       "step_size": Decimal("0.001"), "taker_rate": 0.0, "basis_volatility": 0.0, "level_size": 0.05,
                       **(perp or {})})
    return SimSettings(seed=seed, step_interval=0.05, symbols={SYMBOL: SymbolSpec(**params)}, perps={PERP: spec},
                       perp_faults=PerpFaultSettings(**(perp_faults or {})))


def futures_client(sim: SimServer) -> Any:
    return create_futures_exchange("sim", "binanceusdm", sim.url, sim.api_key, sim.api_secret)


async def futures_view(sim: SimServer) -> tuple[list[dict[str, Any]], Decimal]:
    """What an independent client sees of the futures account: our open orders on the perp, the position
    (``positionRisk``; the sim's ``position_lag_ms`` applies)."""
    ex = futures_client(sim)
    try:
        await ex.load_markets()
        orders = await ex.fetch_open_orders(PERP)
        pos = await hedge_venue.position(ex, "BTCUSDT")
    finally:
        await ex.close()
    return [o for o in orders if str(o.get("clientOrderId") or "").startswith("mmbot-")], pos


async def post_perp_faults(sim: SimServer, **faults: object) -> None:
    """Set the perpetual's faults now (``POST /admin/perp/faults``)."""
    import aiohttp

    url = f"{sim.url}/admin/perp/faults"
    async with aiohttp.ClientSession() as http, http.post(url, json=faults) as resp:
        assert resp.status == 200, await resp.text()


def events(stream: io.StringIO, name: str) -> list[dict[str, Any]]:
    out = []
    for line in stream.getvalue().splitlines():
        if line.startswith("{") and f'"event": "{name}"' in line:
            out.append(json.loads(line))
    return out


@dataclass
class LegRun:
    """A HedgeLeg alone against the sim; the spot inventory is ``q`` (the test moves it and calls on_spot_fill)."""

    leg: HedgeLeg
    exchange: Any
    journal: Journal
    log: io.StringIO
    kill: KillSwitch
    breaches: list[tuple[HedgeBreach, str, bool]]
    q: list[Decimal] = field(default_factory=lambda: [Decimal(0)])
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def spot_fill(self, amount: str) -> None:
        self.q[0] += Decimal(amount)
        self.leg.on_spot_fill()

    def events(self, name: str) -> list[dict[str, Any]]:
        return events(self.log, name)


async def retrying(what: str, call: Callable[[], Awaitable[Any]]) -> Any:
    return await call()


@contextlib.asynccontextmanager
async def leg_run(sim: SimServer, state_dir: Path, **hedge: Any) -> Any:
    """Start a HedgeLeg on the sim's perp (its tasks running) for spot symbol BTC/USDT at mid 30000."""
    log = io.StringIO()
    settings = load_settings(None, {
        "venue": {"kind": "sim", "url": sim.url, "symbols": [SYMBOL]},
        "risk": {"state_dir": str(state_dir), "dead_man_seconds": 10},
        "execution": {"reconcile_interval": 0.5},
        "hedge": {"enabled": True, **hedge},
    })
    configure_logging("debug", "json", settings.secret_values(), stream=log)
    exchange = futures_client(sim)
    rate = RateGate()
    gate_exchange(exchange, rate)  # as the service does: orders keep the bucket's reserve
    journal = Journal.open(state_dir)
    spot = MarketState(SYMBOL, estimate=False)
    spot.best_bid, spot.best_ask = 29999.99, 30000.01
    kill = KillSwitch()
    breaches: list[tuple[HedgeBreach, str, bool]] = []
    box = [Decimal(0)]
    try:
        await exchange.load_markets()
        leg = HedgeLeg(exchange, settings, SYMBOL, lambda: box[0], spot, journal, kill,
                       lambda b, a, on: breaches.append((b, a, on)), get_logger(symbol=PERP, spot=SYMBOL, leg="hedge"),
                       make_throttler(20), rate)
        run = LegRun(leg, exchange, journal, log, kill, breaches, box)
        await leg.start(retrying)
        run.tasks = [asyncio.create_task(coro, name=name) for name, coro in leg.tasks()]  # type: ignore[arg-type]
        assert await until(lambda: leg.perp.best_bid is not None, 10), "no perp book"
        yield run
    finally:
        for task in run.tasks if "run" in locals() else []:
            task.cancel()
        with contextlib.suppress(Exception):
            await exchange.close()
        journal.close()
