"""Benchmark child: a bare ccxt ``watch_order_book`` loop on the sim (the overhead baseline).

    python -m bench.bareloop URL SYMBOL OUT_JSON

Counts the books ccxt hands back until ``stop`` arrives on stdin, then writes ``{"books": n}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path

from bot.venue.connect import create_exchange


async def main(url: str, symbol: str, out_path: str) -> int:
    ex = create_exchange("sim", "binance", url, None, None)
    books = 0
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def read_stdin() -> None:
        for line in sys.stdin:
            if line.strip() == "stop":
                break
        loop.call_soon_threadsafe(stop.set)

    loop.run_in_executor(None, read_stdin)

    async def consume() -> None:
        nonlocal books
        while True:
            await ex.watch_order_book(symbol)
            books += 1

    try:
        await ex.load_markets()
        task = asyncio.create_task(consume())
        await stop.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        await ex.close()
    Path(out_path).write_text(json.dumps({"books": books}))  # noqa: ASYNC240 (exit path, nothing else runs)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:4])))
