"""mmbot record: the book differ, and record -> backtest round trips on the in-process simulator."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import random
from pathlib import Path

import ccxt
import pytest

from bot.cli import main
from bot.logs import configure_logging
from bot.research.l2book import L2Book
from bot.research.recorder import BookDiffer, record
from bot.research.recording import BookEvent, JsonLinesWriter, TradeEvent, iter_events, read_meta, read_recording

S = "BTC/USDT"

SIM_AND_BOT = """
[venue]
symbols = ["BTC/USDT"]
[strategy]
model = "linear"
half_spread = 0.02
skew = 5.0
[risk]
max_position = 0.05
[execution]
order_size = 0.002
requote_ticks = 1
[logging]
level = "warning"
format = "json"
[paper]
maker_fee = 0.0
[sim]
seed = 3
step_interval = 0.05
[sim.symbols."BTC/USDT"]
base = "BTC"
quote = "USDT"
mid = 30000
volatility = 2.0
taker_rate = 30.0
taker_size = 0.004
level_size = 0.004
informed_fraction = 0.0
"""


@pytest.fixture(autouse=True)
def _logging_to_a_live_stream():
    """``mmbot record`` points the logs at pytest's captured stdout, which closes after the test."""
    yield
    configure_logging("warning", "json", (), stream=io.StringIO())


def test_differ_writes_a_snapshot_then_changed_levels_only() -> None:
    d = BookDiffer(S, depth=2, snapshot_every=10.0)
    first = d.update(0.0, [[99.0, 1.0], [98.0, 2.0], [97.0, 3.0]], [[101.0, 1.0]])
    assert first == BookEvent(0.0, S, ((99.0, 1.0), (98.0, 2.0)), ((101.0, 1.0),), snapshot=True)
    assert d.update(1.0, [[99.0, 1.0], [98.0, 2.0]], [[101.0, 1.0]]) is None
    diff = d.update(2.0, [[99.5, 0.5], [99.0, 1.0], [98.0, 2.0]], [[101.0, 3.0]])
    # 99.5 is new, 98.0 fell out of the top 2 (size 0), the ask changed size
    assert diff == BookEvent(2.0, S, ((99.5, 0.5), (98.0, 0.0)), ((101.0, 3.0),), snapshot=False)
    assert d.update(12.0, [[99.5, 0.5]], [[101.0, 3.0]]).snapshot  # type: ignore[union-attr]


def test_replaying_the_diffs_rebuilds_every_recorded_book() -> None:
    rng = random.Random(5)
    d = BookDiffer(S, depth=5, snapshot_every=1e9)
    state = L2Book()
    for t in range(300):
        bids = sorted({round(100 - rng.randint(1, 12) * 0.01, 2) for _ in range(8)}, reverse=True)
        asks = sorted({round(100 + rng.randint(1, 12) * 0.01, 2) for _ in range(8)})
        full_bids = [[p, float(rng.randint(1, 3))] for p in bids]
        full_asks = [[p, float(rng.randint(1, 3))] for p in asks]
        event = d.update(float(t), full_bids, full_asks)
        if event is not None:
            state.apply(event)
        assert state.bids == {p: q for p, q in full_bids[:5]}
        assert state.asks == {p: q for p, q in full_asks[:5]}


def test_record_then_backtest_round_trip_on_the_simulator(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "rt.toml"
    cfg.write_text(SIM_AND_BOT, encoding="utf-8")
    out = tmp_path / "rec.jsonl.gz"
    assert main(["record", "--config", str(cfg), "--duration", "3", "--out", str(out)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("recorded ") and str(out) in line
    with gzip.open(out, "rt", encoding="utf-8") as fh:
        assert json.loads(fh.readline())["type"] == "meta"
    meta = read_meta(out)
    assert meta["venue"] == "sim" and meta["markets"][S]["tick"] == 0.01 and meta["markets"][S]["lot"] == 1e-05
    events = read_recording(out)
    books = [e for e in events if isinstance(e, BookEvent)]
    trades = [e for e in events if isinstance(e, TradeEvent)]
    assert books and books[0].snapshot and trades
    assert [e.ts for e in events] == sorted(e.ts for e in events)
    assert all(t.side in ("buy", "sell") and t.id for t in trades)

    assert main(["backtest", "--data", str(out), "--config", str(cfg), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["fills"] > 0 and r["fills"] == r["buys"] + r["sells"]
    assert r["final_q"] == pytest.approx(r["signed_fill_sum"], abs=1e-12)
    assert r["max_abs_q"] <= 0.05 + 1e-12 and abs(r["final_q"]) <= r["max_abs_q"] + 1e-12
    assert r["events"] == len(events) and r["fees"] == 0.0
    assert r["total_pnl"] == pytest.approx(r["realized_pnl"] + r["unrealized_pnl"], abs=2e-4)  # each to 4 decimals
    # the sim's order-size step: every fill is whole lots of 1e-5
    assert round(r["volume_base"] / 1e-5, 6) == pytest.approx(round(r["volume_base"] / 1e-5))

    assert main(["backtest", "--data", str(out), "--config", str(cfg), "--latency-ms", "50"]) == 0
    text = capsys.readouterr().out
    assert "latency 50 ms" in text and "max |q|" in text and "given up to skew" in text


def test_record_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["record", "--duration", "1", "--out", str(tmp_path / "missing-dir" / "x.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"mmbot: --out: {tmp_path / 'missing-dir' / 'x.jsonl'} is not a writable file path"]
    with pytest.raises(SystemExit) as exc:
        main(["record", "--duration", "0", "--out", str(tmp_path / "x.jsonl")])
    assert exc.value.code == 2
    assert main(["record", "--duration", "1", "--out", str(tmp_path / "x.jsonl"), "--symbol", "NOPE/USDT"]) == 2
    lines = [x for x in capsys.readouterr().err.strip().splitlines() if x.startswith("mmbot:")]
    assert len(lines) == 1 and "unknown symbol 'NOPE/USDT'" in lines[0]


class FakeVenue:
    """Books change every call; trades are not supported (or the symbol is unknown)."""

    def __init__(self, trades_error: Exception) -> None:
        self.n = 0
        self.trades_error = trades_error

    async def watch_order_book(self, symbol: str) -> dict[str, list[list[float]]]:
        await asyncio.sleep(0.01)
        self.n += 1
        return {"bids": [[100.0 - 0.01 * (self.n % 3), 1.0]], "asks": [[100.05, float(self.n)]]}

    async def watch_trades(self, symbol: str) -> list[dict[str, object]]:
        raise self.trades_error


async def test_recording_goes_on_without_trades_and_stops_on_request() -> None:
    buf = io.StringIO()
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.2, stop.set)
    stats = await record(FakeVenue(ccxt.NotSupported("no trades")), [S], 30.0, JsonLinesWriter(buf), stop=stop)
    assert stats.books > 5 and stats.trades == 0 and stats.snapshots == 1
    events = list(iter_events(buf.getvalue().splitlines()))
    assert len(events) == stats.books and all(isinstance(e, BookEvent) for e in events)


async def test_a_fatal_feed_error_ends_the_recording() -> None:
    with pytest.raises(ccxt.BadSymbol):
        await record(FakeVenue(ccxt.BadSymbol("no such market")), [S], 30.0, JsonLinesWriter(io.StringIO()))
