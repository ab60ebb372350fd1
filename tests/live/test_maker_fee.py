"""The maker fee at start-up: asked of the venue through the adapter, resolved against the config and the
ccxt market, reported once (``maker_fee``), warned about once when the configured spread is below the fee
floor (``spread_below_fee_floor``), and the quotes floored from the first one on."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import ccxt
import pytest
from pydantic import SecretStr

from bot.config import load_settings
from bot.core.fees import MakerFee
from bot.core.quote import MarketRules
from bot.core.strategy import StrategyParams
from bot.live.makerfee import MARKET_NOTE, NO_BOOK_NOTE, UNKNOWN_NOTE, fee_report, resolve_fee
from bot.sim.settings import DEFAULT_API_KEY, DEFAULT_API_SECRET, AccountSpec
from bot.venue.adapters import BinanceSpotAdapter, CcxtAdapter, PaperAdapter
from tests.live.conftest import SYMBOL, bot_overrides, fast_sim, run_bot, started

MARKET = {"id": "BTCUSDT", "symbol": SYMBOL, "maker": 0.001, "precision": {"price": 0.01, "amount": 0.00001},
          "limits": {"amount": {"min": 0.00001}, "cost": {"min": 5.0}}}


class Recorder:
    """A logger that keeps (level, event, fields)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.lines.append(("info", event, fields))

    def warning(self, event: str, **fields: Any) -> None:
        self.lines.append(("warning", event, fields))


class Commission:
    """An exchange whose commission endpoint answers ``body`` (or raises it) and counts the calls."""

    def __init__(self, body: Any) -> None:
        self.body = body
        self.calls: list[dict[str, Any]] = []

    async def private_get_account_commission(self, params: dict[str, Any]) -> Any:
        self.calls.append(params)
        if isinstance(self.body, BaseException):
            raise self.body
        return self.body


async def once(what: str, call: Any) -> Any:
    """A retry that does not retry."""
    return await call()


class Flaky(Commission):
    """A commission endpoint that answers 503 ``failures`` times, then ``body``."""

    def __init__(self, body: Any, failures: int) -> None:
        super().__init__(body)
        self.failures = failures

    async def private_get_account_commission(self, params: dict[str, Any]) -> Any:
        if self.failures:
            self.failures -= 1
            self.calls.append(params)
            raise ccxt.ExchangeNotAvailable("binance 503 Service Unavailable")
        return await super().private_get_account_commission(params)


def settings(**strategy: Any) -> Any:
    return load_settings(None, {"venue": {"symbols": [SYMBOL]}, "strategy": {"model": "linear", **strategy},
                                "execution": {"order_size": 0.002}}).for_symbol(SYMBOL)


# -- adapters -------------------------------------------------------------------------------------
async def test_binance_adapter_reads_standard_plus_tax_maker_rate() -> None:
    ex = Commission({"symbol": "BTCUSDT", "standardCommission": {"maker": "0.00075000", "taker": "0.001"},
                     "taxCommission": {"maker": "0.00005000", "taker": "0"},
                     "discount": {"enabledForAccount": True, "discount": "0.75000000"}})
    rate = await BinanceSpotAdapter().maker_fee(ex, SYMBOL, MARKET)
    assert rate == pytest.approx(0.0008)  # the BNB discount is not applied
    assert ex.calls == [{"symbol": "BTCUSDT"}]


@pytest.mark.parametrize("body", [{}, {"standardCommission": {"maker": "x"}}, [], {"standardCommission": None}])
async def test_binance_adapter_refuses_an_unreadable_answer(body: Any) -> None:
    with pytest.raises(ValueError, match="unreadable commission answer"):
        await BinanceSpotAdapter().maker_fee(Commission(body), SYMBOL, MARKET)


async def test_generic_adapter_has_no_account_rate_and_paper_charges_its_own() -> None:
    assert await CcxtAdapter().maker_fee(Commission({}), SYMBOL, MARKET) is None
    paper = SimpleNamespace(settings=SimpleNamespace(maker_fee=-0.0001))
    assert await PaperAdapter().maker_fee(paper, SYMBOL, MARKET) == -0.0001


# -- resolution -----------------------------------------------------------------------------------
async def test_the_config_wins_and_the_venue_is_not_asked() -> None:
    ex, log = Commission({"standardCommission": {"maker": "0.001"}}), Recorder()
    fee = await resolve_fee(BinanceSpotAdapter(), ex, settings(maker_fee=-1.0), MARKET, log, once)
    assert fee == MakerFee(-0.0001, "config") and ex.calls == [] and log.lines == []


async def test_the_venue_rate_beats_the_market_table() -> None:
    ex = Commission({"standardCommission": {"maker": "0.00020000"}, "taxCommission": {"maker": "0"}})
    fee = await resolve_fee(BinanceSpotAdapter(), ex, settings(), MARKET, Recorder(), once)
    assert fee == MakerFee(0.0002, "venue")


@pytest.mark.parametrize("error", [ccxt.ExchangeError("binance {\"code\":-1000}"), ccxt.RequestTimeout("")])
async def test_a_failed_venue_is_logged_and_falls_back(error: BaseException) -> None:
    log = Recorder()
    fee = await resolve_fee(BinanceSpotAdapter(), Commission(error), settings(), MARKET, log, once)
    assert fee == MakerFee(0.001, "market")
    ((level, event, fields),) = log.lines
    assert (level, event) == ("warning", "maker_fee_unavailable")
    assert fields["error"] == type(error).__name__ and fields["fallback"] == "market" and fields["detail"]
    no_maker = {k: v for k, v in MARKET.items() if k != "maker"}
    fee = await resolve_fee(BinanceSpotAdapter(), Commission(error), settings(), no_maker, log, once)
    assert fee == MakerFee(0.0, "unknown") and log.lines[-1][2]["fallback"] == "unknown"


async def test_a_transient_venue_failure_is_retried_before_falling_back() -> None:
    """A 503 at start-up is retried (the service's start-up backoff): the account's rate, not the market table's
    default tier, floors the quotes."""
    async def retry_transient(what: str, call: Any) -> Any:
        for _ in range(5):
            try:
                return await call()
            except ccxt.NetworkError:
                continue
        return await call()

    ex, log = Flaky({"standardCommission": {"maker": "0"}, "taxCommission": {"maker": "0"}}, failures=2), Recorder()
    fee = await resolve_fee(BinanceSpotAdapter(), ex, settings(), MARKET, log, retry_transient)
    assert fee == MakerFee(0.0, "venue") and len(ex.calls) == 3 and log.lines == []


# -- the report -----------------------------------------------------------------------------------
def params(fee: float, **strategy: Any) -> StrategyParams:
    return StrategyParams.from_settings(settings(**strategy), MarketRules.from_ccxt_market(MARKET), fee)


def test_report_below_the_floor_says_what_is_quoted_instead() -> None:
    fee = MakerFee(0.001, "venue")
    report = fee_report(params(fee.rate, half_spread=0.02), fee, 29999.99, 30000.01)
    floor = 30000.0 * 0.001 / 0.999
    assert report.event == {"maker_fee_bps": 10.0, "source": "venue", "min_edge_bps": 0.0, "mid": 30000.0,
                            "fee_floor": round(floor, 4)}
    warning = report.warning
    assert warning is not None
    assert warning["configured_half_spread"] == 0.02 and warning["fee_floor"] == round(floor, 4)
    assert warning["quoting_half_spread"] == round(floor, 4)
    assert warning["bid"] == 29969.96 and warning["ask"] == 30030.04  # the floor, rounded outward to the tick


def test_report_clears_a_spread_above_the_floor_and_a_rebate_lowers_it() -> None:
    fee = MakerFee(-0.0001, "config")
    report = fee_report(params(fee.rate, half_spread=0.02, maker_fee=-1.0, min_edge=0.5), fee, 29999.99, 30000.01)
    assert report.warning is None
    assert report.event["fee_floor"] == 0.0 and report.event["maker_fee_bps"] == -1.0  # edge 0.5 bp < rebate 1 bp


def test_report_notes_an_unknown_fee_a_market_fee_and_a_missing_book() -> None:
    unknown = fee_report(params(0.0), MakerFee(0.0, "unknown"), 29999.99, 30000.01)
    assert unknown.event["note"] == UNKNOWN_NOTE and "strategy.maker_fee" in UNKNOWN_NOTE
    market = fee_report(params(0.001, half_spread=40.0), MakerFee(0.001, "market"), None, 30000.01)
    assert market.event["note"] == f"{MARKET_NOTE}; {NO_BOOK_NOTE}" and market.warning is None
    assert "fee_floor" not in market.event and "mid" not in market.event


# -- the live service on the sim ------------------------------------------------------------------
def _sim(maker_fee: str) -> Any:
    sim = fast_sim()
    sim.accounts = [AccountSpec(api_key=DEFAULT_API_KEY, api_secret=SecretStr(DEFAULT_API_SECRET),
                                maker_fee=Decimal(maker_fee), taker_fee=Decimal("0.001"))]
    return sim


async def test_service_floors_at_the_venues_fee_and_warns_once() -> None:
    sim = await started(_sim("0.001"))
    try:
        run = await run_bot(bot_overrides(sim), duration=2.0)
    finally:
        await sim.stop()
    (fee,) = run.events("maker_fee")
    assert fee["source"] == "venue" and fee["maker_fee_bps"] == 10.0 and fee["min_edge_bps"] == 0.0
    floor = fee["fee_floor"]
    assert floor == pytest.approx(fee["mid"] * 0.001 / 0.999, abs=0.0001)
    (warning,) = run.events("spread_below_fee_floor")
    assert warning["level"] == "warning" and warning["configured_half_spread"] == 0.02
    assert warning["quoting_half_spread"] == floor
    quotes = run.events("quote")
    assert quotes and all(q["half_spread"] >= floor - 0.0001 for q in quotes)
    assert all(q["fee_floor"] == pytest.approx(q["reservation"] * 0.001 / 0.999, abs=0.0001) for q in quotes)
    assert run.service.runs[0].maker_fee == MakerFee(0.001, "venue")
    assert not run.events("maker_fee_unavailable")


async def test_service_with_a_configured_fee_does_not_warn_when_the_spread_clears_it() -> None:
    sim = await started(_sim("0.001"))
    try:
        run = await run_bot(bot_overrides(sim, strategy={"maker_fee": 0.0}), duration=1.5)
    finally:
        await sim.stop()
    (fee,) = run.events("maker_fee")
    assert fee["source"] == "config" and fee["maker_fee_bps"] == 0.0 and fee["fee_floor"] == 0.0
    assert not run.events("spread_below_fee_floor")
    assert run.summary.symbols and run.events("quote")
