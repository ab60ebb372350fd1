"""Benchmark child: one raw WebSocket client counting depth diffs (the sim-ceiling consumer).

    python -m bench.wsclient WS_URL STREAM SECONDS OUT_JSON

Subscribes to STREAM (e.g. ``btcusdt@depth``), skips the first second, then counts the depth diffs
received for SECONDS and checks that ``U``/``u`` are contiguous. Parsing is limited to reading the ids.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import aiohttp
import orjson


async def main(url: str, stream: str, seconds: float, out_path: str) -> int:
    count = gaps = 0
    last_u: int | None = None
    async with aiohttp.ClientSession() as session, session.ws_connect(url, max_msg_size=1 << 22) as ws:
        await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": [stream], "id": 1}))
        start = time.monotonic()
        t0 = start + 1.0
        end = t0 + seconds
        while True:
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            now = time.monotonic()
            if now >= end:
                break
            data = orjson.loads(msg.data)
            if "U" not in data:
                continue
            if last_u is not None and data["U"] != last_u + 1:
                gaps += 1
            last_u = data["u"]
            if now >= t0:
                count += 1
        elapsed = time.monotonic() - t0
    Path(out_path).write_text(json.dumps({"messages": count, "seconds": elapsed, "gaps": gaps}))  # noqa: ASYNC240
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4])))
