"""Restart safety with real `mmbot run` processes against a separately started sim: a latched kill
survives a restart until `mmbot reset-kill`; after `kill -9` mid-run a restart books every fill once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.config import load_settings
from bot.live.journal import journal_for
from bot.sim.server import SimServer
from bot.venue.connect import create_exchange
from tests.live.conftest import START_BTC, SYMBOL, bot_overrides, fast_sim, run_bot, started, venue_view


def _config(sim: SimServer, state_dir: Path, path: Path, **risk: Any) -> Path:
    risk_lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in risk.items())
    path.write_text(
        "[venue]\nkind = \"sim\"\n"
        f"url = {json.dumps(sim.url)}\nsymbols = [\"{SYMBOL}\"]\n"
        "[strategy]\nmodel = \"linear\"\nhalf_spread = 0.02\nskew = 5.0\n"
        f"[risk]\nmax_position = 0.05\nstate_dir = {json.dumps(str(state_dir))}\n{risk_lines}"
        "[execution]\norder_size = 0.002\norders_per_second = 20\nrequote_ticks = 1\nreconcile_interval = 1.0\n"
        "[logging]\nformat = \"json\"\ninventory_interval = 1.0\n",
        encoding="utf-8",
    )
    return path


def _env() -> dict[str, str]:
    """No MMBOT_ settings of ours but a free ops port; keys never in the file: the sim's documented local
    account is what a sim venue without keys uses, and it is the account of these sims."""
    return {k: v for k, v in os.environ.items() if not k.startswith("MMBOT_")} | {"MMBOT_OPS__PORT": "0"}


async def _mmbot(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", *args, env=_env(),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def _start_until(config: Path, event: str, count: int = 1) -> tuple[asyncio.subprocess.Process, list[str]]:
    """Start `mmbot run` and read its log until ``count`` lines of ``event``."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", "--config", str(config),
                                                env=_env(), stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    lines: list[str] = []
    seen = 0
    while seen < count:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line, f"mmbot run ended before {count} x {event}"
        lines.append(line.decode())
        if f'"event": "{event}"' in lines[-1]:
            seen += 1
    return proc, lines


def _events(text: str, name: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        if line.startswith("{") and f'"event": "{name}"' in line:
            out.append(json.loads(line))
    return out


async def test_sigusr1_kill_latches_across_restarts_until_reset(tmp_path: Path) -> None:
    sim = await started(fast_sim(seed=31))
    config = _config(sim, tmp_path / "var", tmp_path / "bot.toml")
    try:
        proc, _ = await _start_until(config, "order_placed")
        proc.send_signal(signal.SIGUSR1)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 1, err.decode()
        assert "kill switch: manual: SIGUSR1" in out.decode()
        assert _events(out.decode(), "kill_switch")[0]["reason"] == "manual: SIGUSR1"
        open_orders, _ = await venue_view(sim)
        assert not [o for o in open_orders if o["clientOrderId"].startswith("mmbot-")]

        code, out2, err2 = await _mmbot("run", "--config", str(config), "--duration", "2")
        assert code == 2 and "order_placed" not in out2
        assert err2.count("\n") == 1 and err2.startswith("mmbot: kill switch latched at ")
        assert "manual: SIGUSR1" in err2 and "mmbot reset-kill" in err2

        code, out3, _ = await _mmbot("reset-kill", "--config", str(config))
        assert code == 0 and "cleared" in out3 and "manual: SIGUSR1" in out3
        code, out4, err4 = await _mmbot("run", "--config", str(config), "--duration", "2")
        assert code == 0, err4
        assert '"event": "order_placed"' in out4
    finally:
        await sim.stop()


async def _venue_orders_and_trades(sim: SimServer) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    ex = create_exchange("sim", "binance", sim.url, sim.api_key, sim.api_secret)
    try:
        orders = await ex.fetch_orders(SYMBOL, limit=1000)
        trades = await ex.fetch_my_trades(SYMBOL, limit=1000)
    finally:
        await ex.close()
    return orders, trades


async def test_kill_9_then_restart_books_every_fill_once_and_leaves_no_duplicates(tmp_path: Path) -> None:
    sim = await started(fast_sim(seed=32))
    config = _config(sim, tmp_path / "var", tmp_path / "bot.toml")
    try:
        proc, first = await _start_until(config, "fill", count=3)
        assert proc.stdout is not None
        while '"event": "order_placed"' not in first[-1]:  # kill right after an order went in
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert line, "mmbot run ended early"
            first.append(line.decode())
        proc.kill()  # SIGKILL: no shutdown, orders stay resting and may fill while the bot is down
        await proc.wait()
        # usually some are still resting (the fast market may fill them first: then they are caught up)
        left_resting = [o for o in (await venue_view(sim))[0] if o["clientOrderId"].startswith("mmbot-")]
        code, out, err = await _mmbot("run", "--config", str(config), "--duration", "4")
        assert code == 0, err
        open_orders, btc = await venue_view(sim)
        orders, trades = await _venue_orders_and_trades(sim)
    finally:
        await sim.stop()
    assert _events(out, "journal_restored")  # the second run started from the journal
    summary = _events(out, "summary")[0]
    assert Decimal(summary["q_exact"]) == btc - START_BTC  # no fill lost, none counted twice
    assert Decimal(summary["venue_base_delta"]) == Decimal(summary["q_exact"])
    assert summary["venue_base_delta"] == summary["q_exact"]  # and they print the same (normalized)
    ours = [o for o in orders if str(o.get("clientOrderId")).startswith("mmbot-")]
    cids = [o["clientOrderId"] for o in ours]
    assert len(cids) == len(set(cids))  # no client id reused across the two runs
    assert not [o for o in open_orders if o["clientOrderId"].startswith("mmbot-")]
    # the leftovers of the killed run were settled (cancelled, or filled while the bot was down and
    # caught up) before the new run placed anything
    lines = out.splitlines()
    first_new = next(i for i, line in enumerate(lines) if '"event": "order_placed"' in line)
    caught_up = next(i for i, line in enumerate(lines) if '"event": "journal_caught_up"' in line)
    assert caught_up < first_new
    cancelled = [i for i, line in enumerate(lines) if '"event": "leftover_orders_canceled"' in line]
    assert all(i < first_new for i in cancelled)
    settled = {o["clientOrderId"]: o["status"] for o in ours}
    assert all(settled[o["clientOrderId"]] in ("canceled", "closed") for o in left_resting)
    # each of the venue's trades on this account was booked exactly once over the two runs
    booked = {e["trade_id"] for e in _events("".join(first), "fill")} | {e["trade_id"] for e in _events(out, "fill")}
    assert {str(t["id"]) for t in trades} >= booked
    assert summary["fills"] == len(trades)


async def test_position_beyond_a_lowered_limit_kills_at_restart(tmp_path: Path) -> None:
    """The journal carries q into the next run; a limit below it is a breach (as if a race got through)."""
    sim = await started(fast_sim(seed=33, sell_fraction=0.0))
    state = {"state_dir": str(tmp_path / "var")}
    try:
        first = await run_bot(bot_overrides(sim, risk=state), duration=3.0)
        q = first.summary.symbols[0].q
        assert q < 0, "the one-sided flow did not move the position"
        second = await run_bot(bot_overrides(sim, risk={**state, "max_position": abs(q) / 2}), duration=10.0)
        open_orders, btc = await venue_view(sim)
    finally:
        await sim.stop()
    reason = second.summary.kill_reason
    assert reason is not None and "beyond the limit" in reason, reason
    assert second.summary.open_orders_left == 0
    journal = journal_for(load_settings(None, bot_overrides(sim, risk=state)))
    try:
        latched = journal.active_kill()
    finally:
        journal.close()
    assert latched is not None and latched.reason == reason  # latched like every other trigger
    assert not [o for o in open_orders if o["clientOrderId"].startswith("mmbot-")]
    assert second.summary.symbols[0].q_exact == btc - START_BTC


async def test_an_order_whose_ack_was_lost_is_found_by_client_id_and_its_fills_booked(tmp_path: Path) -> None:
    """The journal holds an order sent just before a crash (no venue id): it did reach the venue and traded."""
    sim = await started(fast_sim(seed=34))
    overrides = bot_overrides(sim, risk={"state_dir": str(tmp_path)})
    journal = journal_for(load_settings(None, overrides))
    journal.set_baseline(SYMBOL, "BTC", START_BTC)  # as the earlier run recorded it
    journal.order_sent("mmbot-lost-1", SYMBOL, "buy", 31000.0, 0.001)  # written, then the process died
    journal.close()
    ex = create_exchange("sim", "binance", sim.url, sim.api_key, sim.api_secret)
    try:
        await ex.load_markets()
        await ex.create_order(SYMBOL, "limit", "buy", 0.001, 31000.0, {"clientOrderId": "mmbot-lost-1"})
    finally:
        await ex.close()
    try:
        run = await run_bot(overrides, duration=2.0)
        _open, btc = await venue_view(sim)
    finally:
        await sim.stop()
    caught = run.events("journal_caught_up")
    assert caught and caught[0]["new_fills"] >= 1  # the lost order's trades are ours
    s = run.summary.symbols[0]
    assert s.q_exact == btc - START_BTC and s.venue_base_delta == s.q_exact
    assert not run.events("inventory_drift")
