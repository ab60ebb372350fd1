"""The binary recording (.mmb): lossless round trips, the readers' dispatch, damaged files, convert, record."""

from __future__ import annotations

import asyncio
import gc
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli import main
from bot.core.limits import LimitParams
from bot.core.models import ModelParams
from bot.core.quote import MarketRules
from bot.core.reconcile import Tolerance
from bot.research.backtest import BacktestParams, run_backtest
from bot.research.columnar import (
    MAGIC,
    BinaryWriter,
    is_binary,
    iter_binary,
    read_binary_meta,
    write_binary,
)
from bot.research.recorder import record
from bot.research.recording import (
    BookEvent,
    Event,
    TradeEvent,
    create_recording,
    iter_recording,
    read_meta,
    read_recording,
    write_recording,
)

DATA = Path(__file__).parent / "data" / "sim_btcusdt_1200_steps.jsonl.gz"

prices = st.floats(min_value=1e-9, max_value=1e12, allow_nan=False, allow_infinity=False)
sizes = st.floats(min_value=0.0, max_value=1e9, allow_nan=False, allow_infinity=False)
amounts = st.floats(min_value=1e-12, max_value=1e9, allow_nan=False, allow_infinity=False)
times = st.floats(min_value=-1e10, max_value=1e10, allow_nan=False, allow_infinity=False)
symbols = st.sampled_from(["BTC/USDT", "ETH/USDT", "Ünï/€"])
levels = st.lists(st.tuples(prices, sizes), max_size=6).map(tuple)
trade_ids = st.one_of(
    st.none(),
    st.integers(min_value=0, max_value=10**18).map(str),  # 19 digits does not fit: kept as a string
    st.sampled_from(["007", "0", "-5", "", "1e3", " 12", "9223372036854775808", "abc-1"]),
    st.text(max_size=8),
)
books = st.builds(BookEvent, times, symbols, levels, levels, st.booleans())
trades = st.builds(TradeEvent, times, symbols, prices, amounts, st.sampled_from(["buy", "sell", None]), trade_ids)
event_lists = st.lists(st.one_of(books, trades), max_size=30)
metas = st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=5), st.none()), max_size=3)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(events=event_lists, meta=metas, chunk_rows=st.integers(min_value=1, max_value=8))
def test_binary_round_trip_is_lossless(tmp_path: Path, events: list[Event], meta: dict[str, Any],
                                       chunk_rows: int) -> None:
    path = tmp_path / "r.mmb"
    with BinaryWriter(path, meta, chunk_rows=chunk_rows) as writer:
        assert writer.write(events) == len(events)
    assert list(iter_binary(path)) == events
    assert read_binary_meta(path) == meta
    # bit for bit: -0.0 and the float's every digit survive
    back = list(iter_binary(path))
    assert [repr(e) for e in back] == [repr(e) for e in events]


@SETTINGS
@given(events=event_lists)
def test_json_lines_and_binary_convert_both_ways_without_loss(tmp_path: Path, events: list[Event]) -> None:
    meta = {"symbols": sorted({e.symbol for e in events}), "venue": "sim"}
    write_recording(tmp_path / "a.jsonl", events, meta)
    assert main(["convert", str(tmp_path / "a.jsonl"), str(tmp_path / "b.mmb")]) == 0
    assert read_recording(tmp_path / "b.mmb") == read_recording(tmp_path / "a.jsonl")
    assert read_meta(tmp_path / "b.mmb") == meta
    assert main(["convert", str(tmp_path / "b.mmb"), str(tmp_path / "c.jsonl.gz")]) == 0
    assert read_recording(tmp_path / "c.jsonl.gz") == read_recording(tmp_path / "a.jsonl")
    assert read_meta(tmp_path / "c.jsonl.gz") == meta


def test_readers_dispatch_on_the_magic_not_the_name(tmp_path: Path) -> None:
    events = read_recording(DATA)
    path = tmp_path / "renamed.jsonl"  # binary content under a JSON-lines name
    assert write_binary(path, events, {"symbols": ["BTC/USDT"]}) == len(events)
    assert is_binary(path) and not is_binary(DATA)
    assert path.read_bytes().startswith(MAGIC)
    assert read_meta(path) == {"symbols": ["BTC/USDT"]}
    assert read_recording(path) == events
    assert list(iter_recording(path)) == events


def test_create_recording_picks_the_format_by_suffix(tmp_path: Path) -> None:
    events = read_recording(DATA)[:50]
    for name, binary in (("x.mmb", True), ("x.jsonl", False), ("x.jsonl.gz", False)):
        with create_recording(tmp_path / name, {"venue": "sim"}) as writer:
            assert writer.write(events) == len(events)
        assert is_binary(tmp_path / name) is binary
        assert read_recording(tmp_path / name) == events and read_meta(tmp_path / name) == {"venue": "sim"}
    with pytest.raises(ValueError, match="not gzipped"):
        create_recording(tmp_path / "x.mmb.gz")


def test_the_backtest_reads_the_binary_file_with_the_same_result(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "sim.mmb"
    assert main(["convert", str(DATA), str(path)]) == 0
    capsys.readouterr()
    assert main(["backtest", "--data", str(DATA), "--json"]) == 0
    from_json = json.loads(capsys.readouterr().out)
    assert main(["backtest", "--data", str(path), "--json"]) == 0
    from_binary = json.loads(capsys.readouterr().out)
    assert from_json.pop("data") == str(DATA) and from_binary.pop("data") == str(path)
    assert from_binary == from_json and from_json["orders_placed"] > 0


def test_streaming_leaves_the_collector_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "r.mmb"
    write_binary(path, read_recording(DATA)[:100])
    assert gc.isenabled()
    assert len(list(iter_binary(path))) == 100 and gc.isenabled()
    gc.disable()
    try:
        assert len(list(iter_binary(path))) == 100 and not gc.isenabled()
    finally:
        gc.enable()


def _one_line_error(path: Path) -> str:
    with pytest.raises(ValueError) as exc:
        list(iter_recording(path))
    text = str(exc.value)
    assert text and "\n" not in text
    return text


def test_a_file_cut_anywhere_is_refused_in_one_line(tmp_path: Path) -> None:
    whole = tmp_path / "whole.mmb"
    events = read_recording(DATA)[:40]
    with BinaryWriter(whole, {"symbols": ["BTC/USDT"]}, chunk_rows=64) as writer:
        writer.write(events)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mmb"
    for end in range(len(MAGIC), len(data), max(1, len(data) // 97)):
        cut.write_bytes(data[:end])
        assert "cut short" in _one_line_error(cut)
    cut.write_bytes(data[:-12])  # every chunk there, the end record missing: the writer did not finish
    assert "the writer did not finish" in _one_line_error(cut)
    cut.write_bytes(data + b"x")
    assert "after the end record" in _one_line_error(cut)


def test_damaged_rows_and_tables_are_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "r.mmb"
    write_binary(path, [BookEvent(1.0, "S", ((1.0, 2.0),), ((1.5, 1.0),), True),
                        TradeEvent(2.0, "S", 1.2, 0.5, "buy", "abc")])
    data = path.read_bytes()
    table = data.index(b'{"symbols"')
    rows = data.index(b"]}", table) + 2
    flags = rows + 34  # the first row's flags (u16 after ts, price, size, ident, symbol)
    damaged = {
        "unknown row flags": data[:flags] + b"\xff\xff" + data[flags + 2:],
        "does not start an event": data[:flags] + b"\x00\x00" + data[flags + 2:],
        "table": data[:table] + b"[" + data[table + 1:],
        "a symbol index beyond": data[:flags - 2] + b"\x09\x00" + data[flags:],
        "not a chunk header": data[:table - 12] + b"JUNK" + data[table - 8:],
        "finite": data[:rows + 8] + b"\x00\x00\x00\x00\x00\x00\xf8\x7f" + data[rows + 16:],  # price NaN
    }
    for reason, content in damaged.items():
        path.write_bytes(content)
        assert reason in _one_line_error(path), reason
    path.write_bytes(b"\x89MMB\r\n\x1a\n" + b"\x07\x00\x00\x00\x00\x00\x00\x00")
    assert "version 7" in _one_line_error(path)


def test_the_writer_refuses_what_the_format_cannot_hold(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a finite number"):
        write_binary(tmp_path / "nan.mmb", [TradeEvent(1.0, "S", float("nan"), 1.0)])
    with pytest.raises(TypeError):  # the compiled build's own type check, or the writer's
        write_binary(tmp_path / "bad.mmb", ["book"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="trade side"):
        write_binary(tmp_path / "side.mmb", [TradeEvent(1.0, "S", 1.0, 1.0, "up")])


def test_convert_prints_one_line_and_bad_input_exits_2(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "x.mmb"
    assert main(["convert", str(DATA), str(out)]) == 0
    line = capsys.readouterr().out.strip()
    assert "\n" not in line and line.startswith(f"converted {len(read_recording(DATA))} events")
    assert f"{out.stat().st_size} bytes" in line

    not_rec = tmp_path / "notes.txt"
    not_rec.write_text("hello\n", encoding="utf-8")
    cases = [
        ([str(tmp_path / "missing.jsonl"), str(tmp_path / "y.mmb")], "IN: cannot read"),
        ([str(not_rec), str(tmp_path / "y.mmb")], "IN: "),
        ([str(DATA), str(tmp_path / "no-dir" / "y.mmb")], "is not a writable file path"),
        ([str(DATA), str(tmp_path / "y.mmb.gz")], "not gzipped"),
        ([str(out), str(out)], "OUT is IN"),
    ]
    for argv, expected in cases:
        assert main(["convert", *argv]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("mmbot: ") and expected in err[0], (argv, err)
    assert not (tmp_path / "y.mmb").exists()

    bad_late = tmp_path / "late.jsonl"  # the error is past the meta: OUT was created, then removed
    bad_late.write_text('{"type":"meta","version":1}\n{"type":"trade","ts":1,"symbol":"S","price":-1,"amount":1}\n',
                        encoding="utf-8")
    assert main(["convert", str(bad_late), str(tmp_path / "late.mmb")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "line 2" in err[0]
    assert not (tmp_path / "late.mmb").exists()


class _Venue:
    """A venue whose book changes each call and whose trades carry every kind of id."""

    def __init__(self) -> None:
        self.n = self.t = 0

    async def watch_order_book(self, symbol: str) -> dict[str, list[list[float]]]:
        await asyncio.sleep(0.005)
        self.n += 1
        return {"bids": [[100.0 - 0.01 * (self.n % 3), 1.0]], "asks": [[100.05, float(self.n)]]}

    async def watch_trades(self, symbol: str) -> list[dict[str, object]]:
        await asyncio.sleep(0.01)
        self.t += 1
        return [{"id": f"t-{self.t}" if self.t % 2 else str(self.t), "price": 100.0, "amount": 0.5,
                 "side": "buy" if self.t % 3 else None}]


async def test_record_writes_a_binary_recording(tmp_path: Path) -> None:
    path = tmp_path / "rec.mmb"
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.2, stop.set)
    with create_recording(path, {"symbols": ["S/T"]}) as writer:
        stats = await record(_Venue(), ["S/T"], 30.0, writer, stop=stop)
    events = read_recording(path)
    assert is_binary(path) and read_meta(path) == {"symbols": ["S/T"]}
    assert stats.books > 3 and stats.trades > 3 and len(events) == stats.books + stats.trades
    trades = [e for e in events if isinstance(e, TradeEvent)]
    assert {t.id is not None and t.id.startswith("t-") for t in trades} == {True, False}
    assert None in {t.side for t in trades}
    assert [e.ts for e in events] == sorted(e.ts for e in events)
    result = run_backtest(iter_recording(path), "S/T", _params())
    assert result.events == len(events)


def _params() -> BacktestParams:
    return BacktestParams(model=ModelParams(model="linear", half_spread=0.03, skew=0.05),
                          limits=LimitParams(max_position=1.0, order_size=0.1),
                          rules=MarketRules(tick=0.01, lot=0.01, min_qty=0.01, min_notional=0.0),
                          tolerance=Tolerance(0.01, 2))
