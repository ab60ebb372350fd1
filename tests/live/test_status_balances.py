"""/status shows each symbol's balances by the bot's accounting: the change since start-up and, for the base,
the venue's balance at start-up plus that change (what the venue should show; not read from it now)."""

from __future__ import annotations

from decimal import Decimal

from bot.core.inventory import Fill, Inventory
from bot.live.telemetry import balances


def test_balances_are_the_accounting_change_and_the_start_balance() -> None:
    inv = Inventory("BTC", "USDT")
    inv.apply(Fill("a", "buy", 30000.72, "0.002", fee=0.0600144, fee_currency="USDT"))
    inv.apply(Fill("b", "sell", 30001.0, "0.001", fee=0.000001, fee_currency="BTC"))
    got = balances(inv, Decimal("1.5"), 0.00001)
    assert got == {
        "BTC": {"change": 0.000999, "venue_at_start": "1.5", "expected": "1.500999"},
        "USDT": {"change": round(-60.00144 - 0.0600144 + 30.001, 4)},
    }
    assert balances(inv, None, 0.00001)["BTC"] == {"change": 0.000999, "venue_at_start": None, "expected": None}
