"""The default markets teach: SOL/USDT is the worked example (mid 100.00, tick 0.01, touch a few ticks out) and a
quote a few ticks from the mid fills every few seconds; informed takers are present; the built-in account pays a
market maker's fees (issue 19, "A default market that teaches")."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import SecretStr

from bot.sim.book import BUY, SELL
from bot.sim.engine import SimExchange
from bot.sim.events import SimError
from bot.sim.settings import DEFAULT_API_KEY, AccountSpec, SimSettings


def fills_per_minute(symbol: str, order: float, ticks: int, minutes: float = 3.0) -> float:
    """One post-only order a side at the mid -/+ ``ticks``, moved every 0.5 s when the mid moved (pure engine, seed
    1; every execution counted, as in bot/sim/settings.py's table)."""
    defaults = SimSettings()
    spec = defaults.symbols[symbol]
    account = AccountSpec(api_key="k", api_secret=SecretStr("s"),
                          balances={spec.quote: Decimal(10**9), spec.base: Decimal(10**6)})
    ex = SimExchange(SimSettings(seed=1, symbols={symbol: spec}, accounts=[account]), 0)
    acct = ex.account_by_key("k")
    assert acct is not None
    sym = ex.by_name[symbol]
    lots, dt = round(Decimal(str(order)) / spec.step_size), defaults.step_interval
    resting: dict[str, int] = {}
    for step in range(round(minutes * 60 / dt)):
        now = step * 100
        if step % 5 == 0:
            centre = sym.market.center()
            for side, price in ((BUY, centre - ticks), (SELL, centre + ticks)):
                order_id = resting.get(side)
                current = ex.orders.get(order_id) if order_id is not None else None
                if current is not None and current.is_open and current.price == price:
                    continue
                if current is not None and current.is_open:
                    ex.cancel_order(acct, sym.id, current.id, None, now)
                try:
                    placed, _ = ex.place_order(acct, sym.id, side, "LIMIT_MAKER", lots, price, "GTC", f"c{step}{side}",
                                               now)
                except SimError:  # post-only and the book crossed that price: try again at the next re-quote
                    continue
                resting[side] = placed.id
        ex.step(dt, now)
    return len(ex.my_trades(acct, sym.id)) / minutes


def test_sol_is_the_worked_example() -> None:
    spec = SimSettings().symbols["SOL/USDT"]
    assert (spec.mid, spec.tick_size, spec.min_notional) == (Decimal(100), Decimal("0.01"), Decimal(5))
    assert 2 <= spec.half_spread <= 5  # the market's touch a few ticks from the mid
    assert spec.informed_fraction > 0  # adverse selection is real


@pytest.mark.parametrize(("symbol", "order", "ticks"), [("SOL/USDT", 1.0, 5), ("BTC/USDT", 0.002, 2)])
def test_the_shipped_quote_fills_every_few_seconds(symbol: str, order: float, ticks: int) -> None:
    """config/sim.toml's quotes (SOL 1 lot at 5 ticks, BTC 0.002 at the 2-tick touch): at least one fill per 10 s."""
    assert fills_per_minute(symbol, order, ticks) >= 6


def test_the_built_in_account_pays_a_market_makers_fees() -> None:
    (account,) = SimSettings().accounts
    assert account.api_key == DEFAULT_API_KEY
    assert (account.maker_fee, account.taker_fee) == (Decimal(0), Decimal("0.001"))
    assert account.balances["SOL"] >= 30  # the 30-lot limit can be sold down from the start
