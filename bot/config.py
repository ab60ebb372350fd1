"""Validated configuration.

Precedence, highest first: CLI flags (passed as ``overrides``) > environment (``MMBOT_`` prefix,
``__`` for nesting, e.g. ``MMBOT_STRATEGY__SKEW=0.02``) > secret files > the TOML file given by
``--config`` > defaults. The defaults select the built-in simulated exchange, so no file is needed.
Every section forbids unknown keys: a typo is an error, never silently ignored. Likewise an ``MMBOT_``
variable that names no setting, a per-symbol override of a symbol that is not traded, a number that is not
finite (``inf``, ``nan``), and an API key or token in the TOML file (keys come only from the environment or
secret files).

Prices are in quote currency, sizes and positions in base currency, times in seconds.
The defaults suit the default venue's default market (the simulator's BTC/USDT: mid ~30000, tick 0.01,
touch 2 ticks from the mid): quote at the touch, lean 0.01 USDT per 0.002 BTC lot, limit 0.05 BTC.
Per-symbol overrides live under ``[symbols."ETH/USDT".strategy]`` (likewise ``risk``, ``execution``).
"""

from __future__ import annotations

import json
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from bot.core.registry import ModelName
from bot.errors import ConfigError
from bot.paper.settings import PaperSettings
from bot.sim.settings import SimSettings

SECRET_FIELDS = frozenset({"api_key", "api_secret", "api_password"})
# secrets of other sections, as (section, field); each also comes from the file ``mmbot_<section>__<field>``
OTHER_SECRETS = (("ops", "token"), ("hedge", "api_key"), ("hedge", "api_secret"))
# every secret of the bot as (section, field): never read from the TOML file
ALL_SECRETS = tuple(("venue", name) for name in sorted(SECRET_FIELDS)) + OTHER_SECRETS
ENV_PREFIX = "MMBOT_"
# MMBOT_ variables that are not settings: the secret-file folder, the pure-Python switch of the compiled
# build (bot/_native_guard.py, setup.py), and docker compose's choice of env file (docker/docker-compose.yml)
NOT_SETTINGS = frozenset({"MMBOT_SECRETS_DIR", "MMBOT_PURE", "MMBOT_ENV_FILE"})


class Section(BaseModel):
    """A config section: unknown keys are errors, values are checked on assignment too, numbers are finite."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class VenueSettings(Section):
    kind: Literal["sim", "testnet", "paper"] = Field(
        "sim", description="sim: simulated exchange; testnet: a ccxt sandbox; paper: public feed, local fills"
    )
    exchange: str = Field("binance", min_length=1, description="ccxt exchange id")
    symbols: list[str] = Field(default_factory=lambda: ["BTC/USDT"], min_length=1, description="markets to quote")
    url: str | None = Field(
        None, description="sim: URL of a running `mmbot sim`; unset starts one in-process"
    )
    api_key: SecretStr | None = Field(None, description="from the environment or a secret file, never a committed file")
    api_secret: SecretStr | None = Field(None, description="as api_key")
    api_password: SecretStr | None = Field(None, description="passphrase, for venues that need one (OKX)")
    order_entry: Literal["auto", "rest", "websocket"] = Field(
        "auto", description="how creates and cancels are sent: websocket (Binance's WebSocket API on one open "
        "connection: lower latency and CPU; sim and Binance testnet), rest, or auto: websocket where the venue "
        "has it, else rest (paper, other exchanges)"
    )


class StrategySettings(Section):
    model: ModelName = Field(
        "linear", description="quote model: symmetric, linear skew, Avellaneda-Stoikov, GLFT"
    )
    half_spread: float = Field(0.02, ge=0, description="symmetric/linear: distance from centre to each quote")
    skew: float = Field(5.0, ge=0, description="linear: price shift per unit of inventory")
    target_q: float = Field(0.0, description="inventory target q*")
    gamma: float = Field(
        0.001, gt=0, description="as/glft: risk aversion per (tick x order): the models count inventory in orders "
        "(q / order_size) and prices in ticks, so a gamma means the same skew in ticks per order on any market"
    )
    sigma: float = Field(0.04, ge=0, description="fallback volatility, price per sqrt(second)")
    kappa: float = Field(50.0, gt=0, description="fallback order-arrival decay, per price unit")
    A: float = Field(1.0, gt=0, description="fallback order-arrival rate at the touch, per second")
    horizon: float = Field(60.0, gt=0, description="as: T - t in seconds")
    horizon_mode: Literal["rolling", "session"] = Field(
        "rolling", description="rolling: T - t is always `horizon`; session: T - t counts down and restarts"
    )
    min_spread: float = Field(0.0, ge=0, description="minimum distance between bid and ask")
    min_edge: float = Field(
        0.0, ge=-10_000, le=10_000, description="bps of the centre that a maker fill must earn net of the maker "
        "fee: the half-spread is floored at centre*(fee + min_edge)/(1 - |fee|); 0 = just cover the fee"
    )
    maker_fee: float | None = Field(
        None, gt=-100, lt=100, description="maker fee in bps (negative = rebate) for the fee floor; unset = the "
        "venue's (its commission endpoint, else the ccxt market's), logged at start"
    )
    use_estimators: bool = Field(True, description="as/glft: use live sigma, A, kappa once warm")


class RiskSettings(Section):
    max_position: float = Field(0.05, gt=0, description="hard limit L on |q - 0| in base units")
    max_notional: float | None = Field(None, gt=0, description="limit on |q| * mid per symbol")
    max_total_notional: float | None = Field(None, gt=0, description="limit on sum of |q| * mid")
    max_drawdown: float | None = Field(None, gt=0, description="kill: trailing drawdown from peak equity")
    max_loss: float | None = Field(None, gt=0, description="kill: absolute loss since start")
    stale_after: float = Field(5.0, gt=0, description="pause quoting when the book is this old (s)")
    stale_kill_after: float = Field(60.0, gt=0, description="kill when the book is this old (s)")
    max_errors: int = Field(20, ge=1, description="kill: this many rejects/exceptions ...")
    error_window: float = Field(
        60.0, ge=1, description="... within this many seconds (>= 1)"
    )
    kill_file: Path | None = Field(None, description="kill when this file exists")
    state_dir: Path = Field(Path("var"), description="where the journal and the kill latch live")
    flatten_on_kill: bool = Field(False, description="after a kill, flatten q with a marketable order")
    pause_escalation_count: int = Field(5, ge=2, description="kill: this many pauses ...")
    pause_escalation_window: float = Field(
        300.0, ge=1, description="... within this many seconds (>= 1)"
    )
    balance_drift_tolerance: float | None = Field(
        None, ge=0, description="kill: |venue base change - q| beyond this (base units); unset = off"
    )
    venue_outage_after: int = Field(3, ge=1, description="pause after this many venue failures in a row")
    dead_man_seconds: float = Field(
        60.0, ge=0, le=86400, description="exchange-side cancel-all-after timeout, where supported; 0 = off, "
        "else at least 1 (refreshed every third of it; below 1 ms the venue would read it as off)"
    )

    @field_validator("kill_file", mode="before")
    @classmethod
    def _kill_file_is_a_path(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():  # Path("") is ".", which exists: a kill at start
            raise ValueError("must not be empty (leave it unset for no kill file)")
        return value

    @field_validator("dead_man_seconds")
    @classmethod
    def _dead_man_is_off_or_usable(cls, value: float) -> float:
        if 0 < value < 1:
            raise ValueError("must be 0 (off) or >= 1")
        return value


class ExecutionSettings(Section):
    order_size: float = Field(0.002, gt=0, description="size of each quote, base units")
    max_order_size: float | None = Field(None, gt=0, description="cap on a single order's size, base units")
    post_only: bool = Field(True, description="maker-only orders (LIMIT_MAKER); a crossing order is rejected")
    requote_ticks: int = Field(
        1, ge=0, le=10000, description="requote when the price moved by more ticks than this"
    )
    requote_bps: float = Field(0.0, ge=0, le=10000, description="... or by more basis points than this")
    size_tolerance: float = Field(0.1, ge=0, le=1, description="requote when size changed by this fraction")
    max_order_age: float = Field(
        30.0, ge=1, description="requote orders older than this (s; >= 1, else every order is replaced at once)"
    )
    orders_per_second: float = Field(
        5.0, ge=0.1, le=10000, description="creates and cancels per second, all symbols together (reads are paced "
        "by the rate gate); >= 0.1 so the throttle never holds an order back for more than 10 s"
    )
    client_id_prefix: str = Field(
        "mmbot", pattern=r"^[A-Za-z0-9_-]{1,12}$", description="client order ids start with `<prefix>-`"
    )
    reconcile_interval: float = Field(
        5.0, ge=0.25, le=3600, description="REST safety-net reconciliation period (s; also the balance-drift "
        "check's); >= 0.25 so it cannot flood the venue, <= 3600 so the safety net runs"
    )
    stop_grace: float = Field(
        20.0, ge=1, le=3600, description="on a stop, keep cancelling our orders until the venue confirms none is "
        "open for at most this long (s); nothing at shutdown waits longer (keep it under docker's stop_grace_period)"
    )


class LoggingSettings(Section):
    level: Literal["debug", "info", "warning", "error"] = Field("info", description="lowest level logged")
    format: Literal["auto", "json", "console"] = Field(
        "auto", description="auto: console on a terminal, JSON lines otherwise"
    )
    inventory_interval: float = Field(
        5.0, ge=0.5, description="seconds between periodic inventory events (and journal snapshots)"
    )


class OpsSettings(Section):
    enabled: bool = Field(
        True, description="serve /metrics, /healthz, /readyz, /status, the console and POST /pause, /resume, /kill"
    )
    host: str = Field(
        "127.0.0.1", min_length=1, description="listen address; 0.0.0.0 only inside a container network"
    )
    port: int = Field(9108, ge=0, le=65535, description="listen port; 0 = any free port")
    token: SecretStr | None = Field(
        None, description="bearer token for POST /pause, /resume, /kill (every state-changing route); from "
        "MMBOT_OPS__TOKEN or the secret file mmbot_ops__token, never a committed file; unset: generated per run "
        "into <risk.state_dir>/ops-token; required when host is not loopback"
    )
    allowed_hosts: list[str] = Field(
        default_factory=list, description="Host header names the ops server answers besides host, localhost, "
        "127.0.0.1 and [::1] (e.g. the compose service name Prometheus scrapes); others get 421"
    )
    console: bool = Field(True, description="serve the operator console at /console (live charts, pause, resume, kill)")
    console_interval: float = Field(
        0.5, ge=0.1, le=10, description="seconds between the console's frames (the feed's bounded rate)"
    )
    console_window: float = Field(600.0, ge=10, le=86400, description="seconds of history a console page shows")
    console_clients: int = Field(8, ge=1, le=64, description="console pages served at once; more get 503")


class HedgeLegSettings(Section):
    """One symbol's hedge leg in the perpetual (defaults in ``[hedge]``, overrides in ``[symbols."X".hedge]``).

    Net exposure = spot q x ``ratio`` + hedge position (base units). When |net| > ``band`` the leg trades it back
    to 0 (the band's centre), never below the venue's minimum size nor ``min_size``, never past ``max_position``.
    """

    instrument: str | None = Field(
        None, min_length=1, description="ccxt symbol of the perpetual (unset: BASE/QUOTE:QUOTE of the spot symbol)"
    )
    ratio: float = Field(1.0, gt=0, le=10, description="hedge units per unit of spot inventory")
    band: float = Field(0.01, ge=0, description="act when |net exposure| exceeds this (base units)")
    min_size: float = Field(0.0, ge=0, description="never send a hedge order smaller than this (base units; the "
                            "venue's minimum quantity and notional apply too)")
    cooldown: float = Field(1.0, ge=0, le=3600, description="seconds between two hedge orders of this symbol")
    interval: float = Field(1.0, ge=0.05, le=3600, description="seconds between timer checks of the net exposure "
                            "(besides the check after each spot fill)")
    style: Literal["ioc", "post_then_take"] = Field(
        "ioc", description="ioc: a limit IOC capped at slippage_bps through the touch; post_then_take: post-only at "
        "the touch, after post_timeout an IOC as ioc")
    slippage_bps: float = Field(10.0, ge=0, le=1000, description="price cap of a taking hedge, bps beyond the touch")
    post_timeout: float = Field(2.0, gt=0, le=600, description="post_then_take: seconds before taking")
    max_position: float = Field(0.1, gt=0, description="hard limit on |hedge position| (base units)")
    position_mode: Literal["one_way", "hedge"] = Field(
        "one_way", description="the futures account's position mode (checked at start-up, never changed)")
    leverage: int = Field(5, ge=1, le=125, description="leverage set on the instrument at start-up")
    max_unhedged: float = Field(0.03, gt=0, description="risk: |net exposure| beyond this (base units) ...")
    unhedged_seconds: float = Field(10.0, gt=0, le=3600, description="... for longer than this (s) trips on_unhedged")
    basis_band_bps: float = Field(50.0, gt=0, le=10000, description="risk: |perp mid / spot mid - 1| beyond this "
                                  "trips on_basis (and the leg only reduces)")
    min_margin_ratio: float = Field(0.05, ge=0, le=1, description="risk: margin balance / |position notional| below "
                                    "this trips on_margin")
    max_failures: int = Field(5, ge=1, description="risk: this many hedge errors or rejects in a row trip on_failure")


class HedgeSettings(HedgeLegSettings):
    """The hedge leg in a USD-margined perpetual (off by default). Leg fields are per symbol."""

    enabled: bool = Field(False, description="hedge the spot inventory in the perpetual")
    kind: Literal["sim", "demo"] = Field(
        "sim", description="sim: the simulator's futures API (the in-process one, or url); demo: Binance futures "
        "demo trading (keys from MMBOT_HEDGE__API_KEY / _SECRET)")
    exchange: str = Field("binanceusdm", min_length=1, description="ccxt exchange id of the futures venue")
    url: str | None = Field(None, description="sim: http://host:port of a running simulator (unset: venue.url, "
                            "or the in-process one)")
    api_key: SecretStr | None = Field(None, description="from the environment or a secret file")
    api_secret: SecretStr | None = Field(None, description="as api_key")
    skew_on: Literal["spot", "net"] = Field(
        "spot", description="spot: quotes skew on spot q (spot inventory mean-reverts); net: on spot q x ratio + "
        "hedge position (the hedge carries the position)")
    on_failure: Literal["kill", "pause"] = Field("pause", description="hedge leg failing (errors, rejects, outage)")
    on_unhedged: Literal["kill", "pause"] = Field("kill", description="unhedged exposure beyond max_unhedged too long")
    on_basis: Literal["kill", "pause"] = Field("pause", description="basis beyond basis_band_bps")
    on_margin: Literal["kill", "pause"] = Field("kill", description="margin ratio below min_margin_ratio")


# the fields of [hedge] that are the account's, not one leg's
HEDGE_ACCOUNT_FIELDS = frozenset(HedgeSettings.model_fields) - frozenset(HedgeLegSettings.model_fields)


class SymbolOverrides(Section):
    strategy: dict[str, Any] = Field(default_factory=dict)
    risk: dict[str, Any] = Field(default_factory=dict)
    execution: dict[str, Any] = Field(default_factory=dict)
    hedge: dict[str, Any] = Field(default_factory=dict)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_assignment=True,
        allow_inf_nan=False,
    )
    # symbols traded besides ``venue.symbols`` when the overrides are checked: ``load_settings`` puts the
    # symbols of a ``venue.symbols`` override (``--symbol``) here, so picking one of several configured
    # symbols does not make the others' overrides errors
    also_traded: ClassVar[tuple[str, ...]] = ()

    venue: VenueSettings = Field(default_factory=VenueSettings)
    strategy: StrategySettings = Field(default_factory=StrategySettings)
    risk: RiskSettings = Field(default_factory=RiskSettings)
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    ops: OpsSettings = Field(default_factory=OpsSettings)
    symbols: dict[str, SymbolOverrides] = Field(default_factory=dict)
    sim: SimSettings = Field(default_factory=SimSettings)
    paper: PaperSettings = Field(default_factory=PaperSettings)
    hedge: HedgeSettings = Field(default_factory=HedgeSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            SecretFilesSource(settings_cls),
            KeylessTomlSource(settings_cls),
        )

    @model_validator(mode="after")
    def _overrides_are_valid(self) -> Settings:
        """Every override names a traded symbol and gives valid values (ConfigError with full paths)."""
        traded = [*self.venue.symbols, *self.also_traded]
        lines = [line for symbol in self.symbols for line in untraded_override(symbol, traded)]
        if lines:
            raise ConfigError(lines)
        for symbol in self.symbols:
            self.for_symbol(symbol)
        return self

    def for_symbol(self, symbol: str) -> SymbolSettings:
        """The strategy, risk and execution sections with this symbol's overrides applied.

        Raises ConfigError naming each bad override by its full path (``symbols."ETH/USDT".risk.x: ...``).
        """
        over = self.symbols.get(symbol)
        leg = HedgeLegSettings.model_validate(self.hedge.model_dump(exclude=set(HEDGE_ACCOUNT_FIELDS)))
        if over is None:
            return SymbolSettings(symbol, self.strategy, self.risk, self.execution, leg)
        lines: list[str] = []
        strategy = _overridden(symbol, "strategy", self.strategy, over.strategy, lines)
        risk = _overridden(symbol, "risk", self.risk, over.risk, lines)
        execution = _overridden(symbol, "execution", self.execution, over.execution, lines)
        hedge = _overridden(symbol, "hedge", leg, over.hedge, lines)
        if lines:
            raise ConfigError(lines)
        return SymbolSettings(symbol, strategy, risk, execution, hedge)  # type: ignore[arg-type]

    def secret_values(self) -> list[str]:
        """Every secret's plain value, for the log redactor."""
        secrets = (self.venue.api_key, self.venue.api_secret, self.venue.api_password, self.ops.token,
                   self.hedge.api_key, self.hedge.api_secret)
        return [s.get_secret_value() for s in secrets if s is not None and s.get_secret_value()]


# settings the bot reads once for the whole account (the kill triggers, the journal, the shared order
# throttle, the dead man's switch, shutdown): a per-symbol override of one would be silently ignored
ACCOUNT_WIDE = {
    "risk": frozenset({"max_total_notional", "max_drawdown", "max_loss", "max_errors", "error_window", "kill_file",
                       "state_dir", "flatten_on_kill", "pause_escalation_count", "pause_escalation_window",
                       "dead_man_seconds"}),
    "execution": frozenset({"orders_per_second", "stop_grace"}),
    "strategy": frozenset(),
    "hedge": HEDGE_ACCOUNT_FIELDS,
}


def _overridden(symbol: str, name: str, base: Section, over: dict[str, Any], lines: list[str]) -> Section | None:
    """``base`` with ``over`` applied; on bad values appends one line per error to ``lines``, returns None."""
    shared = sorted(ACCOUNT_WIDE[name] & set(over))
    if shared:
        lines.extend(f'symbols."{symbol}".{name}.{key}: applies to the whole account, not to one symbol; '
                     f"set it in [{name}]" for key in shared)
        return None
    try:
        return type(base).model_validate(base.model_dump() | over)
    except ValidationError as exc:
        lines.extend(f'symbols."{symbol}".{name}.{line}' for line in describe_validation_error(exc))
        return None


def untraded_override(symbol: str, traded: list[str]) -> list[str]:
    """The error line for an override of ``symbol`` when it is not among ``traded`` (else nothing)."""
    if symbol in traded:
        return []
    same = [s for s in traded if s.upper() == symbol.upper()]
    hint = f"; did you mean {same[0]!r}? (symbols are case-sensitive)" if same else ""
    return [f'symbols."{symbol}": not a traded symbol, so its overrides would be ignored '
            f"(venue.symbols: {', '.join(traded)}){hint}"]


class KeylessTomlSource(TomlConfigSettingsSource):
    """The TOML file, refusing API keys and tokens in it: they come only from the environment or secret files."""

    def __call__(self) -> dict[str, Any]:
        found = []
        for section, name in ALL_SECRETS:
            table = self.toml_data.get(section)
            if isinstance(table, dict) and name in table:
                found.append(f"{section}.{name}: keys are not read from the config file {self.toml_file_path}; "
                             f"set {ENV_PREFIX}{section.upper()}__{name.upper()} or the secret file "
                             f"mmbot_{section}__{name} (in $MMBOT_SECRETS_DIR, default /run/secrets)")
        if found:
            raise ConfigError(found)
        return super().__call__()


class SecretFilesSource(PydanticBaseSettingsSource):
    """Secrets from files, one value per file, Docker-secrets style.

    ``<dir>/mmbot_venue__api_key`` holds ``venue.api_key`` (likewise ``api_secret``, ``api_password``), and
    ``<dir>/mmbot_ops__token`` holds ``ops.token``.
    The directory is ``secrets_dir`` from the model config (``MMBOT_SECRETS_DIR`` or ``/run/secrets``).
    """

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        folder = self.config.get("secrets_dir")
        if folder is None or not Path(folder).is_dir():
            return {}
        venue: dict[str, str] = {}
        for name in sorted(SECRET_FIELDS):
            path = Path(folder) / f"mmbot_venue__{name}"
            if path.is_file():
                venue[name] = path.read_text(encoding="utf-8").strip()
        found: dict[str, dict[str, str]] = {"venue": venue} if venue else {}
        for section, name in OTHER_SECRETS:
            path = Path(folder) / f"mmbot_{section}__{name}"
            if path.is_file():
                found.setdefault(section, {})[name] = path.read_text(encoding="utf-8").strip()
        return found


class SymbolSettings:
    """The effective settings for one symbol."""

    __slots__ = ("execution", "hedge", "risk", "strategy", "symbol")

    def __init__(
        self, symbol: str, strategy: StrategySettings, risk: RiskSettings, execution: ExecutionSettings,
        hedge: HedgeLegSettings | None = None,
    ) -> None:
        self.symbol = symbol
        self.strategy = strategy
        self.risk = risk
        self.execution = execution
        self.hedge = hedge if hedge is not None else HedgeLegSettings()


def load_settings(
    config_file: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    secrets_dir: str | Path | None = None,
) -> Settings:
    """Load settings from defaults, an optional TOML file, secret files, the environment and CLI overrides.

    ``secrets_dir`` defaults to ``$MMBOT_SECRETS_DIR``, else ``/run/secrets`` (Docker secrets).
    Raises ConfigError with one human line per bad field.
    """
    path: Path | None = None
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise ConfigError([f"config file not found: {path}"])
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"{path}: invalid TOML: {exc}"]) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError([f"{path}: cannot read: {exc}"]) from None

    env_errors = environment_errors(os.environ)
    if env_errors:
        raise ConfigError(env_errors)
    folder = secrets_dir or os.environ.get("MMBOT_SECRETS_DIR") or "/run/secrets"
    rest, picked = _split_symbols(overrides or {})

    class _FileSettings(Settings):
        model_config = SettingsConfigDict(toml_file=path, secrets_dir=folder)
        also_traded = tuple(picked or ())

    try:
        settings = _FileSettings(**rest)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None
    except ValueError as exc:  # a source that cannot parse its input (environment_errors catches the known ones)
        raise ConfigError([str(exc).splitlines()[0]]) from None
    if picked is not None:
        try:
            settings.venue.symbols = picked
        except ValidationError as exc:
            raise ConfigError([f"venue.{line}" for line in describe_validation_error(exc)]) from None
    return settings


def _split_symbols(overrides: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """``overrides`` without ``venue.symbols``, and that value (None when absent)."""
    venue = overrides.get("venue")
    if not isinstance(venue, dict) or "symbols" not in venue:
        return overrides, None
    rest = {k: v for k, v in venue.items() if k != "symbols"}
    return {**overrides, "venue": rest}, venue["symbols"]


_NO_SETTING = object()
_BELOW_DICT = object()


def _strip_optional(tp: Any) -> Any:
    """``X | None`` -> ``X``; anything else unchanged."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        parts = [a for a in args if a is not type(None)]
        if len(parts) == 1:
            return parts[0]
    return tp


def env_target(parts: list[str]) -> Any:
    """The annotation of the setting that ``MMBOT_<parts joined by __>`` sets.

    Names match case-insensitively, as pydantic-settings reads them. ``_NO_SETTING`` when no setting has
    that name; ``(_BELOW_DICT, n)`` when the name goes below a dict setting (its first ``n`` parts): such a
    variable would replace the whole dict with one lower-cased key, so the dict must be set as JSON.
    """
    tp: Any = Settings
    for i, part in enumerate(parts):
        tp = _strip_optional(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            fields = {name.lower(): info for name, info in tp.model_fields.items()}
            info = fields.get(part.lower())
            if info is None:
                return _NO_SETTING
            tp = info.annotation
        elif typing.get_origin(tp) is dict and part:
            return (_BELOW_DICT, i)
        else:
            return _NO_SETTING
    return _strip_optional(tp)


def environment_errors(environ: Mapping[str, str]) -> list[str]:
    """One line per ``MMBOT_`` variable that names no setting or holds unusable JSON; values never shown.

    The variables in ``NOT_SETTINGS`` are skipped. A table, dict or list setting takes a JSON value.
    """
    lines = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in NOT_SETTINGS:
            continue
        parts = upper[len(ENV_PREFIX):].split("__")
        target = env_target(parts)
        if target is _NO_SETTING:
            lines.append(f"{name}: no such setting (check the spelling; sections are joined by '__', "
                         f"e.g. MMBOT_RISK__MAX_POSITION)")
            continue
        if isinstance(target, tuple) and target[0] is _BELOW_DICT:
            whole = ENV_PREFIX + "__".join(parts[: target[1]])
            lines.append(f"{name}: a key of {'.'.join(parts[: target[1]]).lower()} cannot be set on its own "
                         f"(its name would be lower-cased and the rest dropped); set all of {whole} as JSON")
            continue
        problem = _json_problem(target, environ[name])
        if problem:
            lines.append(f"{name}: {problem}")
    return lines


def _json_problem(target: Any, value: str) -> str | None:
    """Why ``value`` cannot set a setting of type ``target`` (None when it can, or it is not JSON-valued)."""
    origin = typing.get_origin(target)
    is_table = origin is dict or (isinstance(target, type) and issubclass(target, BaseModel))
    is_list = origin in (list, tuple, set, frozenset)
    if not (is_table or is_list):
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = _NO_SETTING
    if is_list and not isinstance(parsed, list):
        example = '["BTC/USDT"]' if typing.get_args(target) == (str,) else "[...]"
        return f"must be a JSON list, e.g. '{example}'"
    if is_table and parsed is _NO_SETTING:
        return "not valid JSON (value hidden)"
    if is_table and not isinstance(parsed, dict):
        return "must be a JSON object, e.g. '{\"key\": 1}' (value hidden)"
    return None


def describe_validation_error(exc: ValidationError) -> list[str]:
    """One line per bad field: ``strategy.skew: must be >= 0 (got -1)``."""
    lines = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "config"
        if err["loc"] and (err["loc"][-1] in SECRET_FIELDS or tuple(err["loc"][-2:]) in OTHER_SECRETS):
            err = {**err, "input": SecretStr("")}
        lines.append(f"{loc}: {_explain(err)}")
    return lines


def _explain(err: Any) -> str:
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    # a rule across fields is raised on their table: its input is the whole table, not worth showing
    got = "" if isinstance(value, dict) and kind == "value_error" else f" (got {_show(value)})"
    if kind == "extra_forbidden":
        return "unknown field (check the spelling)"
    if kind == "missing":
        return "is required"
    bounds = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}
    if kind in bounds:
        bound = next(iter(ctx.values()))
        return f"must be {bounds[kind]} {_show(bound)}{got}"
    if kind == "literal_error":
        return f"must be one of {ctx['expected']}{got}"
    if kind == "value_error":
        return f"{str(err['msg']).removeprefix('Value error, ')}{got}"
    if kind == "finite_number":
        return f"must be a finite number{got}"
    if kind == "string_pattern_mismatch":
        return f"must match {ctx['pattern']}{got}"
    msg = str(err["msg"])
    return f"{msg[0].lower()}{msg[1:]}{got}" if msg else f"invalid{got}"


def _show(value: Any) -> str:
    if isinstance(value, SecretStr):
        return "**********"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
