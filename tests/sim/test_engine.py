"""Pure engine tests: order types, balances, fees, conservation and reproducibility."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from pydantic import SecretStr

from bot.sim.accounts import ATOMS
from bot.sim.engine import HOUSE, SimExchange
from bot.sim.events import BalanceUpdate, ExecReport, SimError
from bot.sim.settings import AccountSpec, SimSettings, SymbolSpec


def _settings(**kw: object) -> SimSettings:
    accounts = [
        AccountSpec(api_key="k1", api_secret=SecretStr("s1")),
        AccountSpec(api_key="k2", api_secret=SecretStr("s2"), maker_fee=Decimal("0.0002"),
                    taker_fee=Decimal("0.0007")),
    ]
    return SimSettings(accounts=accounts, **kw)  # type: ignore[arg-type]


def _quiet() -> SimSettings:
    """One symbol, no takers and no background, so tests control the whole book."""
    spec = SymbolSpec(base="BTC", quote="USDT", taker_rate=0, levels=1, half_spread=5000, volatility=0)
    s = _settings(symbols={"BTC/USDT": spec})
    return s


def _clear_house(ex: SimExchange) -> None:
    sym = ex.symbols["BTCUSDT"]
    for order in list(sym.house_orders.values()):
        ex._cancel(sym, order, "CANCELED")
    ex._seal(sym)


@pytest.fixture
def ex() -> SimExchange:
    ex = SimExchange(_quiet(), 0)
    _clear_house(ex)
    ex.take_events()
    return ex


def acct(ex: SimExchange, key: str):  # type: ignore[no-untyped-def]
    a = ex.account_by_key(key)
    assert a is not None
    return a


def test_limit_rests_and_locks_quote(ex: SimExchange) -> None:
    a = acct(ex, "k1")
    order, fills = ex.place_order(a, "BTCUSDT", "BUY", "LIMIT", 1000, 3000000, "GTC", "c1", 1)
    assert fills == [] and order.status == "NEW"
    locked = 3000000 * 1000 * ex.symbols["BTCUSDT"].k  # 30000 * 0.01 BTC = 300 USDT
    assert locked == 300 * ATOMS
    assert a.locked["USDT"] == locked
    assert a.free["USDT"] == 100000 * ATOMS - locked


def test_fill_at_maker_price_with_fees(ex: SimExchange) -> None:
    maker, taker = acct(ex, "k1"), acct(ex, "k2")
    m, _ = ex.place_order(maker, "BTCUSDT", "SELL", "LIMIT_MAKER", 1000, 3000000, "GTC", "m", 1)
    t, fills = ex.place_order(taker, "BTCUSDT", "BUY", "LIMIT", 400, 3000100, "GTC", "t", 2)
    assert t.status == "FILLED" and m.status == "PARTIALLY_FILLED"
    (f,) = fills
    assert f.price == 30000 * ATOMS and f.qty == 400 * 1000  # 0.004 BTC
    assert f.commission_asset == "BTC" and f.commission == 400 * 1000 * 7 // 10000
    assert not f.is_maker and f.is_buyer
    # the taker's lock at the higher limit price is released to the fill price
    assert taker.locked.get("USDT", 0) == 0
    assert taker.free["USDT"] == 100000 * ATOMS - 120 * ATOMS
    # maker receives 120 USDT minus 0.1% fee
    assert maker.free["USDT"] == 100000 * ATOMS + 120 * ATOMS - 120 * ATOMS // 1000
    (mf,) = ex.my_trades(maker, "BTCUSDT")
    assert mf.is_maker and mf.id == f.id


def test_limit_maker_that_would_take_is_rejected(ex: SimExchange) -> None:
    a = acct(ex, "k1")
    ex.place_order(a, "BTCUSDT", "SELL", "LIMIT", 100, 3000000, "GTC", "s", 1)
    with pytest.raises(SimError) as err:
        ex.place_order(a, "BTCUSDT", "BUY", "LIMIT_MAKER", 100, 3000000, "GTC", "b", 2)
    assert err.value.code == -2010 and err.value.msg == "Order would immediately match and take."


def test_insufficient_balance(ex: SimExchange) -> None:
    a = acct(ex, "k1")
    with pytest.raises(SimError) as err:
        ex.place_order(a, "BTCUSDT", "SELL", "LIMIT", 300001, 3000000, "GTC", "s", 1)  # 3.00001 BTC > 2
    assert err.value.code == -2010 and "insufficient balance" in err.value.msg


def test_ioc_expires_remainder(ex: SimExchange) -> None:
    maker, taker = acct(ex, "k1"), acct(ex, "k2")
    ex.place_order(maker, "BTCUSDT", "SELL", "LIMIT", 100, 3000000, "GTC", "m", 1)
    ex.take_events()
    order, fills = ex.place_order(taker, "BTCUSDT", "BUY", "LIMIT", 300, 3000000, "IOC", "t", 2)
    assert order.status == "EXPIRED" and order.executed == 100 and len(fills) == 1
    assert taker.locked.get("USDT", 0) == 0
    kinds = [(e.exec_type, e.status) for e in ex.take_events() if isinstance(e, ExecReport) and e.account == "user2"]
    assert kinds == [("NEW", "NEW"), ("TRADE", "PARTIALLY_FILLED"), ("EXPIRED", "EXPIRED")]


def test_cancel_unlocks_and_unknown_order(ex: SimExchange) -> None:
    a = acct(ex, "k1")
    order, _ = ex.place_order(a, "BTCUSDT", "SELL", "LIMIT", 100, 3000000, "GTC", "s", 1)
    ex.cancel_order(a, "BTCUSDT", order.id, None, 2)
    assert a.locked["BTC"] == 0 and a.free["BTC"] == 2 * ATOMS
    with pytest.raises(SimError) as err:
        ex.cancel_order(a, "BTCUSDT", order.id, None, 3)
    assert err.value.code == -2011
    with pytest.raises(SimError) as err:
        ex.cancel_all(a, "BTCUSDT", 4)
    assert err.value.code == -2011


def test_market_buy_sweeps_levels(ex: SimExchange) -> None:
    maker, taker = acct(ex, "k1"), acct(ex, "k2")
    ex.place_order(maker, "BTCUSDT", "SELL", "LIMIT", 100, 3000000, "GTC", "a", 1)
    ex.place_order(maker, "BTCUSDT", "SELL", "LIMIT", 100, 3000100, "GTC", "b", 1)
    order, fills = ex.place_order(taker, "BTCUSDT", "BUY", "MARKET", 150, 0, "GTC", "t", 2)
    assert order.status == "FILLED"
    assert [(f.price, f.qty) for f in fills] == [(30000 * ATOMS, 100000), (30001 * ATOMS, 50000)]
    assert taker.locked.get("USDT", 0) == 0


def test_balance_updates_follow_changes(ex: SimExchange) -> None:
    a = acct(ex, "k1")
    ex.place_order(a, "BTCUSDT", "BUY", "LIMIT", 100, 2900000, "GTC", "b", 1)
    updates = [e for e in ex.take_events() if isinstance(e, BalanceUpdate)]
    assert updates and updates[-1].account == "user1"
    assert ("USDT", a.free["USDT"], a.locked["USDT"]) in updates[-1].balances


def test_depth_sequence_advances_per_command(ex: SimExchange) -> None:
    a = acct(ex, "k1")
    start = ex.symbols["BTCUSDT"].update_id
    ex.take_depth_diff("BTCUSDT")
    ex.place_order(a, "BTCUSDT", "BUY", "LIMIT", 100, 2900000, "GTC", "b1", 1)
    ex.place_order(a, "BTCUSDT", "BUY", "LIMIT", 100, 2900001, "GTC", "b2", 2)
    diff = ex.take_depth_diff("BTCUSDT")
    assert diff is not None
    assert (diff.first, diff.last) == (start + 1, start + 2)
    assert diff.bids == [(2900001 * 10**6, 100 * 1000), (2900000 * 10**6, 100 * 1000)]
    assert ex.take_depth_diff("BTCUSDT") is None


def _random_session(ex: SimExchange, seed: int, steps: int) -> list[tuple[object, ...]]:
    """A seeded random sequence of orders, cancels and market steps; returns a trace."""
    rnd = random.Random(seed)
    trace: list[tuple[object, ...]] = []
    keys = ["k1", "k2"]
    for i in range(steps):
        now = i * 50
        a = acct(ex, rnd.choice(keys))
        sym_id = rnd.choice(sorted(ex.symbols))
        sym = ex.symbols[sym_id]
        action = rnd.random()
        try:
            if action < 0.5:
                mid = sym.market.center()
                price = mid + rnd.randint(-6, 6)
                lots = rnd.randint(1, 3000 if sym_id == "BTCUSDT" else 300)
                type_ = rnd.choice(["LIMIT", "LIMIT_MAKER", "MARKET"])
                tif = rnd.choice(["GTC", "IOC", "FOK"]) if type_ == "LIMIT" else "GTC"
                order, fills = ex.place_order(
                    a, sym_id, rnd.choice(["BUY", "SELL"]), type_, lots, 0 if type_ == "MARKET" else price,
                    tif, f"o{i}", now,
                )
                trace.append(("order", order.id, order.status, order.executed, len(fills)))
            elif action < 0.65:
                open_orders = ex.open_orders(a, sym_id)
                if open_orders:
                    victim = rnd.choice(open_orders)
                    ex.cancel_order(a, sym_id, victim.id, None, now)
                    trace.append(("cancel", victim.id))
            else:
                ex.step(0.1, now)
                trace.append(("step", tuple(s.update_id for s in ex.symbols.values())))
        except SimError as exc:
            trace.append(("error", exc.code))
    return trace


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_funds_are_conserved_across_a_random_session(seed: int) -> None:
    ex = SimExchange(_settings(seed=seed), 0)
    before = ex.total_funds()
    _random_session(ex, seed, 600)
    assert ex.total_funds() == before
    for a in ex.ledger.accounts.values():
        assert all(v >= 0 for v in a.free.values()), a
        assert all(v >= 0 for v in a.locked.values()), a
    # what stays locked is exactly what the open orders reserve
    for a in ex.ledger.accounts.values():
        if a.name == HOUSE:
            continue
        reserved: dict[str, int] = {}
        for o in ex.open_orders(a):
            sym = ex.symbols[o.symbol]
            asset = sym.quote if o.side == "BUY" else sym.base
            reserved[asset] = reserved.get(asset, 0) + o.locked
        assert {k: v for k, v in a.locked.items() if v} == {k: v for k, v in reserved.items() if v}
    assert sum(ex.ledger.fees.values()) > 0


def test_same_seed_same_orders_same_market() -> None:
    def run(seed: int) -> tuple[object, ...]:
        ex = SimExchange(_settings(seed=seed), 0)
        trace = _random_session(ex, 7, 400)
        books = tuple((s.update_id, tuple(ex.depth(s.id, 20)[1]), tuple(ex.depth(s.id, 20)[2]))
                      for s in ex.symbols.values())
        trades = tuple(tuple(s.trades) for s in ex.symbols.values())
        return tuple(trace), books, trades

    first, second = run(11), run(11)
    assert first == second
    assert run(12) != first


def test_market_moves_and_takers_trade() -> None:
    ex = SimExchange(_settings(), 0)
    sym = ex.symbols["BTCUSDT"]
    start_mid = sym.market.mid
    for i in range(600):  # one simulated minute
        ex.step(0.1, i * 100)
    assert sym.stats.count > 60  # ~4 takers per second
    assert sym.market.mid != start_mid
    bid, ask = sym.book.best("BUY"), sym.book.best("SELL")
    assert bid is not None and ask is not None and bid < ask
    assert len(sym.book.depth("BUY", 100)) >= sym.spec.levels - 2


def test_informed_takers_trade_with_the_next_move() -> None:
    spec = SymbolSpec(base="BTC", quote="USDT", informed_fraction=1.0, taker_rate=20, volatility=10)
    ex = SimExchange(_settings(symbols={"BTC/USDT": spec}, trade_history=100000), 0)
    sym = ex.symbols["BTCUSDT"]
    agree = total = 0
    for i in range(300):
        move = sym.market.next_move
        before = sym.stats.count
        buys_before = sum(1 for t in sym.trades if not t.buyer_is_maker)
        ex.step(0.1, i * 100)
        n = sym.stats.count - before
        buys = sum(1 for t in sym.trades if not t.buyer_is_maker) - buys_before
        if n and move:
            total += 1
            agree += (buys == n) if move > 0 else (buys == 0)
    assert total > 50 and agree == total


def test_market_buy_by_quote_amount_spends_at_most_the_budget(ex: SimExchange) -> None:
    maker, taker = acct(ex, "k1"), acct(ex, "k2")
    ex.place_order(maker, "BTCUSDT", "SELL", "LIMIT", 1000, 3000000, "GTC", "a", 1)
    budget = 100 * ATOMS  # 100 USDT buys 333 lots of 0.00001 BTC at 30000
    order, fills = ex.place_order(taker, "BTCUSDT", "BUY", "MARKET", 0, 0, "GTC", "t", 2, quote_qty=budget)
    assert order.status == "FILLED" and order.executed == 333
    assert sum(f.quote for f in fills) == 333 * 3000000 * ex.symbols["BTCUSDT"].k <= budget
    assert taker.locked.get("USDT", 0) == 0
    with pytest.raises(SimError):  # less than one lot's worth
        ex.place_order(taker, "BTCUSDT", "BUY", "MARKET", 0, 0, "GTC", "t2", 3, quote_qty=ATOMS // 10)


def test_finished_orders_are_forgotten_past_the_history_limit() -> None:
    spec = SymbolSpec(base="BTC", quote="USDT", taker_rate=0, volatility=0)
    ex = SimExchange(_settings(symbols={"BTC/USDT": spec}, order_history=10), 0)
    a = acct(ex, "k1")
    ids = []
    for i in range(15):
        order, _ = ex.place_order(a, "BTCUSDT", "BUY", "LIMIT", 100, 2900000, "GTC", f"c{i}", i)
        ex.cancel_order(a, "BTCUSDT", order.id, None, i)
        ids.append(order.id)
    resting, _ = ex.place_order(a, "BTCUSDT", "BUY", "LIMIT", 100, 2900000, "GTC", "open", 99)
    assert [i for i in ids if i in ex.orders] == ids[5:]
    assert resting.id in ex.orders and ex.open_orders(a) == [resting]
    with pytest.raises(SimError) as err:
        ex.find_order(a, "BTCUSDT", None, "c0")
    assert err.value.code == -2013
    assert ex.find_order(a, "BTCUSDT", None, "c14").status == "CANCELED"
