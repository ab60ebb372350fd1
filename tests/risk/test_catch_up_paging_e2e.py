"""Restart catch-up past one page of trades: while the bot was down its orders traded more than 1000 times,
one of them an order of unknown fate (sent, then the process died before the venue's answer)."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from bot.config import load_settings
from bot.live.journal import journal_for
from bot.sim.book import BUY, SELL
from bot.sim.settings import AccountSpec
from tests.live.conftest import START_BTC, SYMBOL, bot_overrides, fast_sim, run_bot, started, venue_view

KNOWN, UNKNOWN = 1100, 60  # trades of each order: together more than one myTrades page (1000)


async def test_restart_books_every_trade_of_a_gap_longer_than_one_page(tmp_path: Path) -> None:
    settings = fast_sim(seed=35)
    settings.accounts = [settings.accounts[0], AccountSpec(api_key="other", api_secret=SecretStr("other-secret"))]
    sim = await started(settings)
    overrides = bot_overrides(sim, risk={"state_dir": str(tmp_path)})
    journal = journal_for(load_settings(None, overrides))
    journal.set_baseline(SYMBOL, "BTC", START_BTC)  # as the earlier run recorded it
    sym = sim.exchange.symbol("BTCUSDT")
    price = sym.book.best(BUY) + 1  # inside the spread: the best bid, so the sells below hit it first
    ours, other, now = sim.exchange.ledger.by_key[sim.api_key], sim.exchange.ledger.by_key["other"], sim.now_ms()
    # no await from here to run_bot: nothing else trades meanwhile; another account's 1-lot sells fill
    # each of our two buys in many trades
    for cid, trades in (("mmbot-gap-1", KNOWN), ("mmbot-gap-2", UNKNOWN)):
        journal.order_sent(cid, SYMBOL, "buy", float(price * sym.spec.tick_size), float(trades * sym.spec.step_size))
        order, _ = sim.exchange.place_order(ours, sym.id, BUY, "LIMIT", trades, price, "GTC", cid, now)
        if cid == "mmbot-gap-1":
            journal.order_acked(cid, str(order.id))  # the other one's answer never came
        for i in range(trades):
            sim.exchange.place_order(other, sym.id, SELL, "LIMIT", 1, price, "IOC", f"{cid}-{i}", now)
    journal.close()
    sim.dispatch()
    try:
        run = await run_bot(overrides, duration=1.0)
        _open, btc = await venue_view(sim)
    finally:
        await sim.stop()
    summary = run.summary.symbols[0]
    assert [e["new_fills"] for e in run.events("journal_caught_up")] == [KNOWN + UNKNOWN]  # every page
    assert summary.q_exact == btc - START_BTC == summary.venue_base_delta  # and nothing else: no drift
