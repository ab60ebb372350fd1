"""Recording format round trip; `mmbot calibrate` recovers known sigma, A, kappa from synthetic data."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.research.l2book import L2Book
from bot.research.recording import (
    BookEvent,
    TradeEvent,
    iter_events,
    read_recording,
    write_recording,
)
from bot.research.replay import calibration_samples

SIGMA, A_SIDE, KAPPA = 0.05, 1.5, 40.0


def test_round_trip_plain_and_gzip(tmp_path: Path, make_events) -> None:
    events = make_events(SIGMA, A_SIDE, KAPPA, duration=20.0, seed=1)
    for name in ("r.jsonl", "r.jsonl.gz"):
        path = tmp_path / name
        assert write_recording(path, events, meta={"venue": "synthetic"}) == len(events)
        assert read_recording(path) == events
    with gzip.open(tmp_path / "r.jsonl.gz", "rt") as fh:
        assert json.loads(fh.readline())["type"] == "meta"


def test_l2_book_snapshot_and_diffs() -> None:
    book = L2Book()
    book.apply(BookEvent(0.0, "X", ((99.0, 1.0), (98.0, 2.0)), ((101.0, 1.0),)))
    assert book.mid() == 100.0
    book.apply(BookEvent(1.0, "X", ((99.0, 0.0), (99.5, 3.0)), (), snapshot=False))
    assert (book.best_bid, book.best_ask) == (99.5, 101.0)
    book.apply(BookEvent(2.0, "X", (), ((101.0, 0.0),), snapshot=False))
    assert book.mid() is None  # one-sided
    book.apply(BookEvent(3.0, "X", ((50.0, 1.0),), ((51.0, 1.0),)))
    assert book.bids == {50.0: 1.0} and book.mid() == 50.5


def test_sweep_prints_count_as_one_arrival_at_the_deepest_price() -> None:
    events = [
        BookEvent(0.0, "X", ((99.0, 1.0),), ((101.0, 1.0),)),
        TradeEvent(1.0, "X", 101.0, 1.0, "buy"),
        TradeEvent(1.0, "X", 102.0, 1.0, "buy"),
        TradeEvent(1.0, "X", 103.0, 0.5, "buy"),
        TradeEvent(2.0, "X", 98.0, 0.5, "sell"),
        TradeEvent(3.0, "X", 100.5, 0.5, None),
        TradeEvent(3.0, "Y", 7.0, 0.5, "sell"),
    ]
    samples = calibration_samples([TradeEvent(-1.0, "X", 1.0, 1.0, "buy"), *events], "X")
    assert samples.buy_depths.tolist() == [3.0]
    assert samples.sell_depths.tolist() == [2.0]
    assert samples.unsided_depths.tolist() == [0.5]
    assert samples.duration == 3.0
    assert samples.trades_skipped == 1
    assert samples.half_spreads.tolist() == [1.0]


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("not json", "line 1"),
        ('{"type": "quote", "ts": 1, "symbol": "X"}', "unknown event type"),
        ('{"type": "trade", "ts": 1, "symbol": "X", "price": -1, "amount": 1}', "positive"),
        ('{"type": "trade", "ts": "x", "symbol": "X", "price": 1, "amount": 1}', "'ts'"),
        ('{"type": "book", "ts": 1, "symbol": "X", "bids": [[1]]}', "pairs"),
        ('{"type": "trade", "ts": 1, "symbol": "X", "price": 1, "amount": 1, "side": "up"}', "side"),
        ('{"type": "meta", "version": 99}', "version"),
    ],
)
def test_reader_rejects_malformed_lines(line: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        list(iter_events([line]))


def test_calibrate_recovers_known_parameters(tmp_path: Path, make_events, capsys) -> None:
    # 4000 s at 1.5 arrivals/s per side: ~12000 arrivals, so a 10% tolerance is > 5 standard errors.
    path = tmp_path / "synthetic.jsonl.gz"
    write_recording(path, make_events(SIGMA, A_SIDE, KAPPA, duration=4000.0, seed=2))
    assert main(["calibrate", "--data", str(path), "--json", "--gamma", "0.5", "--tick", "0.001"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sigma"] == pytest.approx(SIGMA, rel=0.10)
    assert report["A"] == pytest.approx(A_SIDE, rel=0.10)
    assert report["kappa"] == pytest.approx(KAPPA, rel=0.10)
    for side in ("buy", "sell"):
        assert report["by_side"][side]["A"] == pytest.approx(A_SIDE, rel=0.10)
    # per order, in price: gamma*(sigma/tick)^2*horizon ticks of 0.001
    assert report["suggestions"]["as_skew"] == pytest.approx(0.5 * (report["sigma"] / 0.001) ** 2 * 60.0 * 0.001)
    assert report["suggestions"]["max_position"] >= report["suggestions"]["order_size"] == 0.002  # the default config's
    assert report["median_half_spread"] == pytest.approx(0.001)


def test_calibrate_text_output(tmp_path: Path, make_events, capsys) -> None:
    path = tmp_path / "r.jsonl"
    write_recording(path, make_events(SIGMA, A_SIDE, KAPPA, duration=200.0, seed=3))
    assert main(["calibrate", "--data", str(path), "--bin-width", "0.01"]) == 0
    out = capsys.readouterr().out
    for word in ("sigma", "kappa", "GLFT", "max_position", "least-squares"):
        assert word in out


def _one_line_exit_2(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mmbot: "), err
    return err


def test_calibrate_missing_file(tmp_path: Path, capsys) -> None:
    assert "cannot read" in _one_line_exit_2(["calibrate", "--data", str(tmp_path / "nope.jsonl")], capsys)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("garbage\n", "line 1"),
        ("", "no book or trade"),
        ('{"type":"trade","ts":1,"symbol":"X","price":1,"amount":1,"side":"buy"}\n', "need at least two"),
    ],
)
def test_calibrate_malformed_file(tmp_path: Path, capsys, content: str, match: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    assert match in _one_line_exit_2(["calibrate", "--data", str(path)], capsys)


def test_calibrate_binary_file(tmp_path: Path, capsys) -> None:
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(b"\x00\x01 not gzip")
    _one_line_exit_2(["calibrate", "--data", str(path)], capsys)


def test_calibrate_bad_flags_and_symbols(tmp_path: Path, make_events, capsys) -> None:
    path = tmp_path / "two.jsonl"
    events = make_events(SIGMA, A_SIDE, KAPPA, duration=20.0, seed=4)
    events += make_events(SIGMA, A_SIDE, KAPPA, duration=20.0, seed=5, symbol="ETH/USDT")
    write_recording(path, sorted(events, key=lambda e: e.ts))
    assert "--symbol is required" in _one_line_exit_2(["calibrate", "--data", str(path)], capsys)
    assert "not in the recording" in _one_line_exit_2(
        ["calibrate", "--data", str(path), "--symbol", "DOGE/USDT"], capsys
    )
    _one_line_exit_2(["calibrate", "--data", str(path), "--gamma", "0"], capsys)
    _one_line_exit_2(["calibrate", "--data", str(path), "--min-depth", "-1"], capsys)
    assert main(["calibrate", "--data", str(path), "--symbol", "ETH/USDT", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["symbol"] == "ETH/USDT"


def test_calibrate_takes_the_configured_order_size_and_prints_a_ready_block(
    tmp_path: Path, make_events, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --order-size the symbol's configured order size is the as/glft inventory unit, and the text ends
    with [symbols."X".strategy]/risk/execution tables that load as a config for that symbol."""
    import tomllib

    from bot.config import load_settings

    monkeypatch.delenv("MMBOT_EXECUTION__ORDER_SIZE", raising=False)
    path = tmp_path / "r.jsonl"
    write_recording(path, make_events(SIGMA, A_SIDE, KAPPA, duration=400.0, seed=4))
    symbol = json.loads(path.read_text().splitlines()[-1])["symbol"]
    config = tmp_path / "c.toml"
    config.write_text(f'[venue]\nsymbols = ["{symbol}"]\n[symbols."{symbol}".execution]\norder_size = 0.25\n')
    assert main(["calibrate", "--data", str(path), "--config", str(config), "--json", "--tick", "0.001"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["suggestions"]["order_size"] == 0.25
    assert main(["calibrate", "--data", str(path), "--config", str(config), "--tick", "0.001"]) == 0
    out = capsys.readouterr().out
    block = out[out.index("config (paste into your TOML):"):].splitlines()[1:]
    text = "\n".join(line[2:] for line in block)
    assert tomllib.loads(text)["symbols"][symbol]["execution"]["order_size"] == 0.25
    pasted = tmp_path / "pasted.toml"
    pasted.write_text(f'[venue]\nsymbols = ["{symbol}"]\n' + text + "\n")
    cfg = load_settings(pasted).for_symbol(symbol)
    assert cfg.strategy.model == "glft"
    assert cfg.strategy.gamma == 0.001  # the default config's
    assert cfg.risk.max_position >= 0.25
