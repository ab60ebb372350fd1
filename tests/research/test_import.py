"""mmbot import: small files written to each documented schema (Tardis.dev CSV, Binance public data), the
events they give, the merge, the one-line errors, and an import that `mmbot backtest` replays."""

from __future__ import annotations

import gzip
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.cli import main
from bot.research.events import BookEvent, Event, TradeEvent
from bot.research.importers import FORMATS, binance, infer_lot, merged, tardis
from bot.research.importers.rows import Row, epoch_seconds
from bot.research.recording import read_meta, read_recording

SAMPLE = Path(__file__).parent / "data" / "sim_btcusdt_1200_steps.jsonl.gz"
REPO = Path(__file__).resolve().parents[2]
L2_HEADER = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount"
TRADES_HEADER = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount"
TICKER_HEADER = "update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,event_time"
T0 = 1_700_000_000_000_000  # microseconds


def rows(text: str) -> list[Row]:
    return [(n, line.split(",")) for n, line in enumerate(text.strip().splitlines(), start=1)]


def write(path: Path, text: str) -> Path:
    """``text`` as a .csv, .csv.gz or a .zip holding one .csv, by ``path``'s suffix."""
    data = text.strip() + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data.encode()))
    elif path.suffix == ".zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr(path.with_suffix(".csv").name, data)
    else:
        path.write_text(data)
    return path


def snapshot_header(levels: int) -> str:
    return "exchange,symbol,timestamp,local_timestamp," + ",".join(
        f"{side}[{i}].{what}" for i in range(levels) for side in ("asks", "bids") for what in ("price", "amount"))


# --- Tardis.dev ---------------------------------------------------------------------------------------


def test_incremental_l2_snapshot_run_then_diffs_per_message() -> None:
    text = f"""{L2_HEADER}
binance,BTCUSDT,{T0},{T0 + 900},true,ask,100.3,4
binance,BTCUSDT,{T0},{T0 + 900},true,bid,100.0,0
binance,BTCUSDT,{T0},{T0 + 900},true,ask,100.2,3
binance,BTCUSDT,{T0},{T0 + 900},true,bid,100.1,5
binance,ETHUSDT,{T0 + 50_000},{T0 + 50_900},false,bid,2000.1,1
binance,BTCUSDT,{T0 + 100_000},{T0 + 100_900},false,bid,100.1,0
binance,BTCUSDT,{T0 + 100_000},{T0 + 100_900},false,bid,100.05,2.5
binance,BTCUSDT,{T0 + 100_000},{T0 + 101_500},false,ask,100.2,1.25
binance,BTCUSDT,,{T0 + 200_000},false,ask,100.25,1
binance,BTCUSDT,{T0 + 300_000},{T0 + 300_900},true,bid,99.9,1
binance,BTCUSDT,{T0 + 300_001},{T0 + 300_901},true,ask,100.4,2
"""
    got = list(tardis.incremental_l2(rows(text), "book.csv", "BTC/USDT"))
    t0 = T0 / 1e6
    assert got == [
        # the snapshot: one event, best first, the empty level left out
        BookEvent(t0, "BTC/USDT", ((100.1, 5.0),), ((100.2, 3.0), (100.3, 4.0)), True),
        # one message (same timestamp and local_timestamp): one diff, 0 removes
        BookEvent(t0 + 0.1, "BTC/USDT", ((100.1, 0.0), (100.05, 2.5)), (), False),
        # same exchange time, another local message: another diff
        BookEvent(t0 + 0.1, "BTC/USDT", (), ((100.2, 1.25),), False),
        # no exchange timestamp: the local one
        BookEvent(t0 + 0.2, "BTC/USDT", (), ((100.25, 1.0),), False),
        # a reconnection's snapshot run replaces the book, stamped with its latest time
        BookEvent(t0 + 0.300001, "BTC/USDT", ((99.9, 1.0),), ((100.4, 2.0),), True),
    ]


def test_book_snapshot_rows_skip_empty_levels() -> None:
    cells = ["100.2", "3", "100.1", "5", "100.3", "4", "", "", *([""] * 4 * 23)]
    text = f"{snapshot_header(25)}\nbinance,BTCUSDT,{T0},{T0 + 1},{','.join(cells)}\n"
    got = list(tardis.book_snapshot(rows(text), "snap.csv", "BTC/USDT"))
    assert got == [BookEvent(T0 / 1e6, "BTC/USDT", ((100.1, 5.0),), ((100.2, 3.0), (100.3, 4.0)), True)]
    # book_snapshot_5 has the same layout
    five = f"{snapshot_header(5)}\nbinance,BTCUSDT,{T0},{T0 + 1},{','.join(cells[:20])}\n"
    assert list(tardis.book_snapshot(rows(five), "snap5.csv", "BTC/USDT")) == got


def test_tardis_trades_sides_and_ids() -> None:
    text = f"""{TRADES_HEADER}
binance,BTCUSDT,{T0},{T0 + 5},123,buy,100.2,0.5
binance,BTCUSDT,{T0 + 1000},{T0 + 1005},00000000-006d-1000,sell,100.1,0.25
binance,BTCUSDT,{T0 + 2000},{T0 + 2005},,unknown,100.1,0.001
"""
    got = list(tardis.trades(rows(text), "trades.csv", "BTC/USDT"))
    t0 = T0 / 1e6
    assert got == [TradeEvent(t0, "BTC/USDT", 100.2, 0.5, "buy", "123"),
                   TradeEvent(t0 + 0.001, "BTC/USDT", 100.1, 0.25, "sell", "00000000-006d-1000"),
                   TradeEvent(t0 + 0.002, "BTC/USDT", 100.1, 0.001, None, None)]


def test_capture_clock_stamps_tardis_rows_with_local_timestamp(tmp_path: Path) -> None:
    # the exchange's clock goes back on line 3; the capture clock is in file order
    text = f"""{TRADES_HEADER}
binance,BTCUSDT,{T0 + 2000},{T0 + 5000},1,buy,100.2,0.5
binance,BTCUSDT,{T0 + 1000},{T0 + 6000},2,sell,100.1,0.25
"""
    path = write(tmp_path / "trades.csv", text)
    with pytest.raises(ValueError, match=r"trades\.csv line 3: expected tardis-trades rows in time order, got "
                                         r".* s after .* s \(--clock capture stamps rows with local_timestamp, "
                                         r"in file order\)"):
        list(FORMATS["tardis-trades"].read(path, "BTC/USDT"))
    got = list(FORMATS["tardis-trades"].read(path, "BTC/USDT", capture_clock=True))
    assert [e.ts for e in got] == [(T0 + 5000) / 1e6, (T0 + 6000) / 1e6]
    with pytest.raises(ValueError, match="binance-trades files have no capture time"):
        FORMATS["binance-trades"].read(path, "BTC/USDT", capture_clock=True)


# --- Binance public data ---------------------------------------------------------------------------------


def test_binance_spot_trades_milliseconds_and_microseconds(tmp_path: Path) -> None:
    # no header; isBuyerMaker True: the taker sold. 2024 files in ms, 2025 files in us.
    text = """51175358,17.80180000,5.69000000,101.29224200,1704067199999,True,True
51175359,17.80190000,1.00000000,17.80190000,1735689600010866,False,True
"""
    path = write(tmp_path / "BNBUSDT-trades-2025-01.zip", text)
    got = list(FORMATS["binance-trades"].read(path, "BNB/USDT"))
    assert got == [TradeEvent(1704067199.999, "BNB/USDT", 17.8018, 5.69, "sell", "51175358"),
                   TradeEvent(1735689600.010866, "BNB/USDT", 17.8019, 1.0, "buy", "51175359")]


def test_binance_usdm_trades_and_agg_trades_with_their_header() -> None:
    trades = "id,price,qty,quote_qty,time,is_buyer_maker\n28457,4.00000100,12.00000000,48.00,1499865549590,true\n"
    assert list(binance.trades(rows(trades), "t.csv", "X/USDT")) == [
        TradeEvent(1499865549.59, "X/USDT", 4.000001, 12.0, "sell", "28457")]
    spot_agg = "0,0.20000000,50.00000000,0,0,1608872400000,False,True\n"
    assert list(binance.agg_trades(rows(spot_agg), "a.csv", "X/USDT")) == [
        TradeEvent(1608872400.0, "X/USDT", 0.2, 50.0, "buy", "0")]
    usdm_agg = ("agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n"
                "26129,0.01633102,4.70443515,27781,27781,1498793709153,true\n")
    assert list(binance.agg_trades(rows(usdm_agg), "a.csv", "X/USDT")) == [
        TradeEvent(1498793709.153, "X/USDT", 0.01633102, 4.70443515, "sell", "26129")]


def test_binance_book_ticker_rows_are_top_of_book_snapshots(tmp_path: Path) -> None:
    text = f"""{TICKER_HEADER}
3062820799546,26.67000000,172.00000000,26.67100000,582.00000000,1689379200098,1689379200104
3062820799547,26.67000000,0,26.67100000,500.00000000,,1689379200110
"""
    path = write(tmp_path / "SOLUSDT-bookTicker-2023-07-15.csv.gz", text)
    got = list(FORMATS["binance-usdm-bookticker"].read(path, "SOL/USDT:USDT"))
    assert got == [BookEvent(1689379200.098, "SOL/USDT:USDT", ((26.67, 172.0),), ((26.671, 582.0),), True),
                   BookEvent(1689379200.11, "SOL/USDT:USDT", (), ((26.671, 500.0),), True)]


# --- the merge, the lot ------------------------------------------------------------------------------------


def _as_tardis(events: list[Event]) -> tuple[str, str]:
    """A recording written back as Tardis incremental_book_L2 and trades CSV (one message per book event)."""
    book, trades = [L2_HEADER], [TRADES_HEADER]
    for i, event in enumerate(events):
        ts = round(event.ts * 1e6)
        if isinstance(event, BookEvent):
            for side, levels in (("bid", event.bids), ("ask", event.asks)):
                book.extend(f"sim,BTCUSDT,{ts},{i},{str(event.snapshot).lower()},{side},{p!r},{q!r}"
                            for p, q in levels)
        else:
            trades.append(f"sim,BTCUSDT,{ts},{i},{event.id or ''},{event.side or 'unknown'},"
                          f"{event.price!r},{event.amount!r}")
    return "\n".join(book), "\n".join(trades)


def test_a_recording_written_as_tardis_csv_imports_back_equal() -> None:
    events = read_recording(SAMPLE)
    book, trades = _as_tardis(events)
    got = merged([tardis.incremental_l2(rows(book), "book.csv", "BTC/USDT"),
                  tardis.trades(rows(trades), "trades.csv", "BTC/USDT")])
    # at equal times trades come first, as mmbot record writes them
    assert list(got) == events


def test_merge_puts_trades_before_books_at_equal_times() -> None:
    book = BookEvent(1.0, "S", ((1.0, 1.0),), ((2.0, 1.0),))
    trade = TradeEvent(1.0, "S", 2.0, 0.5, "buy")
    later = TradeEvent(0.5, "S", 2.0, 0.5, "buy")
    assert list(merged([[book], [later, trade]])) == [later, trade, book]


@given(st.lists(st.lists(st.integers(0, 50), max_size=20), max_size=4))
def test_merge_is_a_time_ordered_permutation(times: list[list[int]]) -> None:
    streams = [[TradeEvent(float(t), "S", 1.0, 1.0, None, f"{n}.{i}") for i, t in enumerate(sorted(ts))]
               for n, ts in enumerate(times)]
    got = list(merged(streams))
    assert [e.ts for e in got] == sorted(e.ts for s in streams for e in s)
    assert sorted(e.id or "" for e in got) == sorted(e.id or "" for s in streams for e in s)


@given(st.integers(0, 8), st.lists(st.integers(1, 10**6), min_size=1, max_size=30))
def test_inferred_lot_is_the_coarsest_power_of_ten_the_sizes_are_multiples_of(digits: int, units: list[int]) -> None:
    sizes = [u / 10**digits for u in units]
    lot = infer_lot(TradeEvent(0.0, "S", 1.0, size, None) for size in sizes)
    assert all(abs(size / lot - round(size / lot)) < 1e-6 for size in sizes)
    assert lot >= 10.0**-digits  # never finer than the sizes were written with
    coarser = lot * 10
    assert lot == 1 or any(abs(size / coarser - round(size / coarser)) > 1e-6 for size in sizes)  # the coarsest


def test_inferred_lot_ignores_float_noise_in_the_sizes() -> None:
    """Sizes written by a program that multiplied floats (0.01113 as 0.011130000000000001) have the lot of
    their intended value, not 1e-20."""
    sizes = [0.011130000000000001, 0.0034000000000000002, 0.00453]
    assert infer_lot(TradeEvent(0.0, "S", 1.0, size, None) for size in sizes) == 0.00001


@given(st.integers(946_684_800_000, 4_102_444_800_000))  # 2000 .. 2100, in milliseconds
def test_epoch_seconds_reads_milliseconds_and_microseconds_alike(ms: int) -> None:
    assert epoch_seconds(ms) == pytest.approx(ms / 1e3, abs=1e-6)
    assert epoch_seconds(ms * 1000) == pytest.approx(ms / 1e3, abs=1e-6)
    assert epoch_seconds(ms * 1_000_000) == pytest.approx(ms / 1e3, abs=1e-6)


prices = st.integers(1, 10**7).map(lambda n: n / 100)
sizes = st.integers(1, 10**8).map(lambda n: n / 10**5)
levels = st.dictionaries(prices, sizes, max_size=6)


@given(st.lists(st.tuples(levels, levels, st.integers(0, 10**6)), min_size=1, max_size=12))
def test_book_events_written_as_incremental_l2_rows_parse_back(books: list[tuple[dict[float, float],
                                                                                  dict[float, float], int]]) -> None:
    """A snapshot then diffs (one message each, sizes 0 included), as Tardis writes them, give the same events."""
    events, lines, ts = [], [L2_HEADER], T0
    for i, (bids, asks, gap) in enumerate(books):
        ts += gap
        snapshot = i == 0
        if not snapshot:  # a diff may remove levels: size 0
            bids = {p: (0.0 if n % 3 == 0 else q) for n, (p, q) in enumerate(bids.items())}
        if not bids and not asks:
            continue
        kept = (lambda q: q > 0) if snapshot else (lambda q: True)
        events.append(BookEvent(ts / 1e6, "BTC/USDT", tuple(sorted(((p, q) for p, q in bids.items() if kept(q)),
                                                                   reverse=True)),
                                tuple(sorted((p, q) for p, q in asks.items() if kept(q))), snapshot))
        for side, book in (("bid", bids), ("ask", asks)):
            lines.extend(f"x,BTCUSDT,{ts},{i},{str(snapshot).lower()},{side},{p!r},{q!r}" for p, q in book.items())
    if not events:
        with pytest.raises(ValueError, match=r"^b\.csv: no rows of BTC/USDT \(only a header\)$"):
            list(tardis.incremental_l2(rows("\n".join(lines)), "b.csv", "BTC/USDT"))
        return
    assert list(tardis.incremental_l2(rows("\n".join(lines)), "b.csv", "BTC/USDT")) == events


@given(st.lists(st.tuples(st.integers(0, 10**6), prices, sizes, st.booleans()), max_size=20),
       st.sampled_from(["ms", "us"]))
def test_binance_trades_rows_parse_back(trades: list[tuple[int, float, float, bool]], unit: str) -> None:
    scale = 1000 if unit == "us" else 1
    t0 = 1_704_067_200_000 * scale
    lines, events, ts = [], [], t0
    for i, (gap, price, amount, buyer_maker) in enumerate(trades):
        ts += gap
        lines.append(f"{i},{price!r},{amount!r},{price * amount!r},{ts},{buyer_maker},True")
        events.append(TradeEvent(ts / (1e3 * scale), "BTC/USDT", price, amount, "sell" if buyer_maker else "buy",
                                 str(i)))
    if not lines:
        return
    assert list(binance.trades(rows("\n".join(lines)), "t.csv", "BTC/USDT")) == events


# --- the one-line errors -------------------------------------------------------------------------------------


BAD = {
    "wrong header": ("tardis-trades", "trades.csv", f"{L2_HEADER}\nbinance,BTCUSDT,{T0},{T0},true,bid,1,1",
                     "trades.csv line 1: expected tardis-trades columns exchange,symbol,timestamp,"),
    "wrong column count": ("tardis-incremental-l2", "book.csv", f"{L2_HEADER}\nbinance,BTCUSDT,{T0},{T0},true,bid,1",
                           "book.csv line 2: expected tardis-incremental-l2 columns exchange,symbol,"),
    "L2 price not a number": ("tardis-incremental-l2", "l2.csv", f"{L2_HEADER}\nbinance,BTCUSDT,{T0},{T0},true,bid,x,1",
                              "l2.csv line 2: expected tardis-incremental-l2 a number in column price, got 'x'"),
    "L2 negative amount": ("tardis-incremental-l2", "l2.csv", f"{L2_HEADER}\nbinance,BTCUSDT,{T0},{T0},true,bid,1,-1",
                           "l2.csv line 2: expected tardis-incremental-l2 a non-negative size in column amount, "
                           "got '-1'"),
    "non-numeric price": ("binance-trades", "t.csv", "1,abc,1,1,1704067199999,True,True",
                          "t.csv line 1: expected binance-trades a number in column price, got 'abc'"),
    "empty file": ("tardis-book-snapshot-25", "s.csv", "",
                   "s.csv line 1: expected tardis-book-snapshot-25 columns exchange,symbol,timestamp,"),
    "time going back": ("binance-aggtrades", "a.csv",
                        "1,1.0,1.0,1,1,1704067199999,True,True\n2,1.0,1.0,2,2,1704067199000,True,True",
                        "a.csv line 2: expected binance-aggtrades rows in time order, got 1704067199.0 s after"),
    "bad side": ("tardis-trades", "tr.csv", f"{TRADES_HEADER}\nbinance,BTCUSDT,{T0},{T0},1,bid,1,1",
                 "tr.csv line 2: expected tardis-trades buy, sell or unknown in column side, got 'bid'"),
    "bookTicker header": ("binance-usdm-bookticker", "bt.csv", "id,price,qty,quote_qty,time,is_buyer_maker",
                          "bt.csv line 1: expected binance-usdm-bookticker columns update_id,best_bid_price,"),
    "another symbol": ("tardis-trades", "other.csv", f"{TRADES_HEADER}\nbinance,ETHUSDT,{T0},{T0},1,buy,1,1",
                       "other.csv: no rows of BTC/USDT (its symbol column holds ETHUSDT)"),
    "file named for another symbol": ("binance-trades", "ETHUSDT-trades-2024-01.csv", "1,1,1,1,1,True,True",
                                      "ETHUSDT-trades-2024-01.csv: the file name says ETHUSDT, not BTC/USDT"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_file_not_in_its_format_is_one_line(tmp_path: Path, case: str) -> None:
    fmt, name, text, message = BAD[case]
    path = tmp_path / name
    path.write_text(text + "\n" if text else "")
    with pytest.raises(ValueError) as caught:
        list(FORMATS[fmt].read(path, "BTC/USDT"))
    assert str(caught.value).startswith(str(tmp_path / message)), str(caught.value)
    assert "\n" not in str(caught.value)


def test_unreadable_containers_are_one_line(tmp_path: Path) -> None:
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as archive:
        archive.writestr("a.csv", "x\n")
        archive.writestr("b.csv", "y\n")
    not_gzip = tmp_path / "t.csv.gz"
    not_gzip.write_text("plain text\n")
    for path, message in ((two, "expected a .zip holding one .csv, it holds a.csv, b.csv"),
                          (not_gzip, "not a CSV text file (BadGzipFile")):
        with pytest.raises(ValueError, match="^" + str(path).replace(".", r"\.")) as caught:
            list(FORMATS["binance-trades"].read(path, "BTC/USDT"))
        assert message in str(caught.value)


# --- the command ---------------------------------------------------------------------------------------


@pytest.fixture
def tardis_files(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    book, trades = _as_tardis(read_recording(SAMPLE))
    yield write(tmp_path / "book.csv.gz", book), write(tmp_path / "trades.csv", trades)


def _backtest(path: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> dict[str, object]:
    assert main(["backtest", "--data", str(path), "--json", *flags]) == 0
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


def test_import_then_tune_prints_table_block_and_walk_forward(tmp_path: Path, tardis_files: tuple[Path, Path],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's end to end on an imported sample: the tuner prints its table, the recommended block and the
    walk-forward report, and writes the frontier, the block and the page."""
    book, trades = tardis_files
    out = tmp_path / "btc.mmb"
    assert main(["import", "--format", "tardis-incremental-l2", str(book), "--format", "tardis-trades", str(trades),
                 "--symbol", "BTC/USDT", "--out", str(out)]) == 0
    capsys.readouterr()
    results = tmp_path / "tune"
    assert main(["tune", "--data", str(out), "--config", str(REPO / "config" / "sim.toml"), "--grid",
                 "strategy.skew=0,5", "--grid", "strategy.half_spread=0.01,0.02", "--workers", "1",
                 "--out", str(results)]) == 0
    printed = capsys.readouterr().out
    assert 'recommended (trial ' in printed and '[symbols."BTC/USDT".strategy]' in printed
    assert "walk-forward: 4 trials fitted on the first part, 4 checked on the held-out part" in printed
    for name in ("trials.csv", "trials.json", "recommended.toml", "frontier.png", "paths.png", "tune.html"):
        assert (results / name).stat().st_size > 0, name


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".mmb"])
def test_import_then_backtest_replays_and_fills(tmp_path: Path, tardis_files: tuple[Path, Path], suffix: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    book, trades = tardis_files
    out = tmp_path / f"btc{suffix}"
    assert main(["import", "--format", "tardis-incremental-l2", str(book), "--format", "tardis-trades", str(trades),
                 "--symbol", "BTC/USDT", "--out", str(out)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("imported 1,984 events of BTC/USDT (book: 1 snapshot, 1,161 diffs; 822 trades)")
    assert "tick 0.01 (inferred)" in line and line.endswith(f"-> {out}")
    meta = read_meta(out)
    market = meta["markets"]["BTC/USDT"]
    assert meta["symbols"] == ["BTC/USDT"] and market["tick"] == 0.01 and meta["clock"] == "exchange"
    assert [s["format"] for s in meta["source"]] == ["tardis-incremental-l2", "tardis-trades"]
    imported = _backtest(out, capsys, "--maker-fee", "0")  # no fee floor: this small market fills
    assert imported["fills"] > 0  # type: ignore[operator]
    # the same replay as the recording the files were written from, at the same tick and lot
    original = _backtest(SAMPLE, capsys, "--maker-fee", "0", "--tick", "0.01", "--lot", str(market["lot"]))
    assert {**imported, "data": None} == {**original, "data": None}


def test_import_errors_exit_2_with_one_line_and_leave_no_file(tmp_path: Path, tardis_files: tuple[Path, Path],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    book, _ = tardis_files
    out = tmp_path / "out.jsonl"
    late = write(tmp_path / "bad.csv", f"{TRADES_HEADER}\nsim,BTCUSDT,1,1,1,buy,1,1\nsim,BTCUSDT,2,2,2,buy,x,1")
    one = write(tmp_path / "one.csv", f"{TRADES_HEADER}\nsim,BTCUSDT,1,1,1,buy,1,1")
    header_only = write(tmp_path / "header.csv", "id,price,qty,quote_qty,time,is_buyer_maker")
    cases = [
        (["--format", "nope", str(book)], "mmbot: --format: unknown format 'nope' (known: tardis-incremental-l2,"),
        (["--format", "tardis-trades"], "mmbot: --format tardis-trades: give the files after the format's name"),
        (["--format", "tardis-trades", str(tmp_path / "missing.csv")], "mmbot: cannot read "),
        (["--format", "tardis-trades", str(book)], f"mmbot: {book} line 1: expected tardis-trades columns"),
        (["--format", "tardis-trades", str(late), "--tick", "0.01", "--lot", "1"],
         f"mmbot: {late} line 3: expected tardis-trades a number in column price, got 'x'"),
        (["--format", "tardis-trades", str(late)],  # found while inferring the tick: the same line
         f"mmbot: {late} line 3: expected tardis-trades a number in column price, got 'x'"),
        (["--format", "tardis-trades", str(one)], "mmbot: cannot infer the tick size: fewer than two distinct prices; "
                                                   "pass --tick"),
        (["--format", "binance-trades", str(header_only)], "mmbot: no events of BTC/USDT in the files given"),
        (["--format", "binance-trades", str(book), "--clock", "capture"],
         "mmbot: --clock capture: binance-trades files have no capture time"),
    ]
    for flags, message in cases:
        assert main(["import", *flags, "--symbol", "BTC/USDT", "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(message) and "pass --tick" not in err[0][len(message):], err
        assert not out.exists()


def test_import_binance_files_of_two_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ticker = write(tmp_path / "BTCUSDT-bookTicker-2024-01-01.csv", f"""{TICKER_HEADER}
1,42000.10,1.500,42000.20,0.700,1704067200000,1704067200001
2,42000.10,1.200,42000.30,0.500,1704067200250,1704067200251
""")
    agg = write(tmp_path / "BTCUSDT-aggTrades-2024-01-01.zip", """
agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker
7,42000.20,0.200,70,71,1704067200100,false
8,42000.10,0.300,72,72,1704067200250,true
""")
    out = tmp_path / "btc.jsonl"
    assert main(["import", "--format", "binance-usdm-bookticker", str(ticker), "--format", "binance-aggtrades",
                 str(agg), "--symbol", "BTC/USDT:USDT", "--out", str(out)]) == 0
    assert "(book: 2 snapshots, 0 diffs; 2 trades)" in capsys.readouterr().out
    assert read_meta(out)["markets"]["BTC/USDT:USDT"] == {"tick": 0.1, "lot": 0.1, "base": "BTC", "quote": "USDT"}
    assert [type(e).__name__ for e in read_recording(out)] == ["BookEvent", "TradeEvent", "TradeEvent", "BookEvent"]
