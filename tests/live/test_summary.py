"""The run summary prints decimals so that equal values read the same."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bot.core.display import exact


def test_exact_drops_trailing_zeros_and_never_uses_exponents() -> None:
    assert exact(Decimal("-0.00128990")) == "-0.0012899"
    assert exact(Decimal("10.000")) == "10"
    assert exact(Decimal("0E-8")) == "0"
    assert exact(Decimal("1E-8")) == "0.00000001"


@given(st.decimals(allow_nan=False, allow_infinity=False, places=8, min_value=-10**6, max_value=10**6))
def test_equal_decimals_print_the_same(x: Decimal) -> None:
    rescaled = x.quantize(Decimal("1E-10"))
    assert exact(x) == exact(rescaled)
    assert Decimal(exact(x)) == x


# -- P&L attribution in the summary ---------------------------------------------------------------

def _run(symbol: str, fills: list[tuple[str, float, str, float]], mid: float, tick: float, lot: float) -> object:
    """A stand-in for a SymbolRun with the parts symbol_summary reads."""
    from types import SimpleNamespace

    from bot.core.inventory import Inventory
    from bot.core.quote import MarketRules

    base, quote = symbol.split("/")
    inv = Inventory(base, quote)
    for i, (side, price, amount, fill_mid) in enumerate(fills):
        inv.book(side, price, amount, fee=0.01, fee_currency=quote, mid=fill_mid, t=float(i))  # type: ignore[arg-type]
    inv.markouts.mid(100.0, mid)
    return SimpleNamespace(
        symbol=symbol, inventory=inv, state=SimpleNamespace(mid=mid),
        rules=MarketRules(tick=tick, lot=lot, min_qty=lot, min_notional=0.0),
        orders=SimpleNamespace(placed=3, canceled=1, rejected=0), start_base=None, end_base=None, hedge=None,
    )


def test_the_summary_attributes_the_pnl_per_symbol_and_in_total() -> None:
    from bot.live.orders import OpenCheck
    from bot.live.summary import RunSummary, format_summary, symbol_summary

    check = OpenCheck(left=0, confirmed=True)
    btc = symbol_summary(_run("BTC/USDT", [("buy", 30000.70, "0.002", 30000.72)], 30000.72, 0.01, 0.00001),  # type: ignore[arg-type]
                         check)
    sol = symbol_summary(_run("SOL/USDT", [("sell", 100.02, "1", 100.0), ("buy", 99.99, "2", 100.0)], 100.05,
                              0.01, 0.01), check)  # type: ignore[arg-type]
    for s in (btc, sol):  # the components add up, to the cent of a cent
        assert abs(s.spread_captured + s.inventory_pnl - s.fees - s.total_pnl) <= 2e-4
    assert sol.markouts["60s"] == {"markout": -0.05, "count": 2, "notional": 300.0, "bps": -1.67}
    text = format_summary(RunSummary("sim", 10.0, [btc, sol]))
    assert "marked to mid 30,000.720" in text  # the mid keeps its cents
    total = btc.total_pnl + sol.total_pnl
    line = next(x for x in text.splitlines() if x.startswith("  total USDT across 2 symbols"))
    assert line.endswith(f"total {total:,.4f}")
    assert "fees 0.0300" in line and "60s -0.0500 over 3 fills" in text.splitlines()[text.splitlines().index(line) + 1]


def test_the_summary_shows_the_hedge_leg_and_what_the_venue_said_of_it() -> None:
    from dataclasses import replace
    from types import SimpleNamespace

    from bot.live.orders import OpenCheck
    from bot.live.summary import RunSummary, format_summary, symbol_summary
    from tests.ops.test_hedgeview import State

    run = _run("BTC/USDT", [("buy", 30000.70, "0.012", 30000.72)], 30000.72, 0.01, 0.00001)
    run.hedge = SimpleNamespace(state=State, end_venue_position=Decimal("-0.012"), end_open_orders=0)  # type: ignore[attr-defined]
    s = symbol_summary(run, OpenCheck(left=0, confirmed=True))  # type: ignore[arg-type]
    text = format_summary(RunSummary("sim", 10.0, [s]))
    assert "    hedge in BTC/USDT:USDT: hedging; position -0.012" in text
    assert "    hedge P&L: hedge +0.3000, basis -0.0300" in text
    assert "hedge venue position -0.012: matches; open hedge orders: none (confirmed with the venue)" in text
    assert RunSummary("sim", 1.0, [s]).to_dict()["symbols"][0]["hedge_venue_position"] == "-0.012"

    run.hedge = SimpleNamespace(state=lambda: replace(State(), position=Decimal("-0.010")),  # type: ignore[attr-defined]
                                end_venue_position=Decimal("-0.012"), end_open_orders=None)
    text = format_summary(RunSummary("sim", 10.0, [symbol_summary(run, OpenCheck(left=0, confirmed=True))]))  # type: ignore[arg-type]
    assert "hedge venue position -0.012: MISMATCH; open hedge orders: unknown (the venue did not answer)" in text
    run.hedge = SimpleNamespace(state=State, end_venue_position=None, end_open_orders=2)  # type: ignore[attr-defined]
    text = format_summary(RunSummary("sim", 10.0, [symbol_summary(run, OpenCheck(left=0, confirmed=True))]))  # type: ignore[arg-type]
    assert "venue position unknown (the venue did not answer); OPEN HEDGE ORDERS LEFT: 2" in text
