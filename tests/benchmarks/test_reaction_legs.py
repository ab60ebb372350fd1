"""The reaction benchmark's leg split and its socket stamps (no timing assertions)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.common import SocketStamps
from bench.reaction import LEGS, legs

REPO = Path(__file__).resolve().parents[2]
CLOCK = time.get_clock_info("perf_counter").implementation


def _bot(books: list[int], requests: list[int], reads: list[int], writes: list[int]) -> dict[str, object]:
    return {"clock": CLOCK, "book_abs_ns": books, "request_abs_ns": requests, "read_abs_ns": reads,
            "write_abs_ns": writes}


@pytest.mark.skipif("CLOCK_MONOTONIC" not in CLOCK, reason="legs pair stamps across processes only on Linux")
def test_split_adds_up_to_wire_to_wire_and_skips_stamps_out_of_order() -> None:
    # reaction 1: send 1000, sim write 1100, bot read 1300, book 1700, request 1900, bot write 2300,
    # sim read 2600, handler 2800
    # reaction 2: the bot's read stamp is of another socket (after the book): paired, but not split
    windows = [(1000, 1100, 2600, 2800), (10_000, 10_050, 11_500, 11_600)]
    bot = _bot(books=[1700, 10_400], requests=[1900, 10_700], reads=[1300, 10_500], writes=[2300, 11_000])
    out = legs(windows, bot)
    assert out["sim_to_bot_ms"]["n"] == 2 and out["bot_to_sim_ms"]["n"] == 2
    split = out["split_us"]
    assert [name for name, _, _ in LEGS] == list(split)
    assert all(d["n"] == 1 for d in split.values())
    got = {name: d["p50"] * 1e3 for name, d in split.items()}  # back to ns
    assert got == pytest.approx({"sim_send": 100, "wire_in": 200, "ccxt_in": 400, "bot_internal": 200,
                                 "ccxt_out": 400, "wire_out": 300, "sim_parse": 200})
    assert sum(got.values()) == pytest.approx(2800 - 1000)


def test_legs_refuse_clocks_that_do_not_compare() -> None:
    out = legs([(1, 2, 3, 4)], {**_bot([2], [3], [1], [3]), "clock": "some other clock"})
    assert "legs" in out and "split_us" not in out


def test_socket_stamps_see_reads_and_the_first_write_after_arm() -> None:
    stamps = SocketStamps().install()

    async def exchange() -> None:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(await reader.readexactly(4))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        stamps.arm()
        before = time.perf_counter_ns()
        writer.write(b"ping")
        assert await reader.readexactly(4) == b"ping"
        assert before <= stamps.first_write <= stamps.last_read <= time.perf_counter_ns()
        writer.close()
        server.close()
        await server.wait_closed()

    try:
        asyncio.run(exchange())
    finally:
        stamps.uninstall()
    from asyncio import selector_events

    cls = selector_events._SelectorSocketTransport  # type: ignore[attr-defined]
    assert cls.write.__qualname__ == "_SelectorSocketTransport.write"  # the original is back


def test_jitter_probe_prints_one_duration_per_repetition() -> None:
    proc = subprocess.run([sys.executable, "-m", "bench.jitter", "0", "3", "0"], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    durations = json.loads(proc.stdout)
    assert len(durations) == 3 and all(d > 0 for d in durations)
