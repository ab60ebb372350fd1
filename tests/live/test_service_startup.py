"""Start-up checks and clean-up against the simulated exchange."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import SecretStr

from bot.config import load_settings
from bot.errors import UserError
from bot.live.service import Service
from bot.sim.settings import AccountSpec
from bot.venue.connect import create_exchange
from tests.live.conftest import SYMBOL, bot_overrides, fast_sim, run_bot, started, venue_view


async def test_too_little_balance_is_a_user_error() -> None:
    settings = fast_sim()
    settings.accounts = [AccountSpec(api_key="poor", api_secret=SecretStr("poor-secret"),
                                     balances={"USDT": Decimal(10), "BTC": Decimal(0)})]
    sim = await started(settings)
    try:
        service = Service(load_settings(None, bot_overrides(sim)), duration=1.0)
        with pytest.raises(UserError) as exc:
            await service.run()
    finally:
        await sim.stop()
    (line,) = exc.value.lines
    assert line.startswith("balance too low to quote:") and "BTC" in line and "USDT" in line


async def test_leftover_orders_with_our_prefix_are_cancelled_and_others_kept() -> None:
    sim = await started(fast_sim())
    ex = create_exchange("sim", "binance", sim.url, sim.api_key, sim.api_secret)
    try:
        await ex.load_markets()
        ours = await ex.create_order(SYMBOL, "limit", "buy", 0.002, 29000.0, {"clientOrderId": "mmbot-old-1"})
        other = await ex.create_order(SYMBOL, "limit", "buy", 0.002, 29000.0, {"clientOrderId": "manual-1"})
        run = await run_bot(bot_overrides(sim), duration=2.0)
        open_orders, _btc = await venue_view(sim)
        await ex.cancel_order(other["id"], SYMBOL)
    finally:
        await ex.close()
        await sim.stop()
    ids = {o["clientOrderId"] for o in open_orders}
    assert "manual-1" in ids  # not ours: left alone
    assert ours["clientOrderId"] not in ids
    assert run.events("leftover_orders_canceled")[0]["count"] == 1
