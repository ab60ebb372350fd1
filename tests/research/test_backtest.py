"""The backtester on hand-made recordings: exact fills, latency, accounting, and the CLI's bad input."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import pytest

from bot.cli import main
from bot.core.limits import LimitParams
from bot.core.models import ModelParams
from bot.core.quote import MarketRules
from bot.core.reconcile import Tolerance
from bot.research.backtest import BacktestParams, infer_tick, run_backtest
from bot.research.recording import BookEvent, Event, TradeEvent, write_recording

S = "BTC/USDT"
TICK = 0.01


def params(latency: float = 0.0, **model: float) -> BacktestParams:
    return BacktestParams(
        model=ModelParams(model="symmetric", **({"half_spread": 0.02} | model)),  # type: ignore[arg-type]
        limits=LimitParams(max_position=10.0, order_size=1.0),
        rules=MarketRules(TICK, 0.0),
        tolerance=Tolerance(TICK, requote_ticks=0, size_tolerance=0.1, max_order_age=1e9),
        latency=latency,
        base="BTC",
        quote="USDT",
    )


def book(ts: float, bid: float, ask: float, size: float = 1.0) -> BookEvent:
    return BookEvent(ts, S, ((bid, size), (round(bid - TICK, 2), 5.0)), ((ask, size), (round(ask + TICK, 2), 5.0)))


def test_exact_fills_trade_through_and_queue() -> None:
    events: list[Event] = [
        book(0.0, 99.99, 100.01),  # quotes: bid 99.98 behind 5.0, ask 100.02 behind 5.0
        TradeEvent(1.0, S, 99.97, 0.4, "sell"),  # prints through the bid: 0.4 at 99.98
        TradeEvent(2.0, S, 100.02, 5.5, "buy"),  # at the ask's price: 5.0 queue ahead, 0.5 for us
        TradeEvent(3.0, S, 100.03, 0.2, "buy"),  # through the ask: 0.2 more
    ]
    r = run_backtest(events, S, params())
    assert r.fill_log == [(1.0, "buy", 99.98, 0.4), (2.0, "sell", 100.02, 0.5), (3.0, "sell", 100.02, 0.2)]
    assert r.final_q == pytest.approx(0.4 - 0.7)
    assert r.max_abs_q == pytest.approx(0.4)
    # 0.4 bought at 99.98 and sold at 100.02; 0.3 short at 100.02 marked at the mid 100.00
    assert r.realized_pnl == pytest.approx(0.4 * 0.04)
    assert r.unrealized_pnl == pytest.approx(-0.3 * (100.00 - 100.02))
    # every fill was 0.02 from the mid: spread captured 0.02 per unit; symmetric: nothing given up to skew
    assert r.spread_captured == pytest.approx(0.02 * 1.1)
    assert r.skew_cost == pytest.approx(0.0)
    # q: 0 for 1 s, 0.4 for 1 s, -0.1 for 1 s -> time-weighted mean 0.1, second moment 0.17/3
    assert r.q_std == pytest.approx((0.17 / 3 - 0.01) ** 0.5)
    assert r.events == 4 and r.duration == 3.0


def test_skew_is_charged_as_spread_given_up() -> None:
    p = BacktestParams(
        model=ModelParams(model="linear", half_spread=0.02, skew=0.01),
        limits=LimitParams(max_position=10.0, order_size=1.0),
        rules=MarketRules(TICK, 0.0),
        tolerance=Tolerance(TICK, requote_ticks=0, max_order_age=1e9),
    )
    events: list[Event] = [
        book(0.0, 99.95, 100.05),
        TradeEvent(1.0, S, 99.90, 1.0, "sell"),  # buys 1 at 99.98: q = 1, centre moves to 99.99
        TradeEvent(2.0, S, 100.10, 1.0, "buy"),  # the ask is now 100.01: sells 1 there
    ]
    r = run_backtest(events, S, p)
    assert r.fill_log == [(1.0, "buy", 99.98, 1.0), (2.0, "sell", 100.01, 1.0)]
    assert r.skew_cost == pytest.approx(0.01)  # the ask was 0.01 below the symmetric 100.02
    assert r.final_q == 0.0 and r.realized_pnl == pytest.approx(0.03)


def test_position_limit_caps_the_growing_side() -> None:
    p = BacktestParams(
        model=ModelParams(model="symmetric", half_spread=0.02),
        limits=LimitParams(max_position=2.5, order_size=1.0),
        rules=MarketRules(TICK, 0.0),
        tolerance=Tolerance(TICK, requote_ticks=0, max_order_age=1e9),
    )
    events: list[Event] = [book(0.0, 99.99, 100.01)]
    events += [TradeEvent(float(i), S, 99.90, 1.0, "sell") for i in range(1, 8)]
    r = run_backtest(events, S, p)
    assert r.final_q == pytest.approx(2.5) and r.max_abs_q == pytest.approx(2.5)
    assert [size for *_, size in r.fill_log] == [1.0, 1.0, 0.5]


def adverse_case() -> list[Event]:
    """The mid drops two ticks; a seller then prints between the old and the new bid."""
    return [
        book(0.0, 99.99, 100.01),  # the snapshot the recording starts from (not fresh data, as live)
        book(0.0, 99.99, 100.01),  # the first streamed update: bid 99.98
        book(1.0, 99.97, 99.99),  # mid 99.98: the bot wants its bid at 99.96
        TradeEvent(1.05, S, 99.97, 1.0, "sell"),  # reaches a bid still resting at 99.98 only
        book(2.0, 99.95, 99.97),  # and the price keeps falling
    ]


def test_latency_leaves_stale_quotes_exposed_to_adverse_fills() -> None:
    fast = run_backtest(adverse_case(), S, params(latency=0.0))
    slow = run_backtest(adverse_case(), S, params(latency=0.1))
    assert fast.fills == 0
    assert slow.fill_log == [(1.05, "buy", 99.98, 1.0)]
    assert slow.total_pnl < fast.total_pnl
    assert slow.total_pnl == pytest.approx(99.96 - 99.98)


def test_latency_delays_when_a_new_order_can_fill() -> None:
    events: list[Event] = [book(0.0, 99.99, 100.01), TradeEvent(0.05, S, 99.90, 1.0, "sell")]
    assert run_backtest(events, S, params(latency=0.0)).fills == 1
    assert run_backtest(events, S, params(latency=0.1)).fills == 0


def test_post_only_order_that_would_cross_on_arrival_is_rejected() -> None:
    events: list[Event] = [
        book(0.0, 99.99, 100.01),
        book(0.01, 100.05, 100.07),  # before the first orders arrive the market moved up past the ask
        book(1.0, 100.05, 100.07),
    ]
    r = run_backtest(events, S, params(latency=0.05))
    assert r.orders_rejected == 1 and r.fills == 0


def test_a_sweep_is_one_matching_pass() -> None:
    """Three prints of one taker sweep share a timestamp: they fill the bid once; no requote falls between
    them (at zero latency the old replay requoted after the first print and the same sweep filled it again)."""
    events: list[Event] = [
        book(0.0, 99.99, 100.01),  # bid 99.98, 1.0
        TradeEvent(1.0, S, 99.97, 1.0, "sell"),
        TradeEvent(1.0, S, 99.97, 1.0, "sell"),
        TradeEvent(1.0, S, 99.96, 1.0, "sell"),
        book(2.0, 99.99, 100.01),
    ]
    r = run_backtest(events, S, params())
    assert r.fill_log == [(1.0, "buy", 99.98, 1.0)]
    assert r.final_q == 1.0


def test_a_one_sided_book_withdraws_the_quotes() -> None:
    """The live pause: a crossed or one-sided book cancels what rests (the last valid touch is kept), so a
    print at our old bid fills nothing; a valid book brings the quotes back."""
    events: list[Event] = [
        book(0.0, 99.99, 100.01),
        BookEvent(1.0, S, ((99.99, 1.0),), ()),  # one-sided
        TradeEvent(1.5, S, 99.97, 1.0, "sell"),
        book(3.0, 99.99, 100.01),
        TradeEvent(4.0, S, 99.97, 1.0, "sell"),
    ]
    r = run_backtest(events, S, params())
    assert r.fill_log == [(4.0, "buy", 99.98, 1.0)]
    assert r.orders_canceled == 2


def test_a_gap_in_the_data_pauses_quoting_like_the_live_watchdog() -> None:
    """No book for longer than ``stale_after``: the quotes are withdrawn at the heartbeat after the book grew
    stale (the live quoter's idle wake-up), so a print after the gap fills nothing."""
    # the first book starts the subscription (not fresh data, as live): quoting starts on the next one
    events: list[Event] = [book(0.0, 99.99, 100.01), book(0.1, 99.99, 100.01), TradeEvent(10.0, S, 99.97, 1.0, "sell")]
    stale = run_backtest(events, S, dataclasses.replace(params(), stale_after=5.0))
    assert stale.fills == 0 and stale.orders_canceled == 2
    fresh = run_backtest(events, S, params())  # stale_after unset: nothing pauses
    assert fresh.fill_log == [(10.0, "buy", 99.98, 1.0)]


def test_infer_tick() -> None:
    assert infer_tick([book(0.0, 99.99, 100.01)], S) == pytest.approx(0.01)
    with pytest.raises(ValueError):
        infer_tick([TradeEvent(0.0, S, 1.0, 1.0)], S)


# -- the command -----------------------------------------------------------------------------------
def write(tmp_path: Path, events: list[Event], name: str = "rec.jsonl", **meta: object) -> Path:
    path = tmp_path / name
    write_recording(path, events, meta)
    return path


def config(tmp_path: Path) -> Path:
    path = tmp_path / "bt.toml"
    path.write_text(
        '[strategy]\nmodel = "symmetric"\nhalf_spread = 0.02\n[risk]\nmax_position = 10.0\n'
        "[execution]\norder_size = 1.0\nrequote_ticks = 0\n[paper]\nmaker_fee = 0.0\n",
        encoding="utf-8",
    )
    return path


def test_cli_json_matches_the_library(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = adverse_case()
    path = write(tmp_path, events, "rec.jsonl.gz", markets={S: {"tick": 0.01, "lot": 0.0}})
    assert main(["backtest", "--data", str(path), "--config", str(config(tmp_path)), "--latency-ms", "100",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fills"] == 1 and out["tick"] == 0.01 and out["latency_ms"] == 100
    assert out["final_q"] == pytest.approx(1.0) == out["signed_fill_sum"]
    assert out["total_pnl"] == pytest.approx(99.96 - 99.98)
    assert main(["backtest", "--data", str(path), "--config", str(config(tmp_path))]) == 0
    text = capsys.readouterr().out
    assert "backtest of BTC/USDT" in text and "0 buys, 0 sells" in text and "latency 0 ms" in text


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"type":"book","ts":0,"symbol":"X/Y","bids":[[1,1]],"asks":[[2,1]]}\nnot json\n', "line 2"),
        ('{"type":"trade","ts":0,"symbol":"X/Y","price":-1,"amount":1}\n', "line 1"),
        ('{"type":"meta","version":1}\n', "no book or trade events"),
    ],
)
def test_cli_bad_data_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, needle: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    assert main(["backtest", "--data", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mmbot: --data") and needle in err[0]


def test_cli_missing_file_and_bad_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--data", str(tmp_path / "nope.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot read" in err[0]
    path = write(tmp_path, [book(0.0, 99.99, 100.01)])
    with pytest.raises(SystemExit) as exc:
        main(["backtest", "--data", str(path), "--latency-ms", "-5"])
    assert exc.value.code == 2
    assert main(["backtest", "--data", str(path), "--symbol", "ETH/USDT"]) == 2
    assert "not in the recording" in capsys.readouterr().err


def random_stream(seed: int, n: int = 3000) -> list[Event]:
    """A touch that random-walks in ticks, level refreshes, and takers of random size and side."""
    rng = random.Random(seed)
    bid = 9999
    events: list[Event] = [book(0.0, bid * TICK, (bid + 2) * TICK)]
    t = 0.0
    for _ in range(n):
        t += rng.expovariate(20.0)
        u = rng.random()
        if u < 0.3:
            bid += rng.choice((-1, 1))
            events.append(book(t, round(bid * TICK, 2), round((bid + 2) * TICK, 2), rng.uniform(0.1, 2.0)))
        else:
            side = rng.choice(("buy", "sell"))
            depth = rng.randint(0, 3)
            price = (bid + 2 + depth) * TICK if side == "buy" else (bid - depth) * TICK
            events.append(TradeEvent(t, S, round(price, 2), rng.uniform(0.05, 1.5), side))
    return events


@pytest.mark.parametrize("latency", [0.0, 0.02, 0.1, 0.4])
@pytest.mark.parametrize("seed", [1, 2])
def test_hard_limit_holds_and_q_is_the_sum_of_fills_at_any_latency(latency: float, seed: int) -> None:
    p = BacktestParams(
        model=ModelParams(model="linear", half_spread=0.01, skew=0.002),
        limits=LimitParams(max_position=2.0, order_size=0.7),
        rules=MarketRules(TICK, 0.1),
        tolerance=Tolerance(TICK, requote_ticks=0, size_tolerance=0.1, max_order_age=5.0),
        latency=latency,
    )
    r = run_backtest(random_stream(seed), S, p)
    assert r.fills > 20
    assert r.max_abs_q <= 2.0 + 1e-9
    assert r.final_q == pytest.approx(r.signed_fill_sum, abs=1e-9)
    assert all(round(size / 0.1, 9).is_integer() for *_, size in r.fill_log)  # whole lots


@pytest.mark.parametrize("model", ["symmetric", "as", "glft"])
@pytest.mark.parametrize("use_estimators", [False, True])
def test_every_model_backtests_within_the_limit(model: str, use_estimators: bool) -> None:
    p = BacktestParams(
        model=ModelParams(model=model, half_spread=0.01, gamma=0.5, sigma=0.05, kappa=50.0, A=5.0,  # type: ignore[arg-type]
                          horizon=30.0),
        limits=LimitParams(max_position=2.0, order_size=0.5),
        rules=MarketRules(TICK, 0.1),
        tolerance=Tolerance(TICK, requote_ticks=1),
        latency=0.05,
        use_estimators=use_estimators,
    )
    r = run_backtest(random_stream(3, 4000), S, p)
    assert r.fills > 10 and r.max_abs_q <= 2.0 + 1e-9
    assert r.final_q == pytest.approx(r.signed_fill_sum, abs=1e-9)
    assert r.total_pnl == pytest.approx(r.realized_pnl + r.unrealized_pnl - r.fees)


@pytest.mark.parametrize("latency", [0.0, 0.1])
def test_stepping_one_event_at_a_time_equals_one_replay(latency: float) -> None:
    """replay() keeps its state in locals during the loop and writes it back at the end: feeding the
    events one by one (step) must give exactly the same result; other symbols are skipped."""
    from bot.research.backtest import Backtest

    events = random_stream(5, 1500)
    p = params(latency=latency)
    whole = run_backtest(events, S, p)
    bt = Backtest(S, p)
    for event in events:
        bt.step(event)
        bt.step(TradeEvent(event.ts, "ETH/USDT", 1.0, 1.0, "buy"))  # another symbol: ignored
    stepped = bt.result()
    assert stepped.to_dict() == whole.to_dict() and stepped.fill_log == whole.fill_log
    assert whole.fills > 10 and stepped.events == len(events)
