"""Benchmark child: N open console pages, as browsers would hold them, in a process of their own.

    python -m bench.sseclient STREAM_URL N OUT_JSON

Opens N ``GET /console/stream`` connections to the bot and reads them as a page does: each server-sent event
(``event: NAME`` / ``data: JSON``) is parsed as JSON and counted. Prints ``connected N`` once every stream has
its ``hello``; on a ``stop`` line on stdin (or stdin closing) writes, per stream, the ``hello`` and ``frame``
events and bytes received and any error to OUT_JSON, and exits. The parent side is :func:`open_pages`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import Child, pin, wait_until


class Page:
    """One open stream's counts."""

    def __init__(self) -> None:
        self.events: dict[str, int] = {}
        self.bytes = 0
        self.error: str | None = None
        self.hello = asyncio.Event()

    async def read(self, session: aiohttp.ClientSession, url: str) -> None:
        try:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as response:
                if response.status != 200:
                    self.error = f"HTTP {response.status}"
                    return
                name = "message"
                async for raw in response.content:
                    self.bytes += len(raw)
                    line = raw.decode().rstrip("\r\n")
                    if line.startswith("event:"):
                        name = line[len("event:"):].strip()
                    elif line.startswith("data:"):
                        json.loads(line[len("data:"):])  # a page parses every frame
                        self.events[name] = self.events.get(name, 0) + 1
                        if name == "hello":
                            self.hello.set()
                    elif not line:
                        name = "message"
                self.error = "the server closed the stream"
        except (aiohttp.ClientError, ValueError, OSError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"

    def result(self) -> dict[str, Any]:
        return {"events": self.events, "bytes": self.bytes, "error": self.error}


async def main(url: str, n: int, out_path: str) -> int:
    pages = [Page() for _ in range(n)]
    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.create_task(page.read(session, url)) for page in pages]
        await asyncio.wait_for(asyncio.gather(*(page.hello.wait() for page in pages)), 30.0)
        print(f"connected {n}", flush=True)
        await asyncio.to_thread(_until_stop)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    Path(out_path).write_text(json.dumps([page.result() for page in pages]))  # noqa: ASYNC240 (exit path)
    return 0


def _until_stop() -> None:
    for line in sys.stdin:
        if line.strip() == "stop":
            return


@contextlib.asynccontextmanager
async def open_pages(url: str, n: int, folder: Path, cpu: int = 0) -> AsyncIterator[dict[str, Any]]:
    """``n`` pages on ``url`` (``.../console/stream``) in a child process pinned to ``cpu`` (not the bot's),
    open once each has its ``hello``; on exit the dict yielded gets ``pages``: each stream's counts."""
    out = folder / "pages.json"
    child = await Child.start("bench.sseclient", [url, str(n), str(out)], folder / "pages.log", folder)
    pin(child.proc.pid, {cpu})
    summary: dict[str, Any] = {}
    try:
        await wait_until(lambda: f"connected {n}" in _text(folder / "pages.log") or child.proc.returncode is not None,
                         40.0, f"{n} console pages to connect")
        if child.proc.returncode is not None:
            raise RuntimeError("the console pages exited:\n" + child.tail())
        yield summary
    finally:
        code = await child.stop()
        if code == 0 and out.exists():
            summary["pages"] = json.loads(out.read_text())
        else:
            summary["pages_error"] = f"exit {code}: {child.tail(5)}"


def _text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3])))
