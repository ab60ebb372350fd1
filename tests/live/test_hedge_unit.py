"""The hedge leg's shell rules without a venue: the futures account reads, the quoter's hedge wiring (the hedge
pause outlives the watchdog, skew on the net exposure), the service's breach actions."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from bot.config import load_settings
from bot.core.inventory import Inventory
from bot.core.quote import MarketRules
from bot.core.strategy import StrategyParams
from bot.live import hedge_venue
from bot.live.gate import HEDGE, KillSwitch, RiskGate
from bot.live.hedge import instrument_of
from bot.live.market import MarketState
from bot.live.orders import OrderManager, make_throttler
from bot.live.quoter import Quoter
from bot.live.ratelimit import RateGate
from bot.live.service import Service
from bot.logs import get_logger
from bot.risk.hedge import HedgeBreach

SYMBOL = "BTC/USDT"


class Account:
    """The raw futures endpoints as Binance answers them."""

    def __init__(self, rows: list[dict[str, Any]], dual: Any = False) -> None:
        self.rows, self.dual = rows, dual

    async def fapiprivatev3_get_positionrisk(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.rows

    async def fapiprivate_get_positionside_dual(self) -> dict[str, Any]:
        return {"dualSidePosition": self.dual}

    async def fapipublic_get_premiumindex(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"symbol": params["symbol"], "markPrice": "30001.50000000", "indexPrice": "30000.00000000",
                "lastFundingRate": "0.00010000", "nextFundingTime": 1700000000000}

    async def fapiprivate_get_income(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"symbol": "BTCUSDT", "incomeType": "FUNDING_FEE", "income": "-0.0300", "tranId": 9, "time": 20},
                {"symbol": "BTCUSDT", "incomeType": "FUNDING_FEE", "income": "0.0100", "tranId": 8, "time": 10},
                {"symbol": "ETHUSDT", "incomeType": "FUNDING_FEE", "income": "5", "tranId": 7, "time": 5}]


async def test_position_one_way_and_hedge_mode() -> None:
    one_way = Account([{"symbol": "BTCUSDT", "positionAmt": "-0.012", "positionSide": "BOTH"},
                       {"symbol": "ETHUSDT", "positionAmt": "1.000", "positionSide": "BOTH"}])
    assert await hedge_venue.position(one_way, "BTCUSDT") == Decimal("-0.012")
    hedge = Account([{"symbol": "BTCUSDT", "positionAmt": "0.005", "positionSide": "LONG"},
                     {"symbol": "BTCUSDT", "positionAmt": "-0.008", "positionSide": "SHORT"}])
    assert await hedge_venue.position(hedge, "BTCUSDT") == Decimal("-0.003")
    assert await hedge_venue.position(Account([]), "BTCUSDT") == 0
    with pytest.raises(ValueError):
        await hedge_venue.position(Account([{"symbol": "BTCUSDT", "positionAmt": "NaN"}]), "BTCUSDT")


async def test_position_mode_premium_and_funding_reads() -> None:
    assert await hedge_venue.dual_side(Account([], dual=True)) is True
    assert await hedge_venue.dual_side(Account([], dual="false")) is False
    with pytest.raises(ValueError):
        await hedge_venue.dual_side(Account([], dual=None))
    p = await hedge_venue.premium(Account([]), "BTCUSDT")
    assert (p.mark, p.index, p.funding_rate, p.next_funding_ms) == (30001.5, 30000.0, 0.0001, 1700000000000)
    pays = await hedge_venue.funding_since(Account([]), "BTCUSDT", 0)
    assert [(f.income_id, f.amount, f.time_ms) for f in pays] == [("8", 0.01, 10), ("9", -0.03, 20)]


def test_instrument_defaults_to_the_linear_perpetual() -> None:
    assert instrument_of("BTC/USDT", None) == "BTC/USDT:USDT"
    assert instrument_of("ETH/USDC", "ETH/USDT:USDT") == "ETH/USDT:USDT"


class _Venue:
    async def create_order(self, symbol: str, type_: str, side: str, amount: float, price: float,
                           params: dict[str, Any]) -> dict[str, Any]:
        return {"id": params["clientOrderId"], "status": "open", "info": {}}


def _quoter(position: Any = None, hedge_report: Any = None) -> tuple[Quoter, RiskGate]:
    settings = load_settings(None, {"venue": {"kind": "sim", "symbols": [SYMBOL]},
                                    "strategy": {"model": "linear", "half_spread": 0.02, "skew": 5.0}})
    rules = MarketRules(tick=0.01, lot=0.00001)
    params = StrategyParams.from_settings(settings.for_symbol(SYMBOL), rules, 0.0)
    state = MarketState(SYMBOL, estimate=False)
    state.best_bid, state.best_ask, state.updated = 29999.99, 30000.01, 100.0
    log = get_logger(symbol=SYMBOL)
    orders = OrderManager(_Venue(), SYMBOL, "BTCUSDT", "mmbot", make_throttler(10), RateGate(), log,
                          clock=lambda: 100.0)
    gate = RiskGate(KillSwitch())
    quoter = Quoter(SYMBOL, params, state, orders, Inventory("BTC", "USDT"), gate, asyncio.Event(), log,
                    clock=lambda: 100.0, position=position, hedge_report=hedge_report)
    return quoter, gate


def test_the_quoters_watchdog_never_clears_the_hedge_pause() -> None:
    """The hedge leg's pause is the service's to clear (the breach ended), not the quoter's: before, the watchdog
    resumed every pause but the operator's at its next cycle."""
    quoter, gate = _quoter()
    gate.pause(HEDGE, "basis: 80 bps")
    gate.pause("stale", "old book")
    quoter.watchdog(100.0)
    assert HEDGE in gate.pauses and "stale" not in gate.pauses


async def test_skew_on_net_the_quotes_read_the_given_position() -> None:
    decisions: list[Any] = []
    quoter, _ = _quoter(position=lambda: 0.03)
    quoter.on_decision = lambda now, d: decisions.append(d)
    plain, _ = _quoter()
    plain.on_decision = lambda now, d: decisions.append(d)
    await quoter.cycle()
    await plain.cycle()
    skewed, flat = decisions[0].quote, decisions[1].quote
    assert skewed is not None and flat is not None
    assert skewed.reservation < flat.reservation  # long 0.03 (net) skews down; the inventory's q is 0
    assert skewed.reservation == quoter.decide(100.0, 0.03, None).quote.reservation


def test_the_inventory_event_carries_the_hedge_legs_fields() -> None:
    from bot.ops.hedgeview import hedge_event_fields
    from tests.ops.test_hedgeview import State

    quoter, _ = _quoter(hedge_report=lambda: hedge_event_fields(State()))
    fields = quoter.inventory_event("periodic")
    assert fields["hedge_q"] == -0.012 and fields["net_q"] == 0.001 and fields["basis_pnl"] == -0.03
    assert fields["hedge_instrument"] == "BTC/USDT:USDT" and fields["q"] == 0.0
    plain, _ = _quoter()
    assert "hedge_q" not in plain.inventory_event("periodic")


async def test_a_fill_wakes_the_quoter_at_once_and_logs_its_inventory_event_after_the_requests() -> None:
    """The ``inventory`` event of a fill (~0.3 ms of rendering, the hedge's fields included) is logged a few
    event-loop turns after the wake-up, so the requote and the hedge order it causes are written first."""
    events: list[str] = []
    quoter, _ = _quoter(hedge_report=lambda: {})
    quoter.inventory_event = lambda reason: events.append(reason) or {}  # type: ignore[method-assign]
    quoter.on_fill()
    assert quoter.wake.is_set() and events == []
    for _ in range(quoter.orders.entry.wire_turns + 1):
        await asyncio.sleep(0)
    assert events == ["fill"]


class _Leg:
    def __init__(self) -> None:
        self.breaches: dict[str, str] = {}


def test_breach_actions_kill_or_pause_the_spot_symbol_until_cleared() -> None:
    settings = load_settings(None, {"venue": {"kind": "sim", "symbols": [SYMBOL]},
                                    "hedge": {"enabled": True, "on_basis": "pause", "on_unhedged": "kill"}})
    service = Service(settings)
    gate = RiskGate(service.kill)
    leg = _Leg()
    run: Any = type("Run", (), {"symbol": SYMBOL, "gate": gate, "wake": asyncio.Event(), "hedge": leg,
                                "log": get_logger(symbol=SYMBOL)})()
    act = service._breach_action(run)
    leg.breaches = {"basis": "basis 80 bps"}
    act(HedgeBreach("basis", "basis 80 bps"), "pause", True)
    assert gate.pauses[HEDGE] == "basis: basis 80 bps" and not service.kill.tripped
    leg.breaches = {}
    act(HedgeBreach("basis", "cleared"), "pause", False)
    assert HEDGE not in gate.pauses
    act(HedgeBreach("unhedged", "net exposure 0.05 beyond 0.03 for 10.0s"), "kill", True)
    assert service.kill.reason == "hedge: BTC/USDT unhedged: net exposure 0.05 beyond 0.03 for 10.0s"


def test_an_instrument_the_futures_venue_does_not_list_is_one_line() -> None:
    from bot.errors import UserError
    from bot.live.hedge import HedgeLeg

    settings = load_settings(None, {"venue": {"kind": "sim", "symbols": [SYMBOL]}, "hedge": {"enabled": True}})
    venue: Any = type("Venue", (), {"markets": {"ETH/USDT:USDT": {}}})()
    with pytest.raises(UserError, match=r"hedge instrument 'BTC/USDT:USDT' is not listed on the futures venue"):
        HedgeLeg(venue, settings, SYMBOL, lambda: Decimal(0), MarketState(SYMBOL), None,  # type: ignore[arg-type]
                 KillSwitch(), lambda b, a, on: None, get_logger(), make_throttler(10), RateGate())
