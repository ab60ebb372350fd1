"""Configuration mistakes that used to be ignored: each is now one line naming where it is (issue 17, item 4)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import (
    ACCOUNT_WIDE,
    NOT_SETTINGS,
    ExecutionSettings,
    RiskSettings,
    environment_errors,
    load_settings,
    untraded_override,
)
from bot.errors import ConfigError

TWO = '[venue]\nsymbols = ["BTC/USDT", "ETH/USDT"]\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def refused(tmp_path: Path | None = None, text: str | None = None, **kwargs: object) -> list[str]:
    """The error lines of loading ``text`` (or nothing) with ``kwargs``; fails when it loads."""
    path = write(tmp_path, text) if tmp_path is not None and text is not None else None
    with pytest.raises(ConfigError) as err:
        load_settings(path, **kwargs)  # type: ignore[arg-type]
    return err.value.lines


# -- per-symbol overrides ------------------------------------------------------------------------------


@pytest.mark.parametrize("symbol", ["BTC/USTD", "btc/usdt", "SOL/USDT"])
def test_override_of_a_symbol_not_traded_is_an_error(tmp_path: Path, symbol: str) -> None:
    lines = refused(tmp_path, TWO + f'[symbols."{symbol}".risk]\nmax_position = 0.001\n')
    assert len(lines) == 1
    assert lines[0].startswith(f'symbols."{symbol}": not a traded symbol')
    assert "(venue.symbols: BTC/USDT, ETH/USDT)" in lines[0]


def test_lowercase_symbol_gets_the_case_hint(tmp_path: Path) -> None:
    (line,) = refused(tmp_path, TWO + '[symbols."eth/usdt".risk]\nmax_position = 0.001\n')
    assert line.endswith("did you mean 'ETH/USDT'? (symbols are case-sensitive)")


def test_override_from_the_environment_is_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMBOT_SYMBOLS", '{"ETH/USDT": {"risk": {"max_position": 0.001}}}')
    (line,) = refused()
    assert line.startswith('symbols."ETH/USDT": not a traded symbol')


def test_symbol_flag_may_pick_one_of_the_configured_symbols(tmp_path: Path) -> None:
    """``--symbol BTC/USDT`` on a file that trades (and overrides) two symbols: no error, BTC only."""
    text = TWO + '[symbols."ETH/USDT".risk]\nmax_position = 0.5\n[symbols."BTC/USDT".risk]\nmax_position = 0.01\n'
    settings = load_settings(write(tmp_path, text), {"venue": {"symbols": ["BTC/USDT"]}})
    assert settings.venue.symbols == ["BTC/USDT"]
    assert settings.for_symbol("BTC/USDT").risk.max_position == 0.01


def test_symbol_flag_may_add_a_symbol_with_an_override(tmp_path: Path) -> None:
    text = '[symbols."ETH/USDT".risk]\nmax_position = 0.5\n'
    settings = load_settings(write(tmp_path, text), {"venue": {"symbols": ["ETH/USDT"]}})
    assert settings.for_symbol("ETH/USDT").risk.max_position == 0.5
    assert refused(tmp_path, text)[0].startswith('symbols."ETH/USDT": not a traded symbol')


def test_bad_symbol_flag_names_venue_symbols() -> None:
    assert refused(overrides={"venue": {"symbols": []}})[0].startswith("venue.symbols: ")


def test_per_symbol_errors_name_the_full_path(tmp_path: Path) -> None:
    lines = refused(tmp_path, TWO + '[symbols."ETH/USDT".risk]\nmax_positon = 0.001\nstale_after = -1\n')
    assert sorted(lines) == [
        'symbols."ETH/USDT".risk.max_positon: unknown field (check the spelling)',
        'symbols."ETH/USDT".risk.stale_after: must be > 0 (got -1)',
    ]


@pytest.mark.parametrize(("section", "key", "value"), [("risk", "max_loss", 10.0), ("risk", "max_drawdown", 5.0),
                                                        ("risk", "dead_man_seconds", 10.0),
                                                        ("risk", "kill_file", "/tmp/kill"),
                                                        ("execution", "orders_per_second", 1.0)])
def test_override_of_an_account_wide_setting_is_an_error(section: str, key: str, value: object) -> None:
    """These are read once for the account (kill triggers, throttle, dead man): a per-symbol value was ignored."""
    lines = refused(overrides={"venue": {"symbols": ["BTC/USDT", "ETH/USDT"]},
                               "symbols": {"ETH/USDT": {section: {key: value}}}})
    assert lines == [f'symbols."ETH/USDT".{section}.{key}: applies to the whole account, not to one symbol; '
                     f"set it in [{section}]"]


@pytest.mark.parametrize("value", ["", "  "])
def test_empty_kill_file_is_an_error(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``Path("")`` is ``.``, which exists: the bot would kill itself at start over a blank variable."""
    monkeypatch.setenv("MMBOT_RISK__KILL_FILE", value)
    (line,) = refused()
    assert line.startswith("risk.kill_file: must not be empty (leave it unset for no kill file)")


def test_account_wide_names_are_settings() -> None:
    fields = {"risk": set(RiskSettings.model_fields), "execution": set(ExecutionSettings.model_fields)}
    for section, names in fields.items():
        assert ACCOUNT_WIDE[section] - {"stop_grace"} <= names  # stop_grace: the shutdown work's, may be absent


@given(st.text(min_size=1, max_size=12), st.lists(st.sampled_from(["BTC/USDT", "ETH/USDT", "SOL/BTC"]), min_size=1))
def test_untraded_override_is_an_error_exactly_when_not_traded(symbol: str, traded: list[str]) -> None:
    lines = untraded_override(symbol, traded)
    assert (lines == []) == (symbol in traded)
    assert all(line.startswith(f'symbols."{symbol}": ') for line in lines)


# -- environment ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["MMBOT_RSIK__MAX_POSITION", "MMBOT_RISK_MAX_POSITION", "MMBOT_RISK__MAX_POSITON",
                                  "MMBOT_RISK__MAX_POSITION__X", "MMBOT_VENUE__", "mmbot_rsik__max_position"])
def test_misspelled_environment_variable_is_an_error(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, "0.001")
    (line,) = refused()
    assert line.startswith(f"{name}: no such setting")
    assert "0.001" not in line


@pytest.mark.parametrize("name", ["MMBOT_RISK__MAX_POSITION", "MMBOT_STRATEGY__A", "mmbot_risk__max_position",
                                  "MMBOT_SIM__FAULTS__HTTP_5XX_FRACTION", "MMBOT_PAPER__MAKER_FEE"])
def test_settings_in_the_environment_are_recognised(name: str) -> None:
    assert environment_errors({name: "0.5"}) == []


def test_known_non_settings_are_not_errors() -> None:
    assert {"MMBOT_SECRETS_DIR", "MMBOT_PURE", "MMBOT_ENV_FILE"} <= NOT_SETTINGS
    assert environment_errors(dict.fromkeys(NOT_SETTINGS, "x") | {"PATH": "/bin", "OTHER_X": "1"}) == []


def test_environment_value_is_applied(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMBOT_STRATEGY__A", "2.5")
    monkeypatch.setenv("MMBOT_PAPER__BALANCES", '{"USDT": 7}')
    settings = load_settings()
    assert settings.strategy.A == 2.5
    assert settings.paper.balances == {"USDT": 7.0}


@pytest.mark.parametrize(("name", "whole"), [("MMBOT_PAPER__BALANCES__USDT", "MMBOT_PAPER__BALANCES"),
                                             ("MMBOT_SYMBOLS__ETHUSDT__RISK__MAX_POSITION", "MMBOT_SYMBOLS"),
                                             ("MMBOT_SIM__SYMBOLS__BTCUSDT__MID", "MMBOT_SIM__SYMBOLS")])
def test_a_key_below_a_dict_is_refused(name: str, whole: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """pydantic-settings would lower-case the key and replace the whole dict (``{"usdt": 7.0}``)."""
    monkeypatch.setenv(name, "7")
    (line,) = refused()
    assert line.startswith(f"{name}: a key of ") and line.endswith(f"set all of {whole} as JSON")


def test_malformed_json_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMBOT_VENUE", '{"api_key": "AKIA-never-shown"')
    assert refused() == ["MMBOT_VENUE: not valid JSON (value hidden)"]


def test_json_of_the_wrong_shape_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMBOT_VENUE", '"AKIA-never-shown"')
    (line,) = refused()
    assert line.startswith("MMBOT_VENUE: must be a JSON object") and "AKIA" not in line


@pytest.mark.parametrize("value", ["BTC/USDT", '"BTC/USDT"', "{}", ""])
def test_symbols_variable_needs_a_json_list(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMBOT_VENUE__SYMBOLS", value)
    assert refused() == ["""MMBOT_VENUE__SYMBOLS: must be a JSON list, e.g. '["BTC/USDT"]'"""]


def test_symbols_variable_as_json_list_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMBOT_VENUE__SYMBOLS", '["ETH/USDT"]')
    assert load_settings().venue.symbols == ["ETH/USDT"]


# -- keys ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("section", "key"), [("venue", "api_key"), ("venue", "api_secret"),
                                               ("venue", "api_password"), ("ops", "token")])
def test_keys_in_the_toml_file_are_refused(tmp_path: Path, section: str, key: str) -> None:
    (line,) = refused(tmp_path, f'[{section}]\n{key} = "AKIA-never-shown"\n')
    assert line.startswith(f"{section}.{key}: keys are not read from the config file")
    assert f"MMBOT_{section.upper()}__{key.upper()}" in line and f"mmbot_{section}__{key}" in line
    assert "AKIA" not in line


def test_keys_from_the_environment_and_flags_still_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMBOT_VENUE__API_KEY", "k-env")
    settings = load_settings(None, {"venue": {"api_secret": "s-flag"}})
    assert settings.venue.api_key is not None and settings.venue.api_key.get_secret_value() == "k-env"
    assert settings.venue.api_secret is not None and settings.venue.api_secret.get_secret_value() == "s-flag"


def test_sim_account_keys_stay_in_the_toml_file(tmp_path: Path) -> None:
    """The simulator's own accounts are local test fixtures, configured only in ``[sim]``: still accepted."""
    text = '[[sim.accounts]]\napi_key = "local"\napi_secret = "local-secret"\n'
    settings = load_settings(write(tmp_path, text))
    assert settings.sim.accounts[0].api_secret.get_secret_value() == "local-secret"


def test_ops_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMBOT_OPS__TOKEN", "tok-env-1234")
    settings = load_settings()
    assert settings.ops.token is not None and settings.ops.token.get_secret_value() == "tok-env-1234"
    assert "tok-env-1234" in settings.secret_values()
    for text in (repr(settings), str(settings.ops), settings.model_dump_json()):
        assert "tok-env-1234" not in text


def test_ops_token_from_a_secret_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mmbot_ops__token").write_text("tok-file-5678\n")
    monkeypatch.setenv("MMBOT_SECRETS_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.ops.token is not None and settings.ops.token.get_secret_value() == "tok-file-5678"


def test_ops_token_of_the_wrong_type_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMBOT_OPS", '{"token": 987654321}')
    (line,) = refused()
    assert line.startswith("ops.token: ") and "987654321" not in line


# -- bounds --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("execution.orders_per_second", 1e-300, "execution.orders_per_second: must be >= 0.1 (got 1e-300)"),
    ("execution.orders_per_second", 1e6, "execution.orders_per_second: must be <= 10000 (got 1000000)"),
    ("execution.reconcile_interval", 1e-300, "execution.reconcile_interval: must be >= 0.25 (got 1e-300)"),
    ("execution.reconcile_interval", 1e9, "execution.reconcile_interval: must be <= 3600 (got 1000000000)"),
    ("execution.max_order_age", 0.001, "execution.max_order_age: must be >= 1 (got 0.001)"),
    ("execution.requote_ticks", 10**9, "execution.requote_ticks: must be <= 10000 (got 1000000000)"),
    ("execution.requote_bps", 1e9, "execution.requote_bps: must be <= 10000 (got 1000000000)"),
    ("logging.inventory_interval", 1e-300, "logging.inventory_interval: must be >= 0.5 (got 1e-300)"),
    ("risk.error_window", 1e-9, "risk.error_window: must be >= 1 (got 1e-09)"),
    ("risk.pause_escalation_window", 0.5, "risk.pause_escalation_window: must be >= 1 (got 0.5)"),
    ("risk.dead_man_seconds", 0.0004, "risk.dead_man_seconds: must be 0 (off) or >= 1 (got 0.0004)"),
    ("risk.dead_man_seconds", 1e9, "risk.dead_man_seconds: must be <= 86400 (got 1000000000)"),
])
def test_dangerous_values_are_bounded(key: str, value: float, expected: str) -> None:
    section, field = key.split(".")
    assert refused(overrides={section: {field: value}}) == [expected]


@pytest.mark.parametrize(("key", "value"), [("risk.dead_man_seconds", 0.0), ("risk.dead_man_seconds", 1.0),
                                            ("execution.orders_per_second", 0.1),
                                            ("execution.orders_per_second", 10000.0)])
def test_bounds_admit_their_edges(key: str, value: float) -> None:
    section, field = key.split(".")
    settings = load_settings(overrides={section: {field: value}})
    assert getattr(getattr(settings, section), field) == value
