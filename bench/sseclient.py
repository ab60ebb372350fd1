"""Benchmark child: N open console pages, as browsers would hold them, in a process of their own.

    python -m bench.sseclient STREAM_URL N OUT_JSON

Lines on stdin: ``open`` opens N ``GET /console/stream`` connections to the bot and prints ``connected N`` once
every one has its ``hello``; ``close`` closes them and prints ``closed``; ``stop`` (or stdin closing) writes,
per stream opened, the events (``hello``, ``frame``) and bytes received and any error to OUT_JSON, and exits.
Each stream is read as a page does: every server-sent event (``event: NAME`` / ``data: JSON``) is parsed as
JSON. The parent side is :class:`Pages`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
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
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()

    def read_stdin() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line.strip())
        loop.call_soon_threadsafe(lines.put_nowait, "stop")

    threading.Thread(target=read_stdin, daemon=True).start()  # a daemon: exiting must not wait for stdin
    done: list[Page] = []
    pages: list[Page] = []
    tasks: list[asyncio.Task[None]] = []
    async with aiohttp.ClientSession() as session:
        while (command := await lines.get()) != "stop":
            if command == "open" and not tasks:
                pages = [Page() for _ in range(n)]
                tasks = [asyncio.create_task(page.read(session, url)) for page in pages]
                await asyncio.wait_for(asyncio.gather(*(page.hello.wait() for page in pages)), 30.0)
                print(f"connected {n}", flush=True)
            elif command == "close":
                await _close(tasks)
                done += pages
                pages, tasks = [], []
                print("closed", flush=True)
        await _close(tasks)
    Path(out_path).write_text(json.dumps([page.result() for page in done + pages]))  # noqa: ASYNC240 (exit path)
    return 0


async def _close(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class Pages:
    """The parent's handle on the child: ``n`` pages on ``url`` (``.../console/stream``), pinned to ``cpu``
    (not the bot's core), opened and closed on demand."""

    def __init__(self, child: Child, n: int, out: Path) -> None:
        self.child, self.n, self.out = child, n, out
        self.opened = self.closed = 0
        self.is_open = False

    @classmethod
    async def start(cls, url: str, n: int, folder: Path, cpu: int = 0) -> Pages:
        out = folder / "pages.json"
        child = await Child.start("bench.sseclient", [url, str(n), str(out)], folder / "pages.log", folder)
        pin(child.proc.pid, {cpu})
        return cls(child, n, out)

    async def open(self) -> None:
        """Open the pages; returns once each has its ``hello``."""
        if not self.is_open:
            self.opened += 1
            await self._command("open", f"connected {self.n}", self.opened, f"{self.n} console pages to connect")
            self.is_open = True

    async def close(self) -> None:
        if self.is_open:
            self.closed += 1
            await self._command("close", "closed", self.closed, "the console pages to close")
            self.is_open = False

    async def stop(self) -> list[dict[str, Any]] | str:
        """Each stream's counts, or what went wrong."""
        code = await self.child.stop()
        if code == 0 and self.out.exists():
            return list(json.loads(self.out.read_text()))
        return f"exit {code}: {self.child.tail(5)}"

    async def _command(self, line: str, answer: str, count: int, what: str) -> None:
        await self.child.send(line)

        def answered() -> bool:
            return self.child.log.read_text(errors="replace").count(answer) >= count

        await wait_until(lambda: answered() or self.child.proc.returncode is not None, 40.0, what)
        if self.child.proc.returncode is not None:
            raise RuntimeError("the console pages exited:\n" + self.child.tail())


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3])))
