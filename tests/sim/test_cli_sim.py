"""``mmbot sim`` standalone: logs its URL and key pair, serves, exits 0 on SIGTERM; bad config -> 2."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.cli import main
from bot.commands.sim import _serve
from bot.errors import UserError
from bot.sim.server import start_sim
from bot.sim.settings import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimSettings


async def test_mmbot_sim_runs_until_sigterm(tmp_path: Path) -> None:
    config = tmp_path / "sim.toml"
    config.write_text('[sim]\nstep_interval = 0.05\n\n[logging]\nformat = "json"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMBOT_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "sim", "--port", "0", "--seed", "5", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )
    assert proc.stdout is not None
    events: dict[str, dict[str, object]] = {}
    try:
        async with asyncio.timeout(20):
            while "sim_account" not in events:
                line = await proc.stdout.readline()
                assert line, "mmbot sim exited early"
                event = json.loads(line)
                events[event["event"]] = event
        listening = events["sim_listening"]
        assert listening["seed"] == 5
        assert events["sim_account"]["key_id"] == DEFAULT_API_KEY
        assert events["sim_account"]["key_secret"] == DEFAULT_API_SECRET
        assert "local use" in str(events["sim_account"]["note"])
        async with aiohttp.ClientSession() as http, http.get(f"{listening['url']}/api/v3/ping") as resp:
            assert resp.status == 200
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            rc = await proc.wait()
    assert rc == 0


def test_bad_sim_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[sim]\nstep_interval = -1\n", encoding="utf-8")
    assert main(["sim", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "sim.step_interval" in err and "Traceback" not in err
    config.write_text('[sim.symbols."BTC/USDT"]\nbase = "BTC"\nquote = "USDT"\ntick_size = "0.000000001"\n',
                      encoding="utf-8")
    assert main(["sim", "--config", str(config)]) == 2
    assert "tick_size" in capsys.readouterr().err


async def test_port_in_use_is_a_user_error() -> None:
    async with await start_sim() as first:
        with pytest.raises(UserError, match="cannot listen"):
            await _serve(SimSettings(), "127.0.0.1", first.port)
