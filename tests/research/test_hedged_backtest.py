"""`mmbot backtest --hedged`: a recording's fills hedged in a synthetic perp beside its recorded mids."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from bot.cli import main
from bot.research.events import BookEvent, Event, TradeEvent
from bot.research.hedged import recorded_mids, sampled
from bot.research.recording import write_recording

S = "BTC/USDT"
TICK = 0.01


def book(ts: float, bid: int) -> BookEvent:
    b, a = round(bid * TICK, 2), round((bid + 2) * TICK, 2)
    return BookEvent(ts, S, ((b, 1.0), (round(b - TICK, 2), 5.0)), ((a, 1.0), (round(a + TICK, 2), 5.0)))


def falling_with_sellers(seed: int, n: int = 4000) -> list[Event]:
    """The touch drifts down a tick at a time; three takers in four sell through the bid: the bot gets long
    into a falling market (the flow a hedge is for)."""
    rng = random.Random(seed)
    bid = 10000
    events: list[Event] = [book(0.0, bid)]
    t = 0.0
    for _ in range(n):
        t += rng.expovariate(20.0)
        if rng.random() < 0.3:
            bid += -1 if rng.random() < 0.6 else 1
            events.append(book(t, bid))
        elif rng.random() < 0.75:
            events.append(TradeEvent(t, S, round((bid - 2) * TICK, 2), rng.uniform(0.1, 1.0), "sell"))
        else:
            events.append(TradeEvent(t, S, round((bid + 4) * TICK, 2), rng.uniform(0.1, 1.0), "buy"))
    return events


def setup(tmp_path: Path, seed: int = 1) -> tuple[Path, Path]:
    data = tmp_path / "rec.jsonl"
    write_recording(data, falling_with_sellers(seed), {"markets": {S: {"tick": TICK, "lot": 0.1}}})
    config = tmp_path / "bt.toml"
    config.write_text(
        '[strategy]\nmodel = "symmetric"\nhalf_spread = 0.02\n[risk]\nmax_position = 30.0\n'
        "[execution]\norder_size = 1.0\nrequote_ticks = 0\n[paper]\nmaker_fee = 0.0\n"
        "[hedge]\nband = 1.0\nmax_position = 50.0\ncooldown = 0.0\n",
        encoding="utf-8",
    )
    return data, config


@pytest.mark.parametrize("seed", [1, 2])
def test_backtest_hedged_holds_the_band_and_cuts_the_pnl_risk(
    tmp_path: Path, seed: int, capsys: pytest.CaptureFixture[str]
) -> None:
    data, config = setup(tmp_path, seed)
    assert main(["backtest", "--data", str(data), "--config", str(config), "--hedged", "--json",
                 "--pnl-horizon", "10"]) == 0
    out = json.loads(capsys.readouterr().out)
    u, h = out["hedged"]["unhedged"], out["hedged"]["hedged"]
    assert out["fills"] > 50 and out["max_abs_q"] > 5
    assert u["max_abs_q"] == pytest.approx(out["max_abs_q"], abs=1e-4)
    assert h["max_abs_net"] <= 1.0 + 1.0 + 1e-9  # the band + one order's size
    assert h["pnl_std"] < 0.7 * u["pnl_std"]
    assert u["final_pnl"] == pytest.approx(out["total_pnl"], abs=1e-3)  # the same spot run
    assert h["hedge_pnl"] + h["basis_pnl"] + h["funding"] - h["hedge_fees"] == pytest.approx(h["hedge_total"],
                                                                                             abs=1e-3)


def test_backtest_hedged_text_and_the_shock(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, config = setup(tmp_path)
    argv = ["backtest", "--data", str(data), "--config", str(config), "--hedged", "--basis-shock-bps", "40",
            "--shock-at", "120"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "hedged variant of the backtest of BTC/USDT" in out and "basis shock +40 bps at 120" in out
    assert main([*argv, "--json"]) == 0
    shock = json.loads(capsys.readouterr().out)["hedged"]["basis_shock"]
    assert shock["position"] < 0 and shock["cost_at_hit"] == pytest.approx(shock["expected"], rel=0.05)


def test_backtest_hedged_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, _ = setup(tmp_path)
    assert main(["backtest", "--data", str(data), "--hedged", "--driver", "live"]) == 2
    assert "--hedged runs with --driver backtest only" in capsys.readouterr().err
    assert main(["backtest", "--data", str(data), "--hedged", "--seed", "-1"]) == 2
    assert "--seed must be" in capsys.readouterr().err
    # the flags are checked before the recording is read
    assert main(["backtest", "--data", str(data.with_name("missing.jsonl")), "--hedged", "--pnl-horizon", "0"]) == 2
    assert "--pnl-horizon must be > 0" in capsys.readouterr().err


def test_recorded_mids_sampled_every_second_and_at_each_fill() -> None:
    times, mids = recorded_mids([book(0.0, 10000), book(1.5, 10001), book(2.2, 9999)], S)
    assert list(times) == [0.0, 1.5, 2.2] and np.allclose(mids, [100.01, 100.02, 100.0])
    path = sampled(times, mids, [(1.7, "buy", 100.0, 1.0, 0.0)])
    assert list(path.times) == [0.0, 1.0, 1.7, 2.0, 3.0]
    assert np.allclose(path.mids, [100.01, 100.01, 100.02, 100.02, 100.0]) and list(path.q) == [0, 0, 1, 1, 1]
