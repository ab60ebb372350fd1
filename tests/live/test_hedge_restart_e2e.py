"""The hedge leg with real `mmbot run` processes against a separately started sim (spot + perpetual): kill -9 with a
hedge order executed but unanswered, then a restart: the hedge position is the venue's and no hedge is sent
twice; SIGSTOP past the futures countdown: the venue cancels the leg's resting orders by itself."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.sim.server import SimServer
from tests.live.conftest import SYMBOL, started
from tests.live.hedge_helpers import futures_view, hedged_sim, post_perp_faults
from tests.risk.test_restart_e2e import _env, _events


def _config(sim: SimServer, state_dir: Path, path: Path, hedge: dict[str, Any], dead_man: float = 0) -> Path:
    hedge_lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in hedge.items())
    path.write_text(
        "[venue]\nkind = \"sim\"\n"
        f"url = {json.dumps(sim.url)}\nsymbols = [\"{SYMBOL}\"]\n"
        "[strategy]\nmodel = \"linear\"\nhalf_spread = 0.02\nskew = 5.0\n"
        f"[risk]\nmax_position = 0.05\nstate_dir = {json.dumps(str(state_dir))}\ndead_man_seconds = {dead_man}\n"
        "[execution]\norder_size = 0.002\norders_per_second = 20\nrequote_ticks = 1\nreconcile_interval = 1.0\n"
        "[logging]\nformat = \"json\"\nlevel = \"debug\"\ninventory_interval = 1.0\n"
        f"[hedge]\nenabled = true\n{hedge_lines}",
        encoding="utf-8",
    )
    return path


async def _start(config: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", "--config", str(config), *args,
                                                env=_env(), stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)


async def _read_until(proc: asyncio.subprocess.Process, event: str, lines: list[str],
                      limit: float = 40) -> dict[str, Any]:
    assert proc.stdout is not None
    while True:
        line = await asyncio.wait_for(proc.stdout.readline(), limit)
        assert line, f"mmbot run ended before {event}: {''.join(lines[-5:])}"
        lines.append(line.decode())
        if f'"event": "{event}"' in lines[-1]:
            return json.loads(lines[-1])  # type: ignore[no-any-return]


async def test_kill_9_with_a_hedge_unanswered_then_restart_matches_the_venue_and_hedges_nothing_twice(
    tmp_path: Path,
) -> None:
    # the futures leg answers nothing and streams nothing: the first hedge executes at the venue, unanswered
    sim = await started(hedged_sim(seed=61, sell_fraction=1.0,
                                   perp_faults={"slow_ack_ms": 30000, "user_stream_silent": True}))
    hedge = {"band": 0.004, "cooldown": 0.2, "max_position": 0.1, "max_unhedged": 0.05}
    config = _config(sim, tmp_path / "var", tmp_path / "bot.toml", hedge)
    try:
        proc = await _start(config)
        first: list[str] = []
        sent = await _read_until(proc, "hedge_order", first)
        assert sent["side"] == "sell"
        for _ in range(100):  # executed at the venue (the answer is 30 s away)
            _, venue = await futures_view(sim)
            if venue != 0:
                break
            await asyncio.sleep(0.05)
        assert venue == -Decimal(str(sent["amount"]))
        proc.send_signal(signal.SIGKILL)  # mid-hedge: order sent, executed, no ack, no stream event
        await proc.wait()
        assert not _events("".join(first), "hedge_fill")  # the dead run never booked it
        await post_perp_faults(sim, slow_ack_ms=0, user_stream_silent=False)

        proc = await _start(config, "--duration", "6")
        out, err = await asyncio.wait_for(proc.communicate(), 90)
        text = out.decode()
        assert proc.returncode == 0, err.decode()[-2000:]
        started_ev = _events(text, "hedge_started")[0]
        assert Decimal(str(started_ev["position"])) == Decimal(str(started_ev["venue_position"])) <= venue
        assert started_ev["paused"] is None
        caught = [e for e in _events(text, "journal_caught_up") if e.get("leg") == "hedge"]
        assert caught and caught[0]["new_fills"] >= 1  # the unanswered order's fill, booked by the catch-up
        orders = _events(text, "hedge_order")
        assert all(o["side"] == "sell" for o in orders), orders  # spot only grows: a buy would undo a double hedge
        stopped = _events(text, "hedge_stopped")[0]
        _, venue_end = await futures_view(sim)
        assert Decimal(stopped["position"]) == Decimal(stopped["venue_position"]) == venue_end
        q = Decimal(str(_events(text, "summary")[0]["q_exact"]))  # the spot position at the stop ...
        assert q > 0 and abs(q + venue_end) <= Decimal("0.004") + Decimal("0.003")  # ... hedged: band + fill + lot
    finally:
        await sim.stop()


async def test_sigstop_past_the_countdown_the_sim_cancels_the_futures_orders(tmp_path: Path) -> None:
    sim = await started(hedged_sim(seed=62, sell_fraction=1.0))
    # post-only hedges that rest (no taker on the perp) and are not taken for a minute
    hedge = {"band": 0.002, "cooldown": 0.2, "max_position": 0.1, "style": "post_then_take", "post_timeout": 60.0,
             "max_unhedged": 0.05}
    config = _config(sim, tmp_path / "var", tmp_path / "bot.toml", hedge, dead_man=2)
    try:
        proc = await _start(config)
        lines: list[str] = []
        armed = await _read_until(proc, "hedge_started", lines)
        assert armed["instrument"] == "BTC/USDT:USDT"
        assert any('"dead_man_armed"' in line and '"leg": "hedge"' in line for line in lines)
        sent = await _read_until(proc, "hedge_order", lines)
        assert sent["post_only"] is True
        resting: list[dict[str, Any]] = []
        for _ in range(60):
            resting, _ = await futures_view(sim)
            if resting:
                break
            await asyncio.sleep(0.05)
        assert resting, "the post-only hedge should rest"
        proc.send_signal(signal.SIGSTOP)  # frozen: no refresh of the countdown
        try:
            await asyncio.sleep(3.5)  # past the 2 s countdown
            left, _ = await futures_view(sim)
            assert left == []  # the venue cancelled them by itself
        finally:
            proc.send_signal(signal.SIGCONT)
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), 90)
    finally:
        if proc.returncode is None:
            proc.kill()
        await sim.stop()
