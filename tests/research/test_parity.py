"""Parity: one recording through the backtest and through the live code path decides and fills alike.

The live path is :mod:`bot.research.livereplay`: the real ``Quoter``/``OrderManager``/``FillIntake`` against the
paper venue fed from the recording on a simulated clock. At latency 0 with the same fill model, both drivers
must make the same decisions (time, bid price/size, ask price/size), the same fills (time, side, price,
size) and end at the same ``q``. The last tests break one driver's rule alone and show the comparison fails.
Before the drivers shared bot/core/strategy.py's wake rule, these comparisons failed at decision #1 of every
recording: the backtest quoted on the recording's first book (the live bot waits for a streamed update) and
asked the wake rule after every timestamp (the live quoter wakes only on news, a fill or its idle timer).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import bot
import bot.live.quoter as quoter_module
from bot.cli import main
from bot.core.limits import LimitParams
from bot.core.models import ModelParams
from bot.core.quote import MarketRules
from bot.core.reconcile import Tolerance
from bot.core.strategy import Wake
from bot.research.backtest import Backtest, BacktestParams
from bot.research.events import BookEvent, Event, TradeEvent
from bot.research.livereplay import (
    BALANCE,
    LiveReplay,
    ReplayRun,
    differences,
    run_backtest_logged,
    run_live_replay,
)
from bot.research.recording import read_recording, write_recording

RECORDING = Path(__file__).parent / "data" / "sim_btcusdt_1200_steps.jsonl.gz"
SYMBOL = "BTC/USDT"
RULES = MarketRules(tick=0.01, lot=0.00001, min_qty=0.00001, min_notional=5.0)

# each with a position limit the recording reaches (checked below: the limits bind)
CASES: dict[str, BacktestParams] = {
    "symmetric": BacktestParams(
        ModelParams("symmetric", half_spread=0.01), LimitParams(0.01, 0.003), RULES,
        Tolerance(0.01, 0, max_order_age=2.0), stale_after=5.0,
    ),
    "linear": BacktestParams(
        ModelParams("linear", half_spread=0.03, skew=0.05), LimitParams(0.006, 0.002), RULES, Tolerance(0.01, 2),
        maker_fee=0.0002, cancel_model="conservative", stale_after=5.0,
    ),
    "as": BacktestParams(
        ModelParams("as", gamma=0.5, sigma=0.5, kappa=20.0, horizon=20.0, horizon_mode="session"),
        LimitParams(0.02, 0.002), RULES, Tolerance(0.01, 1), use_estimators=True, stale_after=5.0,
    ),
    "glft": BacktestParams(
        ModelParams("glft", gamma=0.2, sigma=0.5, kappa=20.0, A=2.0, min_spread=0.05), LimitParams(0.02, 0.002),
        RULES, Tolerance(0.01, 2), use_estimators=True, maker_fee=-0.0001, stale_after=5.0,
    ),
}

# a small market around 100 with a taker sweep through three bid levels at one timestamp, then one through
# three ask levels, then a gap in the data; a quote of 0.1 at a position limit of 0.1 (one fill reaches it)
SWEEP_RULES = MarketRules(tick=0.01, lot=0.001, min_qty=0.001, min_notional=1.0)
SWEEP_PARAMS = BacktestParams(
    ModelParams("symmetric", half_spread=0.02), LimitParams(0.1, 0.1), SWEEP_RULES, Tolerance(0.01, 0),
    stale_after=5.0,
)


def _book(ts: float, bids: list[tuple[float, float]], asks: list[tuple[float, float]],
          snapshot: bool = False) -> BookEvent:
    return BookEvent(ts, SYMBOL, tuple(bids), tuple(asks), snapshot)


SWEEP: list[Event] = [
    _book(0.0, [(99.99, 1.0), (99.98, 2.0), (99.97, 3.0)], [(100.01, 1.0), (100.02, 2.0), (100.03, 3.0)], True),
    _book(0.3, [(99.99, 1.5)], []),  # the first streamed update: the live bot quotes from here
    _book(0.35, [], [(100.01, 0.8)]),
    # a taker sell sweeps 99.99, 99.98 (through the queue of 2 ahead of our bid) and 99.97: one matching pass
    TradeEvent(0.5, SYMBOL, 99.99, 1.5, "sell"),
    TradeEvent(0.5, SYMBOL, 99.98, 2.5, "sell"),
    TradeEvent(0.5, SYMBOL, 99.97, 1.0, "sell"),
    _book(0.5, [(99.99, 0.0), (99.98, 0.0), (99.97, 2.0)], []),
    _book(0.6, [(99.99, 1.0), (99.98, 1.0)], []),
    _book(0.8, [], [(100.01, 0.9)]),
    # a taker buy sweeps 100.01, 100.02 (through the queue of 2 ahead of our ask) and 100.03
    TradeEvent(1.0, SYMBOL, 100.01, 0.9, "buy"),
    TradeEvent(1.0, SYMBOL, 100.02, 2.5, "buy"),
    TradeEvent(1.0, SYMBOL, 100.03, 1.0, "buy"),
    _book(1.0, [], [(100.01, 0.0), (100.02, 0.0), (100.03, 2.0)]),
    _book(1.2, [], [(100.01, 1.0), (100.02, 1.0)]),
    _book(1.5, [(99.99, 1.2)], []),
    _book(1.6, [(99.98, 1.5)], []),  # depth only: no decision is due
    _book(1.8, [(99.97, 2.5)], []),  # depth only, WAKE_GAP after the last news: the quoter wakes, nothing is due
    # no data for longer than stale_after: the quotes are pulled in the gap, and return with the data
    _book(9.0, [(99.99, 1.1)], []),
    _book(9.05, [], [(100.01, 1.1)]),
]


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return read_recording(RECORDING)


def both(events: list[Event], params: BacktestParams) -> tuple[ReplayRun, ReplayRun]:
    return run_backtest_logged(events, SYMBOL, params), run_live_replay(events, SYMBOL, params)


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_live_path_decides_and_fills_as_the_backtest(case: str, events: list[Event]) -> None:
    params = CASES[case]
    backtest, live = both(events, params)
    assert differences(backtest, live) == []
    assert len(live.decisions) > 10 and live.result.fills > 10  # a real comparison, not two empty logs
    assert live.result.max_abs_q == pytest.approx(params.limits.max_position)  # the limit binds
    assert live.result.final_q == pytest.approx(backtest.result.final_q, abs=1e-12)


def test_a_sweep_is_one_matching_pass_on_both_paths() -> None:
    backtest, live = both(SWEEP, SWEEP_PARAMS)
    assert differences(backtest, live) == []
    # each sweep fills our order once (at its price, from what the print left after the queue ahead)
    assert live.fills == [(0.5, "buy", 99.98, 0.1), (1.0, "sell", 100.02, 0.1)]
    assert live.result.final_q == pytest.approx(0.0, abs=1e-12)


def random_stream(seed: int, n: int = 1000) -> list[Event]:
    """A touch that random-walks in ticks with its depth refreshed, spreads of 1-3 ticks, crossed and one-sided
    books, taker sweeps of 1-4 prints at one timestamp, and now and then a gap longer than ``stale_after``."""
    rng = random.Random(seed)
    bid, t = 9999, 0.0  # the best bid in ticks of 0.01

    def px(ticks: int) -> float:
        return round(ticks * 0.01, 2)

    out: list[Event] = [_book(0.0, [(px(bid - i), 1.0) for i in range(10)], [(px(bid + 2 + i), 1.0) for i in range(10)],
                              True)]
    for _ in range(n):
        t = round(t + (6.0 if rng.random() < 0.01 else rng.choice([0.05, 0.05, 0.1, 0.3])), 3)
        r = rng.random()
        if r < 0.5:
            bid += rng.choice([-1, 0, 0, 1])
            spread = rng.choice([1, 2, 2, 3])
            out.append(_book(t, [(px(bid - i), round(rng.uniform(0.1, 2.0), 3)) for i in range(10)],
                             [(px(bid + spread + i), round(rng.uniform(0.1, 2.0), 3)) for i in range(10)], True))
        elif r < 0.55:
            crossed = rng.random() < 0.5
            out.append(_book(t, [(px(bid + 5 if crossed else bid), 1.0)], [(px(bid + 1), 1.0)] if crossed else [],
                             True))
        else:
            side = rng.choice(["buy", "sell"])
            for k in range(rng.randint(1, 4)):
                out.append(TradeEvent(t, SYMBOL, px(bid + 2 + k if side == "buy" else bid - k),
                                      round(rng.uniform(0.05, 1.5), 3), side))
    return out


RANDOM_RULES = MarketRules(tick=0.01, lot=0.001, min_qty=0.001, min_notional=1.0)
RANDOM_CASES: dict[str, BacktestParams] = {
    "symmetric": BacktestParams(ModelParams("symmetric", half_spread=0.01), LimitParams(0.5, 0.2), RANDOM_RULES,
                                Tolerance(0.01, 0, max_order_age=2.0), stale_after=5.0),
    "linear": BacktestParams(ModelParams("linear", half_spread=0.02, skew=0.05), LimitParams(0.4, 0.2), RANDOM_RULES,
                             Tolerance(0.01, 1), maker_fee=0.001, cancel_model="conservative", stale_after=5.0),
    "as": BacktestParams(ModelParams("as", gamma=0.5, sigma=0.05, kappa=50.0, horizon=20.0, horizon_mode="session"),
                         LimitParams(0.4, 0.2), RANDOM_RULES, Tolerance(0.01, 1), use_estimators=True, stale_after=5.0),
    "glft": BacktestParams(ModelParams("glft", gamma=0.2, sigma=0.05, kappa=50.0, A=2.0), LimitParams(0.4, 0.2),
                           RANDOM_RULES, Tolerance(0.01, 1), use_estimators=True, stale_after=2.0),
}


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("case", sorted(RANDOM_CASES))
def test_parity_on_random_markets(case: str, seed: int) -> None:
    params = RANDOM_CASES[case]
    backtest, live = both(random_stream(seed), params)
    assert differences(backtest, live) == []
    assert live.result.fills > 100 and live.result.max_abs_q == pytest.approx(params.limits.max_position)


# -- the live path itself ------------------------------------------------------------------------------
def test_the_live_replay_books_each_venue_fill_once(events: list[Event]) -> None:
    replay = LiveReplay(SYMBOL, CASES["symmetric"])
    run = asyncio.run(replay.run(events))
    assert run.result.fills == len(run.fills) > 100
    # the paper account's base balance moved by exactly the booked fills: none lost, none booked twice
    moved = replay.venue.paper_totals()[CASES["symmetric"].base] - Decimal(str(BALANCE))
    assert moved == replay.inventory.q_exact
    assert run.result.final_q == pytest.approx(sum(s if side == "buy" else -s for _, side, _, s in run.fills))


class _CycleTimes(LiveReplay):
    """Records when the quoter's loop runs a cycle."""

    times: list[float]

    async def _cycle(self) -> None:
        self.times = [*getattr(self, "times", []), self.clock.now]
        await super()._cycle()


def test_the_quoter_wakes_as_the_live_service_wakes_it() -> None:
    data: list[Event] = [
        _book(0.0, [(99.99, 1.0), (99.98, 2.0)], [(100.01, 1.0), (100.02, 2.0)], True),  # the first book: news
        _book(0.1, [(100.0, 1.0)], []),  # the touch moves: news
        _book(0.15, [(99.98, 3.0)], []),  # depth only, WAKE_GAP not passed: the quoter sleeps on
        TradeEvent(0.2, SYMBOL, 99.96, 5.0, "sell"),  # trades through our bid: the fill wakes it
        TradeEvent(0.3, SYMBOL, 99.9, 1.0, "sell"),  # at the position limit no bid rests: no fill, no wake
        _book(0.45, [(99.98, 2.5)], []),  # depth only, but WAKE_GAP since the last news: news
        _book(2.0, [(99.98, 2.0)], []),  # after a gap: the idle timer ran a cycle every heartbeat (0.5 s)
    ]
    replay = _CycleTimes(SYMBOL, SWEEP_PARAMS)
    run = asyncio.run(replay.run(data))
    assert [round(t, 9) for t in replay.times] == [0.0, 0.1, 0.2, 0.45, 0.95, 1.45, 1.95, 2.0]
    assert run.fills == [(0.2, "buy", 99.98, 0.1)]


# -- the comparison can fail from either side ---------------------------------------------------------
class _MidSweepBacktest(Backtest):
    """A backtest that breaks the timestamp rule alone: it decides right after the first event of each
    timestamp (in the middle of a sweep), as the old replay did."""

    def replay(self, events: Iterable[Event]) -> None:
        for event in events:
            super().replay((event,))
            if not self.pending and self.bid is not None and self.last_ts is not None:
                self._maybe_decide(self.last_ts)


def _agree(data: list[Event], params: BacktestParams) -> ReplayRun:
    """Check that the two drivers agree on ``data`` with no rule broken (so what differs below is the broken
    rule); returns the live run."""
    live = run_live_replay(data, SYMBOL, params)
    assert differences(run_backtest_logged(data, SYMBOL, params), live) == []
    return live


@pytest.mark.skipif(bot.compiled() == "mypyc", reason="subclasses the compiled Backtest: pure build only")
@pytest.mark.parametrize("recording", ["sweep", "sim"])
def test_parity_fails_when_the_backtest_decides_mid_sweep(recording: str, events: list[Event]) -> None:
    data, params = (SWEEP, SWEEP_PARAMS) if recording == "sweep" else (events, CASES["symmetric"])
    live = _agree(data, params)
    found = differences(run_backtest_logged(data, SYMBOL, params, backtest=_MidSweepBacktest), live)
    assert found and found[0].startswith("decisions")


class _EagerWake:
    """The live quoter's wake rule broken alone: a decision is due on every wake (the rest is the real rule's;
    composed, not subclassed: the compiled build's Wake takes no Python subclass)."""

    def __init__(self, heartbeat: float) -> None:
        self._wake = Wake(heartbeat)

    def due(self, now: float, bid: float | None, ask: float | None, q: float, halted: bool) -> bool:
        self._wake.due(now, bid, ask, q, halted)
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wake, name)


@pytest.mark.parametrize("recording", ["sweep", "sim"])
def test_parity_fails_when_the_live_quoter_decides_on_every_wake(
    recording: str, events: list[Event], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, params = (SWEEP, SWEEP_PARAMS) if recording == "sweep" else (events, CASES["symmetric"])
    _agree(data, params)
    monkeypatch.setattr(quoter_module, "Wake", _EagerWake)  # the quoter's own name: the backtest is untouched
    found = differences(run_backtest_logged(data, SYMBOL, params), run_live_replay(data, SYMBOL, params))
    assert found and found[0].startswith("decisions")


# -- the command --------------------------------------------------------------------------------------
def test_backtest_command_runs_the_live_path_and_compares(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sweep.jsonl"
    market = {"tick": 0.01, "lot": 0.001, "min_qty": 0.001, "min_notional": 1.0}
    write_recording(path, SWEEP, meta={"symbols": [SYMBOL], "markets": {SYMBOL: market}})
    config = tmp_path / "p.toml"
    config.write_text('[strategy]\nmodel = "symmetric"\nhalf_spread = 0.02\n[risk]\nmax_position = 0.1\n'
                      "[execution]\norder_size = 0.1\nrequote_ticks = 0\n[paper]\nmaker_fee = 0.0\n", encoding="utf-8")
    args = ["backtest", "--data", str(path), "--config", str(config)]
    code = main([*args, "--driver", "both"])
    text = capsys.readouterr().out
    assert "backtest of BTC/USDT" in text and "live-path replay of BTC/USDT" in text
    agree = "parity       the drivers agree" in text
    assert code == (0 if agree else 1)
    assert agree or "parity       the drivers DIFFER:\n  decisions #" in text
    assert main([*args, "--driver", "live", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["driver"] == "live" and out["fills"] == 2 and out["final_q"] == pytest.approx(0.0, abs=1e-12)
    assert main([*args, "--driver", "live", "--latency-ms", "5"]) == 2
    assert "latency 0" in capsys.readouterr().err
