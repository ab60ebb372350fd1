"""Fixtures of the console's browser tests (the harness: harness.py): ``chromium`` (session); per module
``browser``, ``sim``, ``bot`` and ``venue``. Without Chromium or Playwright the tests skip with the reason, or fail
where ``CI`` is set."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.harness import (
    REPO,
    SIM_CONFIG,
    Bot,
    Process,
    Sim,
    Venue,
    child_env,
    chromium_path,
    launched,
    mmbot,
    unavailable,
    write_bot_config,
)


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        unavailable("no Chromium: install Debian's `chromium` package (.ci/run does)")
    assert path is not None
    return path


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    with launched(chromium) as browser:
        yield browser


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory, chromium: str) -> Iterator[Sim]:
    folder = tmp_path_factory.mktemp("sim")
    config = folder / "sim.toml"
    config.write_text(SIM_CONFIG)
    process = Process.start(mmbot("sim", "--port", "0", "--config", str(config)), child_env(), REPO)
    try:
        line = process.wait_for(process.stdout, lambda x: bool(x.event and x.event.get("event") == "sim_listening"),
                                timeout=30)
        assert line.event is not None
        yield Sim(process, line.event["url"])
    finally:
        process.stop(10)


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory, sim: Sim) -> Iterator[Bot]:
    folder = tmp_path_factory.mktemp("bot")
    config = write_bot_config(folder, sim.url)
    process = Process.start(mmbot("run", "--config", str(config)), child_env(), REPO)
    try:
        line = process.wait_for(process.stderr, lambda x: x.text.startswith("mmbot: console at "), timeout=60)
        console_url = line.text.removeprefix("mmbot: console at ").strip()
        assert "#token=" in console_url, f"expected a generated token in the console line: {line.text!r}"
        token = console_url.split("#token=", 1)[1]
        base = console_url.split("/console", 1)[0]
        yield Bot(process, config, folder / "state", console_url, base, token)
    finally:
        process.stop(30)


@pytest.fixture(scope="module")
def venue(sim: Sim) -> Venue:
    return Venue(sim.url)
