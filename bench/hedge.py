"""9. Hedge reaction: a spot fill on the wire -> the hedge order on the wire, on loopback.

The simulated exchange runs in this process with still markets (BTC/USDT and its perpetual BTC/USDT:USDT: no
volatility, takers, basis moves or resizes); the bot runs as a child process (``python -m bot run``) quoting
BTC/USDT 2 ticks either side of the mid, inside the background's 5, with the hedge leg on (band 0, cooldown 0,
its timer at 60 s: every spot fill is hedged at once, and only the fill wakes it). Each round a second account
takes exactly the bot's order on one side (alternately its bid and its ask, where it rests alone at the best
price) with a MARKET order placed straight in
the engine, and the benchmark stamps ``perf_counter_ns`` just before the sim publishes the resulting events (the
bot's execution report on its spot user stream). The end stamp is taken when the bot's hedge order reaches the
perpetual's order handler (``POST /fapi/v1/order``, after its parsing and signature check: the first call only
a new futures order makes, the reject-fault check), on the same clock.

``spot_fill_to_hedge_ms``: p50/p99/max over the rounds (goal p50 <= 2 ms). The path: the sim's send, loopback,
ccxt's user-stream parsing, the fill intake booking the fill (journal row first), the leg's wake-up and decision,
the order's journal row, ccxt binanceusdm building and signing the REST request, loopback, aiohttp parsing.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bench.common import QUICK, REPO, dist, one_symbol, sim_settings, wait_until
from bench.reaction import _nudge
from bot.sim.server import start_sim
from bot.sim.settings import DEFAULT_API_KEY, DEFAULT_API_SECRET, AccountSpec, PerpSpec

TAKER_KEY = "bench-taker"
LOTS = 200  # 0.002 BTC at the spot lot of 0.00001: the bot's order size

CONFIG = """
[venue]
kind = "sim"
url = "{url}"
symbols = ["BTC/USDT"]

[strategy]
model = "linear"
half_spread = 0.02
skew = 0.0
use_estimators = false

[risk]
stale_after = 30.0
max_position = 1.0
state_dir = "{state}"
dead_man_seconds = 0

[execution]
order_size = 0.002
requote_ticks = 0
orders_per_second = 10000.0
max_order_age = 3600.0
reconcile_interval = 5.0

[logging]
level = "info"
format = "json"
inventory_interval = 5.0

[ops]
enabled = false

[hedge]
enabled = true
kind = "sim"
band = 0.0
cooldown = 0.0
interval = 60.0
max_position = 1.0
max_unhedged = 1.0
unhedged_seconds = 3600.0
"""


def _settings() -> Any:
    still = {"volatility": 0.0, "taker_rate": 0.0, "refresh_rate": 0.0, "half_spread": 5, "level_spacing": 1}
    accounts = [
        AccountSpec(api_key=DEFAULT_API_KEY, api_secret=SecretStr(DEFAULT_API_SECRET), maker_fee=Decimal(0),
                    taker_fee=Decimal("0.001")),
        AccountSpec(api_key=TAKER_KEY, api_secret=SecretStr("bench-taker-secret"),
                    balances={"USDT": Decimal(10**7), "BTC": Decimal(1000)}),
    ]
    perp = PerpSpec(base="BTC", quote="USDT", spot="BTC/USDT", mid=Decimal(30000), basis_volatility=0.0,
                    taker_rate=0.0, refresh_rate=0.0, half_spread=5, level_spacing=1)
    return sim_settings(step_interval=0.05, symbols=one_symbol(**still), accounts=accounts,
                        perps={"BTC/USDT:USDT": perp})


async def run(rounds: int | None = None, settle: float = 0.25) -> dict[str, Any]:
    rounds = rounds or (20 if QUICK else 300)
    sim = await start_sim(_settings())
    perp = sim.perp
    assert perp is not None
    tmp = Path(tempfile.mkdtemp(prefix="bench-hedge-"))
    state: dict[str, Any] = {"armed": False, "t0": 0, "hedges": 0}
    spans: list[int] = []
    reject_order = perp.faults.reject_order

    def stamped_reject_order() -> bool:
        now = time.perf_counter_ns()
        state["hedges"] += 1
        if state["armed"]:
            state["armed"] = False
            spans.append(now - state["t0"])
        return reject_order()

    perp.faults.reject_order = stamped_reject_order  # type: ignore[method-assign]
    engine = sim.exchange
    sym = engine.by_name["BTC/USDT"]
    bot_acct, taker = engine.ledger.accounts["user1"], engine.account_by_key(TAKER_KEY)
    assert taker is not None

    def alone(side: str) -> bool:
        """The bot's order on ``side`` is the best price of its side, with nobody else at that price (a taker
        of exactly its size trades with it alone)."""
        best = sym.book.best(side)
        ours = [o for o in engine.open_orders(bot_acct, sym.id) if o.side == side]
        return len(ours) == 1 and ours[0].price == best and sym.book.qty[side].get(best, 0) == ours[0].remaining

    def quoting() -> bool:
        return len(engine.open_orders(bot_acct, sym.id)) == 2 and (alone("BUY") or alone("SELL"))

    config = tmp / "bot.toml"
    config.write_text(CONFIG.format(url=sim.url, state=tmp / "var"))
    log = (tmp / "bot.log").open("wb")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", "--config", str(config),
                                                stdout=log, stderr=asyncio.subprocess.STDOUT, cwd=str(REPO))
    log.close()
    missed = unhedged = 0
    try:
        nudger = asyncio.create_task(_nudge(sym, lambda: quoting() or proc.returncode is not None))
        await wait_until(lambda: quoting() or proc.returncode is not None, 60.0, "the bot to quote")
        nudger.cancel()
        if proc.returncode is not None:
            raise RuntimeError("bot exited:\n" + (tmp / "bot.log").read_text()[-2000:])
        await asyncio.sleep(1.0)
        side = "SELL"
        for i in range(rounds):
            await wait_until(quoting, 10.0, "the bot to rest both sides, one alone at the touch", every=0.002)
            if not alone(side):  # the taker hits the bot's order only (the other side when this one has company)
                side = "BUY" if side == "SELL" else "SELL"
            hedges = state["hedges"]
            mine = len(engine.my_trades(bot_acct, sym.id))
            engine.place_order(taker, sym.id, side, "MARKET", LOTS, 0, "GTC", f"bench-{i}", sim.now_ms())
            state["armed"] = True
            state["t0"] = time.perf_counter_ns()
            sim.dispatch()
            try:
                await wait_until(lambda h=hedges: state["hedges"] > h, 2.0, "the hedge order", every=0.0002)
            except TimeoutError:
                state["armed"] = False
                missed += 1
                if len(engine.my_trades(bot_acct, sym.id)) > mine:
                    unhedged += 1  # the bot's order traded, yet no hedge order came within 2 s
            side = "BUY" if side == "SELL" else "SELL"
            await asyncio.sleep(settle)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 30.0)
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        await sim.stop()
    return {
        "rounds": rounds,
        "missed": missed,
        "missed_after_a_bot_fill": unhedged,
        "spot_fill_to_hedge_ms": dist(spans, 1e-6),
        "clock": "perf_counter_ns in the sim process: publish of the spot fill -> the futures order handler",
    }
