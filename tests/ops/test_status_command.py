"""`mmbot status` against a real ops server on loopback, and against a port where nothing answers."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.ops import Metrics, start_ops_server

STATUS: dict[str, Any] = {
    "killed": False,
    "kill_reason": None,
    "venue": "sim",
    "symbols": {
        "BTC/USDT": {
            "q": 0.03,
            "limit": 0.1,
            "mid": 30000.0,
            "bid": 29999.5,
            "ask": None,
            "total_pnl": 1.25,
            "realized_pnl": 2.0,
            "fees": 0.5,
            "fills": 14,
            "feed_age": 0.4,
        },
        "ETH/USDT": {"q": -1.5, "limit": 3.0, "mid": 2000.0, "bid": 1999.9, "ask": 2000.1, "total_pnl": -0.75},
    },
}


async def run_status(argv: list[str], ready: tuple[bool, str]) -> tuple[int, str]:
    server = await start_ops_server(Metrics(), lambda: ready, lambda: STATUS)
    try:
        code = await asyncio.to_thread(main, ["status", "--url", server.url, *argv])
        return code, server.url
    finally:
        await server.stop()


async def test_summary_of_a_ready_bot(capsys: pytest.CaptureFixture[str]) -> None:
    code, url = await run_status([], (True, "feed fresh"))
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"mmbot at {url}: ready, feed fresh"
    assert "kill switch: armed" in lines
    assert "venue: sim" in lines
    header = next(line for line in lines if line.startswith("symbol"))
    btc = next(line for line in lines if line.startswith("BTC/USDT")).split()
    eth = next(line for line in lines if line.startswith("ETH/USDT")).split()
    columns = header.split()
    assert btc[columns.index("q")] == "+0.03"
    assert btc[columns.index("ask")] == "-", "a side not quoted shows as '-'"
    assert btc[columns.index("pnl")] == "+1.2500"
    assert btc[columns.index("realized")] == "+2.0000"
    assert eth[columns.index("q")] == "-1.5"
    assert eth[columns.index("fills")] == "-"


async def test_not_ready_exits_1_and_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    killed = {**STATUS, "killed": True, "kill_reason": "max_loss 50 reached"}
    server = await start_ops_server(Metrics(), lambda: (False, "killed"), lambda: killed)
    try:
        code = await asyncio.to_thread(main, ["status", "--url", server.url + "/"])
    finally:
        await server.stop()
    out = capsys.readouterr().out
    assert code == 1
    assert out.splitlines()[0] == f"mmbot at {server.url}: NOT READY, killed"
    assert "kill switch: TRIPPED (max_loss 50 reached)" in out


async def test_json_output_is_the_documents(capsys: pytest.CaptureFixture[str]) -> None:
    code, url = await run_status(["--json"], (True, "ok"))
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc == {"url": url, "ready": {"ready": True, "reason": "ok"}, "status": STATUS}


def test_nothing_answering_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    code = main(["status", "--url", url, "--timeout", "2"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"mmbot: no bot answering at {url} (")


@pytest.mark.parametrize("url", ["localhost:9108", "ftp://127.0.0.1:9108", "not a url"])
def test_bad_url_is_a_user_error(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--url", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mmbot: --url must look like http://HOST:PORT")
    assert "Traceback" not in err


async def test_something_else_answering_is_not_a_bot(capsys: pytest.CaptureFixture[str]) -> None:
    server = await start_ops_server(Metrics(), lambda: (True, ""), dict)
    try:
        code = await asyncio.to_thread(main, ["status", "--url", server.url + "/elsewhere"])
    finally:
        await server.stop()
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert err == [f"mmbot: no bot answering at {server.url}/elsewhere (GET /status: HTTP 404)"]


def test_prices_keep_their_cents_and_the_pnl_is_attributed_with_balances() -> None:
    from bot.commands.status import render

    sol = {
        "q": 2.0, "limit": 30.0, "mid": 30000.7, "bid": 30000.6, "ask": 30000.8, "total_pnl": 0.0434, "fees": 0.03,
        "tick": 0.01, "lot": 0.01, "spread_captured": 0.1234, "skew_cost": 0.01, "inventory_pnl": -0.05,
        "markout_1s": 0.012, "markout_1s_count": 10, "markout_1s_bps": 0.41, "markout_60s": 0.0,
        "markout_60s_count": 0, "markout_60s_bps": None,
        "balances": {"SOL": {"change": 2.0, "venue_at_start": "100", "expected": "102"}, "USDT": {"change": -60.0012}},
    }
    lines = render("http://x", {"killed": False, "symbols": {"SOL/USDT": sol}}, {"ready": True}).splitlines()
    columns = next(line for line in lines if line.startswith("symbol")).split()
    row = next(line for line in lines if line.startswith("SOL/USDT ")).split()
    assert row[columns.index("mid")] == "30000.70" and row[columns.index("q")] == "+2.00"
    assert ("SOL/USDT P&L: spread captured +0.1234 (of which given up to skew +0.0100), inventory -0.0500, "
            "fees +0.0300, total +0.0434") in lines
    assert ("SOL/USDT markouts (positive = against us): 1s +0.0120 over 10 fills (+0.41 bps), "
            "60s - (no fill's horizon elapsed)") in lines
    assert ("SOL/USDT balances, change since start by the bot's accounting: SOL +2.00 (venue at start 100, expected "
            "now 102), USDT -60.0012") in lines


def test_a_position_keeps_the_dust_a_base_fee_left_below_the_lot() -> None:
    from bot.commands.status import render

    btc = {"q": 0.000999, "lot": 0.00001, "tick": 0.01, "mid": 30000.0}
    lines = render("http://x", {"symbols": {"BTC/USDT": btc}}, {"ready": True}).splitlines()
    columns = next(line for line in lines if line.startswith("symbol")).split()
    row = next(line for line in lines if line.startswith("BTC/USDT")).split()
    assert row[columns.index("q")] == "+0.000999" and row[columns.index("mid")] == "30000.00"


def test_a_short_or_flat_position_reads_at_the_lot() -> None:
    """A short position is not dust: -0.00135 at a lot of 0.00001 reads -0.00135 (not -0.00135000), flat 0.00000."""
    from bot.commands.status import render

    for q, shown in ((-0.00135, "-0.00135"), (0.0, "0.00000")):
        btc = {"q": q, "lot": 0.00001, "tick": 0.01, "mid": 30000.0}
        lines = render("http://x", {"symbols": {"BTC/USDT": btc}}, {"ready": True}).splitlines()
        columns = next(line for line in lines if line.startswith("symbol")).split()
        row = next(line for line in lines if line.startswith("BTC/USDT")).split()
        assert row[columns.index("q")] == shown


def test_balances_read_at_the_lot_and_as_money_never_in_exponent_form() -> None:
    """A change of one lot read ``+1e-05`` and a flat quote ``0.0``: the base at its lot, the quote to 4 decimals."""
    from bot.commands.status import render

    btc = {"q": 0.00001, "lot": 0.00001, "tick": 0.01, "mid": 30000.0,
           "balances": {"BTC": {"change": 0.00001, "venue_at_start": "1", "expected": "1.00001"},
                        "USDT": {"change": -0.3}}}
    lines = render("http://x", {"symbols": {"BTC/USDT": btc}}, {"ready": True}).splitlines()
    assert ("BTC/USDT balances, change since start by the bot's accounting: BTC +0.00001 (venue at start 1, "
            "expected now 1.00001), USDT -0.3000") in lines


STATUS_PAUSED = {
    "killed": False,
    "symbols": {
        "BTC/USDT": {"q": 0.0, "pauses": {"manual": "operator: POST /pause", "stale": "book 6.0s old"},
                     "paused": True, "open_orders": 0},
        "SOL/USDT": {"q": 0.0, "pauses": {}, "paused": False, "open_orders": 2},
        "ETH/USDT": {"q": 0.0, "pauses": {"crossed": ""}, "paused": False},
    },
}


async def test_the_pause_state_of_each_symbol(capsys: pytest.CaptureFixture[str]) -> None:
    server = await start_ops_server(Metrics(), lambda: (True, "ok"), lambda: STATUS_PAUSED)
    try:
        code = await asyncio.to_thread(main, ["status", "--url", server.url])
    finally:
        await server.stop()
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert "BTC/USDT paused: manual (operator: POST /pause), stale (book 6.0s old)" in lines
    assert "SOL/USDT quoting" in lines
    assert "ETH/USDT paused: crossed" in lines
    columns = next(line for line in lines if line.startswith("symbol")).split()
    sol = next(line for line in lines if line.startswith("SOL/USDT ")).split()
    assert sol[columns.index("orders")] == "2"


def test_the_manual_flag_alone_and_the_kill_are_not_read_as_quoting() -> None:
    from bot.commands.status import pause_line

    assert pause_line("BTC/USDT", {"paused": True}, killed=False) == "BTC/USDT paused: manual (operator)"
    assert pause_line("BTC/USDT", {"pauses": {}, "paused": False}, killed=True) == (
        "BTC/USDT halted: the kill switch is tripped")
    assert pause_line("BTC/USDT", {"pauses": {"manual": "x"}, "paused": True}, killed=True) == (
        "BTC/USDT halted: the kill switch is tripped; paused too: manual (x)")
    assert pause_line("BTC/USDT", {"q": 0.0}, killed=False) is None, "an older bot without pause state: no line"


async def test_the_url_comes_from_the_settings_without_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """No --url: ops.host:ops.port of --config (and the environment), as `mmbot run` reads them; a wildcard bind
    is asked on loopback; port 0 needs --url."""
    server = await start_ops_server(Metrics(), lambda: (True, "ok"), lambda: STATUS)
    try:
        monkeypatch.delenv("MMBOT_OPS__PORT")  # the test environment's 0
        config = tmp_path / "bot.toml"
        config.write_text(f'[ops]\nhost = "0.0.0.0"\nport = {server.port}\n')
        assert await asyncio.to_thread(main, ["status", "--config", str(config)]) == 0
        assert capsys.readouterr().out.startswith(f"mmbot at {server.url}: ready")
        monkeypatch.setenv("MMBOT_OPS__PORT", str(server.port))
        assert await asyncio.to_thread(main, ["status"]) == 0
        assert capsys.readouterr().out.startswith(f"mmbot at {server.url}: ready")
    finally:
        await server.stop()
    monkeypatch.setenv("MMBOT_OPS__PORT", "0")
    assert main(["status"]) == 2
    assert capsys.readouterr().err == "mmbot: ops.port is 0 (the bot took any free port): pass --url http://HOST:PORT\n"
