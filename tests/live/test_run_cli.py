"""`mmbot run` as the operator sees it: exit codes, one-line errors, the summary."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from bot.cli import main
from tests.live.conftest import fast_sim, started


async def _mmbot(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    full_env = dict(os.environ)  # clean MMBOT_ environment from tests/conftest.py (ops port 0, tmp state dir)
    full_env.update(env or {})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=full_env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


def _sim_env(url: str, key: str, secret: str) -> dict[str, str]:
    return {"MMBOT_VENUE__URL": url, "MMBOT_VENUE__API_KEY": key, "MMBOT_VENUE__API_SECRET": secret,
            "MMBOT_EXECUTION__ORDER_SIZE": "0.002"}


async def test_unknown_symbol_and_bad_keys_are_one_line_errors() -> None:
    sim = await started(fast_sim())
    try:
        code, _out, err = await _mmbot("run", "--duration", "2", "--symbol", "NOPE/USDT",
                                       env=_sim_env(sim.url, sim.api_key, sim.api_secret))
        assert code == 2
        assert err.strip().count("\n") == 0 and "Traceback" not in err
        assert err.startswith("mmbot: unknown symbol 'NOPE/USDT'") and "BTC/USDT" in err

        code, _out, err = await _mmbot("run", "--duration", "2", env=_sim_env(sim.url, sim.api_key, "wrong-secret"))
        assert code == 2
        assert err.strip().count("\n") == 0 and "Traceback" not in err
        assert err.startswith("mmbot: the venue rejected the API keys")
        assert "wrong-secret" not in err
    finally:
        await sim.stop()


def test_testnet_without_keys_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith("MMBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MMBOT_VENUE__KIND", "testnet")
    assert main(["run", "--duration", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "MMBOT_VENUE__API_KEY" in err and "MMBOT_VENUE__API_SECRET" in err


def test_bad_duration_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", "--duration", "-3"])
    assert exc.value.code == 2
    assert "--duration" in capsys.readouterr().err


async def test_default_run_quotes_and_leaves_no_orders() -> None:
    """`mmbot run` with no config: the in-process sim, JSON logs (not a terminal), a summary, exit 0."""
    code, out, err = await _mmbot("run", "--duration", "6")  # > logging.inventory_interval (5 s)
    assert code == 0, err
    assert '"event": "order_placed"' in out and '"event": "inventory"' in out
    assert "mmbot run summary" in out
    assert "open orders left: none (confirmed with the venue)" in out
    assert "matches" in out and "MISMATCH" not in out


@pytest.mark.parametrize("name", ["sim", "binance-testnet", "bybit-testnet", "paper"])
def test_example_configs_are_valid(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    from bot.config import load_settings

    for var in list(os.environ):
        if var.startswith("MMBOT_"):
            monkeypatch.delenv(var)
    settings = load_settings(Path(__file__).parents[2] / "config" / f"{name}.toml")
    for symbol in settings.venue.symbols:
        cfg = settings.for_symbol(symbol)
        assert cfg.execution.order_size < cfg.risk.max_position


async def _start_and_wait_for_orders() -> asyncio.subprocess.Process:
    env = dict(os.environ)  # clean MMBOT_ environment from tests/conftest.py (ops port 0, tmp state dir)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--log-format", "json", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    while True:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line, "mmbot run ended before placing an order"
        if b'"event": "order_placed"' in line:
            return proc


async def test_sigint_cancels_everything_and_prints_the_summary() -> None:
    proc = await _start_and_wait_for_orders()
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    text = out.decode()
    assert "stopped by SIGINT" in text
    assert "open orders left: none (confirmed with the venue)" in text
    assert "Traceback" not in err.decode()


async def test_second_sigint_exits_at_once() -> None:
    proc = await _start_and_wait_for_orders()
    proc.send_signal(signal.SIGINT)
    assert proc.stdout is not None
    while True:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line, "mmbot run ended before acknowledging the first Ctrl-C"
        if b'"event": "shutdown_requested"' in line:
            break
    proc.send_signal(signal.SIGINT)
    _out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 130
    assert "exiting at once" in err.decode()
