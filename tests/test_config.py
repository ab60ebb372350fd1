"""Configuration: precedence, unknown keys, one-line errors, secrets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_defaults_select_the_simulated_exchange() -> None:
    settings = load_settings()
    assert settings.venue.kind == "sim"
    assert settings.venue.url is None
    assert settings.venue.symbols


@pytest.mark.parametrize("path", sorted((ROOT / "config").glob("*.toml")), ids=lambda p: p.name)
def test_each_example_file_loads(path: Path) -> None:
    settings = load_settings(path)
    assert isinstance(settings, Settings)
    for symbol in settings.venue.symbols:
        settings.for_symbol(symbol)


def test_example_files_exist() -> None:
    names = {p.name for p in (ROOT / "config").glob("*.toml")}
    assert {"sim.toml", "binance-testnet.toml", "paper.toml"} <= names


def test_precedence_cli_over_env_over_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[strategy]\nskew = 0.1\nhalf_spread = 0.2\ngamma = 0.3\n")
    assert load_settings(path).strategy.skew == 0.1
    monkeypatch.setenv("MMBOT_STRATEGY__SKEW", "0.4")
    monkeypatch.setenv("MMBOT_STRATEGY__HALF_SPREAD", "0.5")
    settings = load_settings(path, overrides={"strategy": {"skew": 0.7}})
    assert settings.strategy.skew == 0.7  # CLI beats env
    assert settings.strategy.half_spread == 0.5  # env beats file
    assert settings.strategy.gamma == 0.3  # file beats default


def test_symbol_overrides_apply_and_are_validated(tmp_path: Path) -> None:
    traded = '[venue]\nsymbols = ["BTC/USDT", "ETH/USDT"]\n'
    path = write(tmp_path, traded + '[strategy]\nskew = 0.1\n[symbols."ETH/USDT".strategy]\nskew = 0.5\n')
    settings = load_settings(path)
    assert settings.for_symbol("ETH/USDT").strategy.skew == 0.5
    assert settings.for_symbol("BTC/USDT").strategy.skew == 0.1
    bad = write(tmp_path, traded + '[symbols."ETH/USDT".strategy]\nskw = 0.5\n')
    with pytest.raises(ConfigError) as err:
        load_settings(bad)
    assert err.value.lines == ['symbols."ETH/USDT".strategy.skw: unknown field (check the spelling)']


def test_typo_is_one_line_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[strategy]\nskwe = 0.1\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert err.value.lines == ["strategy.skwe: unknown field (check the spelling)"]


def test_negative_value_is_one_line_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[strategy]\nskew = -1\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert err.value.lines == ["strategy.skew: must be >= 0 (got -1)"]


def test_unknown_section_and_bad_literal(tmp_path: Path) -> None:
    path = write(tmp_path, '[stratgy]\nskew = 1\n[venue]\nkind = "live"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    text = "\n".join(err.value.lines)
    assert "stratgy: unknown field" in text
    assert "venue.kind: must be one of 'sim', 'testnet' or 'paper' (got 'live')" in text


def test_bad_env_value_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMBOT_RISK__MAX_POSITION", "-3")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert err.value.lines == ["risk.max_position: must be > 0 (got '-3')"]


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(write(tmp_path, "[strategy\nskew=1"))


def test_secret_never_in_repr_or_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMBOT_VENUE__API_KEY", "key-AAAA-1234")
    monkeypatch.setenv("MMBOT_VENUE__API_SECRET", "sec-BBBB-5678")
    settings = load_settings()
    assert settings.venue.api_secret is not None
    assert settings.venue.api_secret.get_secret_value() == "sec-BBBB-5678"
    for text in (repr(settings), str(settings), repr(settings.venue), settings.model_dump_json()):
        assert "sec-BBBB-5678" not in text
        assert "key-AAAA-1234" not in text
    assert sorted(settings.secret_values()) == ["key-AAAA-1234", "sec-BBBB-5678"]


def test_secret_of_wrong_type_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMBOT_VENUE", '{"api_secret": 123456789}')
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "123456789" not in "\n".join(err.value.lines)
    assert err.value.lines[0].startswith("venue.api_secret:")


def test_secret_files_are_read(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "mmbot_venue__api_key").write_text("from-file-key\n")
    (secrets / "mmbot_venue__api_secret").write_text("from-file-secret")
    settings = load_settings(secrets_dir=secrets)
    assert settings.venue.api_key is not None
    assert settings.venue.api_key.get_secret_value() == "from-file-key"


def test_bad_config_exits_2_without_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "[strategy]\nskew = -1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "quote", "--config", str(path), "--mid", "100"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "strategy.skew: must be >= 0 (got -1)" in proc.stderr
