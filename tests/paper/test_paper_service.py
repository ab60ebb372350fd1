"""End to end: the live service on the paper venue, its public feed being the in-process simulator."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from decimal import Decimal
from pathlib import Path

from bot.paper.settings import PaperSettings
from bot.venue.connect import create_exchange
from tests.live.conftest import bot_overrides, fast_sim, run_bot, started


async def test_live_service_gets_paper_fills_from_the_public_trades() -> None:
    sim = await started(fast_sim())
    try:
        overrides = bot_overrides(sim)
        overrides["venue"] = {"kind": "paper", "url": sim.url, "symbols": ["BTC/USDT"]}
        overrides["paper"] = {"maker_fee": 0.0, "balances": {"USDT": 20000.0, "BTC": 0.3}}
        account = sim.exchange.ledger.accounts["user1"]
        before = (dict(account.free), dict(account.locked))
        run = await run_bot(overrides, duration=4.0)
        after = (dict(account.free), dict(account.locked))
    finally:
        await sim.stop()
    assert after == before  # paper orders never reach the simulator's account
    summary = run.summary
    s = summary.symbols[0]
    assert summary.kill_reason is None
    assert s.fills > 0 and run.events("fill")
    assert s.orders_placed > 0 and s.open_orders_left == 0
    exchange = run.service.exchange
    # the paper account's base balance moved by exactly the signed sum of the fills
    fills = await exchange.fetch_my_trades("BTC/USDT")
    signed = sum((t["info"].amount * (1 if t["side"] == "buy" else -1) for t in fills), Decimal(0))
    start = Decimal("0.3")  # the [paper] settings reached the venue
    assert exchange.paper_totals()["BTC"] - start == signed == s.q_exact
    assert s.venue_base_delta == s.q_exact
    assert s.fees == 0.0 and all(t["fee"]["cost"] == 0.0 for t in fills)
    assert abs(s.max_abs_q) <= 0.05 + 1e-12
    assert await exchange.fetch_open_orders("BTC/USDT") == []


async def test_paper_feed_from_a_url_is_keyless_and_settings_reach_the_venue() -> None:
    sim = await started(fast_sim())
    try:
        ex = create_exchange("paper", "binance", sim.url, "ignored", "ignored",
                             paper=PaperSettings(balances={"USDT": 5.0}, maker_fee=0.0))
        try:
            await ex.load_markets()
            assert "BTC/USDT" in ex.markets and not ex.feed.apiKey
            balance = await ex.fetch_balance()
            assert balance["total"] == {"USDT": 5.0}
        finally:
            await ex.close()
    finally:
        await sim.stop()


async def test_mmbot_run_on_the_paper_venue_from_the_command_line(tmp_path: Path) -> None:
    """``mmbot run`` (a real process) with venue.kind = "paper" and the simulator as the public feed."""
    sim = await started(fast_sim())
    try:
        cfg = tmp_path / "paper.toml"
        cfg.write_text(
            f'[venue]\nkind = "paper"\nurl = "{sim.url}"\nsymbols = ["BTC/USDT"]\n'
            '[strategy]\nmodel = "linear"\nhalf_spread = 0.02\nskew = 5.0\n'
            "[risk]\nmax_position = 0.05\nstate_dir = " + json.dumps(str(tmp_path / "var")) + "\n"
            "[execution]\norder_size = 0.002\nrequote_ticks = 1\n"
            "[paper]\nmaker_fee = 0.0\n"  # a 0.1% fee would floor the 0.02 half-spread at 30 USDT: no fills
            '[logging]\nformat = "json"\n',
            encoding="utf-8",
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--config", str(cfg), "--duration", "3",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        await sim.stop()
    text = out.decode()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert "mmbot run summary: paper binance" in text
    assert "open orders left: none (confirmed with the venue)" in text
    fills = int(re.search(r"fills (\d+),", text).group(1))  # type: ignore[union-attr]
    assert fills > 0
    assert "matches" in text and "MISMATCH" not in text
    events = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert any(e.get("event") == "fill" for e in events)
    fee = next(e for e in events if e.get("event") == "maker_fee")  # the paper fill model's fee, floored
    assert fee["source"] == "venue" and fee["maker_fee_bps"] == 0.0
