"""The sim's ``GET /api/v3/account/commission`` through unmodified ccxt: Binance's payload, the account's
own maker/taker rates, signed, weight 20."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt
import pytest
from pydantic import SecretStr

from bot.sim.server import start_sim
from bot.sim.settings import DEFAULT_API_KEY, DEFAULT_API_SECRET, AccountSpec
from bot.venue.connect import create_exchange

from .conftest import fast_settings


async def test_commission_answers_binance_payload(client: Any) -> None:
    body = await client.private_get_account_commission({"symbol": "BTCUSDT"})
    assert body["symbol"] == "BTCUSDT"
    assert set(body) == {"symbol", "standardCommission", "taxCommission", "discount"}
    standard, tax = body["standardCommission"], body["taxCommission"]
    assert standard == {"maker": "0.00100000", "taker": "0.00100000", "buyer": "0.00000000", "seller": "0.00000000"}
    assert set(tax) == {"maker", "taker", "buyer", "seller"} and all(Decimal(v) == 0 for v in tax.values())
    assert body["discount"]["enabledForAccount"] is False and body["discount"]["discountAsset"] == "BNB"


async def test_commission_is_the_accounts_own_rates() -> None:
    accounts = [AccountSpec(api_key=DEFAULT_API_KEY, api_secret=SecretStr(DEFAULT_API_SECRET),
                            maker_fee=Decimal("0.00025"), taker_fee=Decimal("0.00075"))]
    server = await start_sim(fast_settings().model_copy(update={"accounts": accounts}))
    ex = create_exchange("sim", "binance", server.url, server.api_key, server.api_secret)
    try:
        body = await ex.private_get_account_commission({"symbol": "ETHUSDT"})
        assert body["symbol"] == "ETHUSDT"
        assert body["standardCommission"]["maker"] == "0.00025000"
        assert body["standardCommission"]["taker"] == "0.00075000"
    finally:
        await ex.close()
        await server.stop()


async def test_commission_is_signed_weighted_and_checks_the_symbol(client: Any, sim: Any) -> None:
    await client.private_get_account_commission({"symbol": "BTCUSDT"})
    used = int(client.last_response_headers["X-MBX-USED-WEIGHT-1M"])
    await client.private_get_account_commission({"symbol": "BTCUSDT"})
    now = int(client.last_response_headers["X-MBX-USED-WEIGHT-1M"])
    assert now - used == 20 or now == 20  # 20 more in the same weight window, or a new window's first 20
    with pytest.raises(ccxt.BadSymbol):
        await client.private_get_account_commission({"symbol": "NOPEUSDT"})
    with pytest.raises(ccxt.BadRequest):
        await client.private_get_account_commission({})
    anonymous = create_exchange("sim", "binance", sim.url, "", "")
    try:
        with pytest.raises(ccxt.AuthenticationError):
            await anonymous.private_get_account_commission({"symbol": "BTCUSDT"})
    finally:
        await anonymous.close()
