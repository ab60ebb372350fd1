"""The compose stack under the ops server's guard: the bot binds 0.0.0.0 in its container, so it must get
a token (a Docker secret), and Prometheus, which scrapes ``bot:9108`` (Host ``bot:9108``), must be let in."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from subprocess import DEVNULL
from typing import Any

import aiohttp
import pytest
import yaml

from bot.config import Settings, load_settings
from bot.errors import UserError
from bot.ops import Metrics, start_ops_server

DOCKER = Path(__file__).resolve().parents[2] / "docker"
TOKEN = "compose-ops-token-7c2e"


def load(name: str) -> Any:
    return yaml.safe_load((DOCKER / name).read_text(encoding="utf-8"))


def compose_settings(monkeypatch: pytest.MonkeyPatch, secrets: Path) -> Settings:
    """The bot service's settings: its env file, its ``environment:`` and the secrets it mounts."""
    bot = load("docker-compose.yml")["services"]["bot"]
    env_file = DOCKER / "sim.env"
    for line in env_file.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            monkeypatch.setenv(key, value)
    for key, value in bot["environment"].items():
        monkeypatch.setenv(key, str(value))
    return load_settings(secrets_dir=secrets)


def test_the_compose_bot_mounts_the_ops_token_secret_the_loader_reads(tmp_path: Path) -> None:
    compose = load("docker-compose.yml")
    assert "mmbot_ops__token" in compose["services"]["bot"]["secrets"]
    source = compose["secrets"]["mmbot_ops__token"]["file"]
    assert Path(source).parts[0] == "secrets"
    assert "/secrets/" in (DOCKER / ".gitignore").read_text(encoding="utf-8").split()
    (tmp_path / "mmbot_ops__token").write_text(TOKEN + "\n", encoding="utf-8")
    token = load_settings(secrets_dir=tmp_path).ops.token
    assert token is not None and token.get_secret_value() == TOKEN


async def serve_as_compose(settings: Settings) -> Any:
    cfg = settings.ops
    return await start_ops_server(Metrics(), lambda: (True, "ok"), dict, cfg.host, 0, token=cfg.token,
                                  allowed_hosts=cfg.allowed_hosts)


async def test_the_compose_bot_serves_prometheus_and_the_host(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "mmbot_ops__token").write_text(TOKEN, encoding="utf-8")
    settings = compose_settings(monkeypatch, tmp_path)
    assert settings.ops.host == "0.0.0.0"
    prometheus = load("prometheus/prometheus.yml")
    target = next(t for job in prometheus["scrape_configs"] if job["job_name"] == "mmbot"
                  for static in job["static_configs"] for t in static["targets"])
    server = await serve_as_compose(settings)
    try:
        async with aiohttp.ClientSession() as session:
            for host in (target, f"127.0.0.1:{settings.ops.port}"):  # Prometheus; the host's published port
                async with session.get(server.url + "/metrics", headers={"Host": host}) as response:
                    assert response.status == 200, host
            async with session.get(server.url + "/status", headers={"Host": "evil.example"}) as response:
                assert response.status == 421
    finally:
        await server.stop()


async def test_the_compose_bot_without_its_token_secret_does_not_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("MMBOT_OPS__TOKEN", raising=False)
    settings = compose_settings(monkeypatch, tmp_path)
    with pytest.raises(UserError, match="needs a token"):
        await serve_as_compose(settings)


async def test_the_dockerfile_healthcheck_passes_the_guard(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The HEALTHCHECK asks 127.0.0.1 inside the container, which the guard serves on a 0.0.0.0 bind."""
    (tmp_path / "mmbot_ops__token").write_text(TOKEN, encoding="utf-8")
    settings = compose_settings(monkeypatch, tmp_path)
    text = (DOCKER / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("HEALTHCHECK"))
    cmd = json.loads(line[line.index("CMD") + 3 :].strip())
    server = await serve_as_compose(settings)
    try:
        env = {**os.environ, "MMBOT_OPS__PORT": str(server.port)}
        proc = await asyncio.create_subprocess_exec(sys.executable, *cmd[1:], env=env, stdout=DEVNULL, stderr=DEVNULL)
        assert await asyncio.wait_for(proc.wait(), timeout=30) == 0
    finally:
        await server.stop()
