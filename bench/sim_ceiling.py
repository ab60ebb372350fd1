"""7. The simulated exchange's own ceiling: depth diffs per second served to one client while matching.

The sim (this process) runs BTC/USDT with a 20 us clock (faster than it can serve), every level
refreshed at 2000/s and 200 takers per second matching against the background, so there is a book
change on nearly every step and the sim runs flat out; one raw
WebSocket client (``bench.wsclient``, its own process, reading only the ids) counts the diffs it receives.
``U``/``u`` contiguity is checked, so a diff dropped by a slow client would show up as a gap.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import QUICK, Child, one_symbol, pin, sim_settings, unpin
from bot.sim.server import start_sim

STEP = 0.00002


async def run(seconds: float | None = None) -> dict[str, Any]:
    seconds = seconds or (1.0 if QUICK else 5.0)
    settings = sim_settings(step_interval=STEP, symbols=one_symbol(refresh_rate=2000.0, taker_rate=200.0))
    tmp = Path(tempfile.mkdtemp(prefix="bench-simceiling-"))
    sim = await start_sim(settings)
    trades0 = sim.exchange.by_name["BTC/USDT"].stats.count
    client = await Child.start(
        "bench.wsclient", [sim.ws_url, "btcusdt@depth", str(seconds), str(tmp / "client.json")], tmp / "client.log", tmp
    )
    pin(0, {0})
    pin(client.proc.pid, {1})
    t0, cpu0 = time.monotonic(), time.process_time()
    try:
        code = await client.proc.wait()
    finally:
        unpin(0)
        t1, cpu1 = time.monotonic(), time.process_time()
        trades = sim.exchange.by_name["BTC/USDT"].stats.count - trades0
        await sim.stop()
    if code != 0:
        raise RuntimeError(f"client exited {code}:\n" + client.tail())
    res = json.loads((tmp / "client.json").read_text())
    return {
        "msgs_per_s": res["messages"] / res["seconds"],
        "messages": res["messages"],
        "seconds": res["seconds"],
        "gaps": res["gaps"],
        "trades_per_s": trades / (t1 - t0),
        "sim_cpu_fraction": (cpu1 - cpu0) / (t1 - t0),
    }
