"""The configuration checks through the real command line: one line on stderr, exit code 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def mmbot(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MMBOT_") or k == "MMBOT_PURE"}
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, cwd=cwd,
                          env=base | {"PYTHONPATH": str(ROOT), "MMBOT_OPS__PORT": "0"} | env, timeout=120)


CASES = [
    # (files, command, environment, the one line on stderr)
    ({"c.toml": '[venue]\nsymbols = ["BTC/USDT"]\n[symbols."BTC/USTD".risk]\nmax_position = 0.001\n'},
     ["run", "--duration", "1", "--config", "c.toml"], {},
     'mmbot: symbols."BTC/USTD": not a traded symbol, so its overrides would be ignored (venue.symbols: BTC/USDT)'),
    ({}, ["run", "--duration", "1"], {"MMBOT_RSIK__MAX_POSITION": "0.001"},
     "mmbot: MMBOT_RSIK__MAX_POSITION: no such setting (check the spelling; sections are joined by '__', "
     "e.g. MMBOT_RISK__MAX_POSITION)"),
    ({}, ["run", "--duration", "1"], {"MMBOT_EXECUTION__ORDERS_PER_SECOND": "inf"},
     "mmbot: execution.orders_per_second: must be a finite number (got 'inf')"),
    ({}, ["run", "--duration", "1"], {"MMBOT_EXECUTION__ORDERS_PER_SECOND": "1e-300"},
     "mmbot: execution.orders_per_second: must be >= 0.1 (got '1e-300')"),
    ({}, ["run", "--duration", "1"], {"MMBOT_VENUE": '{"api_key": "AKIA-never-shown"'},
     "mmbot: MMBOT_VENUE: not valid JSON (value hidden)"),
    ({}, ["run", "--duration", "1"], {"MMBOT_VENUE__SYMBOLS": "BTC/USDT"},
     """mmbot: MMBOT_VENUE__SYMBOLS: must be a JSON list, e.g. '["BTC/USDT"]'"""),
    ({"k.toml": '[venue]\napi_secret = "AKIA-never-shown"\n'}, ["run", "--duration", "1", "--config", "k.toml"], {},
     "mmbot: venue.api_secret: keys are not read from the config file k.toml; set MMBOT_VENUE__API_SECRET or "
     "the secret file mmbot_venue__api_secret (in $MMBOT_SECRETS_DIR, default /run/secrets)"),
    ({"s.toml": "[sim]\nstep_interval = nan\n"}, ["sim", "--port", "0", "--config", "s.toml"], {},
     "mmbot: sim.step_interval: must be a finite number (got nan)"),
    ({"q.toml": '[venue]\nsymbols = ["ETH/USDT"]\n[symbols."ETH/USDT".strategy]\nkappa = inf\nmodel = "glft"\n'},
     ["quote", "--mid", "100", "--config", "q.toml", "--symbol", "ETH/USDT"], {},
     'mmbot: symbols."ETH/USDT".strategy.kappa: must be a finite number (got inf)'),
]


@pytest.mark.parametrize(("files", "args", "env", "line"), CASES, ids=[" ".join(c[1][:1]) + str(i)
                                                                       for i, c in enumerate(CASES)])
def test_config_mistake_is_one_line_and_exit_2(tmp_path: Path, files: dict[str, str], args: list[str],
                                               env: dict[str, str], line: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    proc = mmbot(args, env | {"MMBOT_RISK__STATE_DIR": str(tmp_path / "var")}, tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [line]
    assert "AKIA" not in proc.stderr + proc.stdout


def test_backtest_loads_the_checked_settings(tmp_path: Path) -> None:
    (tmp_path / "b.toml").write_text("[strategy]\nskew = nan\n")
    proc = mmbot(["backtest", "--data", str(tmp_path / "none.jsonl"), "--config", "b.toml"], {}, tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["mmbot: strategy.skew: must be a finite number (got nan)"]
