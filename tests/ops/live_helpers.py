"""Helpers for ops tests that run the live service against the in-process simulated exchange."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.config import load_settings
from bot.live.service import Service
from bot.live.summary import RunSummary
from bot.logs import configure_logging
from bot.sim.server import SimServer
from tests.live.conftest import bot_overrides


class LiveRun:
    """A service running in the background with its JSON log lines readable at any moment."""

    def __init__(self, overrides: dict[str, Any], duration: float) -> None:
        self.stream = io.StringIO()
        self.announced: list[str] = []  # what ``mmbot run`` would print on the terminal
        settings = load_settings(None, overrides)
        configure_logging("debug", "json", settings.secret_values(), stream=self.stream)
        self.service = Service(settings, duration=duration, announce=self.announced.append)
        self.task: asyncio.Task[RunSummary] = asyncio.create_task(self.service.run())

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in self.stream.getvalue().splitlines() if line.startswith("{")]
        return [e for e in lines if name is None or e.get("event") == name]

    @property
    def url(self) -> str:
        assert self.service.ops.server is not None
        return self.service.ops.server.url


async def until(predicate: Callable[[], Awaitable[bool] | bool], limit: float = 20.0, what: str = "") -> None:
    """Poll ``predicate`` every 0.1 s; fail after ``limit`` seconds (a deadline, not a speed assertion)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while True:
        result = predicate()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        assert loop.time() < end, f"gave up waiting: {what}"
        await asyncio.sleep(0.1)


async def scrape(session: aiohttp.ClientSession, url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with session.get(url + "/metrics") as response:
        assert response.status == 200
        text = await response.text()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def get_json(session: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with session.get(url) as response:
        return response.status, await response.json()


def overrides(sim: SimServer, tmp_path: Path, **sections: dict[str, Any]) -> dict[str, Any]:
    out = bot_overrides(sim, "linear", ops={"port": 0}, risk={"state_dir": str(tmp_path / "var")})
    for name, values in sections.items():
        out.setdefault(name, {}).update(values)
    return out
