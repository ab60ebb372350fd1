"""``mmbot quote``: one JSON object per call, every model, the worked example, and clean errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main

ROOT = Path(__file__).resolve().parents[1]
WORKED = ["quote", "--model", "linear", "--mid", "100", "--q", "45", "--skew", "0.01", "--half-spread", "0.05"]


def run_quote(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse usage errors
        rc = int(exc.code or 0)
    out, err = capsys.readouterr()
    return rc, out, err


def test_worked_example(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_quote([*WORKED, "--tick", "0.01"], capsys)
    assert rc == 0
    quote = json.loads(out)
    assert (quote["bid"], quote["ask"]) == (99.5, 99.6)
    assert quote["reservation"] == pytest.approx(99.55)
    assert quote["bid_size"] > 0 and quote["ask_size"] > 0


def test_worked_example_with_limit(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_quote([*WORKED, "--tick", "0.01", "--limit", "30", "--size", "2"], capsys)
    assert rc == 0
    quote = json.loads(out)
    assert quote["bid"] is None and quote["bid_size"] is None
    assert quote["bid_reason"] == "position limit"
    assert (quote["ask"], quote["ask_size"], quote["ask_reason"]) == (99.6, 2.0, None)


@pytest.mark.parametrize(
    ("model", "extra"),
    [
        ("symmetric", ["--half-spread", "0.1"]),
        ("linear", ["--half-spread", "0.1", "--skew", "0.02"]),
        ("as", ["--gamma", "0.2", "--sigma", "0.3", "--kappa", "5", "--horizon", "30"]),
        ("as", ["--gamma", "0.2", "--sigma", "0.3", "--horizon-mode", "session", "--t", "10"]),
        ("glft", ["--gamma", "0.2", "--sigma", "0.3", "--kappa", "5", "--A", "2"]),
    ],
)
def test_every_model_answers(model: str, extra: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["quote", "--model", model, "--mid", "100", "--q", "3", "--size", "1", "--tick", "0.1", *extra]
    rc, out, err = run_quote(argv, capsys)
    assert rc == 0, err
    assert out.count("\n") == 1
    quote = json.loads(out)
    assert quote["model"] == model
    assert quote["bid"] < quote["ask"]
    if model == "symmetric":
        assert quote["reservation"] == 100.0
    else:
        assert quote["reservation"] < 100.0  # long inventory leans the quotes down


def test_touch_clamps_and_rules_apply(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*WORKED, "--q", "-50", "--best-bid", "99.99", "--best-ask", "100.01", "--min-notional", "5"]
    rc, out, _ = run_quote(argv, capsys)
    quote = json.loads(out)
    assert rc == 0
    assert quote["bid"] is None and quote["bid_reason"] == "below min notional"  # 0.01 * 100 < 5
    rc, out, _ = run_quote([*argv[:-2], "--size", "1"], capsys)
    quote = json.loads(out)
    assert quote["bid"] == 100.0  # post-only: one tick under the best ask, not the model's 100.45


def test_config_file_supplies_defaults_and_flags_override(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "mm.toml"
    cfg.write_text('[strategy]\nmodel = "linear"\nskew = 0.02\nhalf_spread = 0.1\n[risk]\nmax_position = 5\n')
    rc, out, _ = run_quote(["quote", "--config", str(cfg), "--mid", "100", "--q", "4"], capsys)
    quote = json.loads(out)
    assert rc == 0 and (quote["bid"], quote["ask"]) == (99.82, 100.02)
    rc, out, _ = run_quote(["quote", "--config", str(cfg), "--mid", "100", "--q", "5"], capsys)
    assert json.loads(out)["bid_reason"] == "position limit"  # the file's limit applies
    rc, out, _ = run_quote(["quote", "--config", str(cfg), "--mid", "100", "--q", "5", "--limit", "10"], capsys)
    assert json.loads(out)["bid"] == 99.8


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--half-spread", "-0.05"], "--half-spread"),
        (["--model", "as", "--gamma", "0"], "--gamma"),
        (["--mid", "0"], "--mid"),
        (["--model", "martingale"], "--model"),
        (["--tick", "0"], "--tick"),
        (["--limit", "-1"], "--limit"),
        (["--mid", "nan"], "--mid"),
        (["--config", "/no/such/file.toml"], "config file not found"),
    ],
)
def test_bad_value_exits_2_with_one_line(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["quote", "--mid", "100"]
    rc, out, err = run_quote([*base, *argv], capsys)
    assert rc == 2
    assert out == ""
    assert err.count("\n") == 1 and needle in err
    assert "Traceback" not in err


def test_subprocess_bad_value_has_no_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "quote", "--model", "glft", "--mid", "100", "--gamma", "-1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip() == "mmbot: --gamma: must be > 0 (got -1)"
