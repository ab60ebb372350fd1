"""Settings of the simulated exchange (the ``[sim]`` config section).

Prices are in quote currency, sizes in base currency, times in seconds, rates per second.
Every model forbids unknown keys so a typo is an error. This module must not import
``bot.config`` (that module imports this one).

Defaults, chosen so that a quote at the touch fills within seconds:

=============  ========  =======  ==========  ========================================================
symbol         mid       tick     step        market
=============  ========  =======  ==========  ========================================================
BTC/USDT       30000     0.01     0.00001     sigma 4 ticks/sqrt(s); 10 levels/side, 2 ticks apart, best
                                              2 ticks from mid, mean 0.01 BTC at the touch (+50%/level);
                                              4 takers/s, 50/50, mean 0.01 BTC, 10% informed
ETH/USDT       2000      0.01     0.0001      the same shape with 0.15 ETH sizes
SOL/USDT       100       0.01     0.001       the seed's worked example (mid 100.00, a half-spread of a
                                              few ticks): sigma 1.5 ticks/sqrt(s) (~85%/year at 100);
                                              10 levels/side, 1 tick apart, best 3 ticks from mid, mean
                                              2 SOL at the touch (+50%/level); 3 takers/s, 50/50, mean
                                              2 SOL, 10% informed
=============  ========  =======  ==========  ========================================================

Measured on the pure engine (seeds 1-3, 10 minutes each; one order per side placed at mid -/+ k ticks,
moved every 0.5 s when the mid moved; every execution counted), fills per minute, mean (range):

=============  ==============  =================  =================  =================
symbol         order           -/+ 2 ticks        -/+ 3 ticks        -/+ 5 ticks
=============  ==============  =================  =================  =================
BTC/USDT       0.001 BTC       113 (110-116)      100 (96-104)       54 (52-58)
SOL/USDT       1 SOL           141 (139-145)      94 (92-96)         16 (16-17)
=============  ==============  =================  =================  =================

The default account is the documented local key pair ``mmbot-sim-key`` / ``mmbot-sim-secret`` (not a
secret; for local use only) with 100000 USDT, 2 BTC, 30 ETH and 100 SOL, paying 0 maker / 0.1% taker:
the fees of a market maker on Binance spot (the regular tier's taker fee, the maker fee of the first tier
of Binance's Spot Liquidity Provider Program; see docs/research.md, "The default simulated market"). An account
listed under ``[[sim.accounts]]`` without fees pays the regular tier's 0.1% maker and taker. Minimum
notional 5 USDT.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

DEFAULT_API_KEY = "mmbot-sim-key"
DEFAULT_API_SECRET = "mmbot-sim-secret"  # a documented, non-secret local default


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class SymbolSpec(_Model):
    """One market: instrument filters and the synthetic market process around it."""

    base: str = Field(min_length=1, pattern=r"^[A-Z0-9]{1,10}$")
    quote: str = Field(min_length=1, pattern=r"^[A-Z0-9]{1,10}$")
    tick_size: Decimal = Field(Decimal("0.01"), gt=0)
    step_size: Decimal = Field(Decimal("0.00001"), gt=0)
    min_notional: Decimal = Field(Decimal("5"), ge=0)
    mid: Decimal = Field(Decimal("30000"), gt=0, description="initial mid price")
    volatility: float = Field(4.0, ge=0, description="mid volatility, ticks per sqrt(second)")
    levels: int = Field(10, ge=1, le=200, description="background levels per side")
    level_spacing: int = Field(2, ge=1, description="ticks between background levels")
    half_spread: int = Field(2, ge=1, description="ticks from mid to the best background level")
    level_size: float = Field(0.01, gt=0, description="mean background size at the touch, base units")
    level_growth: float = Field(0.5, ge=0, description="level i has mean size level_size*(1+growth*i)")
    refresh_rate: float = Field(0.5, ge=0, description="per level, resizes per second")
    taker_rate: float = Field(4.0, ge=0, description="taker arrivals per second (Poisson)")
    sell_fraction: float = Field(0.5, ge=0, le=1, description="share of uninformed takers that sell")
    taker_size: float = Field(0.01, gt=0, description="mean taker size, base units (exponential)")
    informed_fraction: float = Field(0.1, ge=0, le=1, description="takers trading with the next mid move")

    @model_validator(mode="after")
    def _atoms_are_integral(self) -> SymbolSpec:
        for name in ("tick_size", "step_size"):
            value = getattr(self, name)
            if (value * ATOMS_PER_UNIT) % 1 != 0:
                raise ValueError(f"{name} must be a multiple of 0.00000001")
        if (self.tick_size * self.step_size * ATOMS_PER_UNIT) % 1 != 0:
            raise ValueError("tick_size * step_size must be a multiple of 0.00000001")
        if (self.mid / self.tick_size) % 1 != 0:
            raise ValueError("mid must be a multiple of tick_size")
        return self


ATOMS_PER_UNIT = Decimal(10**8)


def _default_symbols() -> dict[str, SymbolSpec]:
    return {
        "BTC/USDT": SymbolSpec(base="BTC", quote="USDT", mid=Decimal("30000")),
        "ETH/USDT": SymbolSpec(
            base="ETH",
            quote="USDT",
            mid=Decimal("2000"),
            step_size=Decimal("0.0001"),
            level_size=0.15,
            taker_size=0.15,
        ),
        "SOL/USDT": SymbolSpec(
            base="SOL",
            quote="USDT",
            mid=Decimal("100"),
            step_size=Decimal("0.001"),
            volatility=1.5,
            level_spacing=1,
            half_spread=3,
            level_size=2.0,
            taker_rate=3.0,
            taker_size=2.0,
        ),
    }


class AccountSpec(_Model):
    """An API key pair and its starting balances (asset -> amount)."""

    api_key: str = Field(min_length=1)
    api_secret: SecretStr
    balances: dict[str, Decimal] = Field(
        default_factory=lambda: {"USDT": Decimal(100000), "BTC": Decimal(2), "ETH": Decimal(30), "SOL": Decimal(100)}
    )
    maker_fee: Decimal = Field(
        Decimal("0.001"), ge=0, le=Decimal("0.1"),
        description="rate; unset: Binance spot's regular tier (the built-in default account pays 0 maker)",
    )
    taker_fee: Decimal = Field(
        Decimal("0.001"), ge=0, le=Decimal("0.1"), description="rate; unset: Binance spot's regular tier"
    )
    futures_balance: Decimal = Field(Decimal(100000), ge=0, description="USDT wallet of the futures account")
    futures_maker_fee: Decimal = Field(Decimal("0.0002"), ge=0, le=Decimal("0.1"), description="perpetual maker rate")
    futures_taker_fee: Decimal = Field(Decimal("0.0005"), ge=0, le=Decimal("0.1"), description="perpetual taker rate")

    @field_validator("balances")
    @classmethod
    def _non_negative(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for asset, amount in value.items():
            if amount < 0:
                raise ValueError(f"balance of {asset} must be >= 0")
        return value


# the built-in account's fees: a spot market maker's (0 maker, the regular tier's 0.1% taker); module docstring
DEFAULT_MAKER_FEE = Decimal(0)
DEFAULT_TAKER_FEE = Decimal("0.001")


def _default_accounts() -> list[AccountSpec]:
    return [AccountSpec(api_key=DEFAULT_API_KEY, api_secret=SecretStr(DEFAULT_API_SECRET),
                        maker_fee=DEFAULT_MAKER_FEE, taker_fee=DEFAULT_TAKER_FEE)]


class FaultSettings(_Model):
    """Injected faults; all off by default. Fractions are per request / per message."""

    drop_sockets_rate: float = Field(0.0, ge=0, description="socket drops per second (all WS clients)")
    gap_probability: float = Field(0.0, ge=0, le=1, description="per depth diff: skip it (sequence gap)")
    frozen: bool = Field(False, description="stop publishing market data; matching continues")
    crossed_book: bool = Field(
        False, description="depth diffs carry a phantom bid at the best ask: subscribers' books read crossed"
    )
    http_429_fraction: float = Field(0.0, ge=0, le=1)
    http_418_fraction: float = Field(0.0, ge=0, le=1)
    http_5xx_fraction: float = Field(0.0, ge=0, le=1)
    slow_ack_ms: int = Field(0, ge=0, le=60000, description="delay on order endpoints")
    reject_fraction: float = Field(0.0, ge=0, le=1, description="share of new orders rejected (-2010)")
    unknown_fate_fraction: float = Field(
        0.0, ge=0, le=1, description="order requests executed but answered 503 -1007 (status unknown)"
    )
    clock_offset_ms: int = Field(
        0, ge=-86_400_000, le=86_400_000,
        description="the sim's clock runs this many ms ahead of the host's (negative: behind); signed requests "
        "are judged by it (-1021) and every timestamp it sends is on it",
    )


class PerpFaultSettings(FaultSettings):
    """The spot faults, applied to ``/fapi`` and ``/fstream`` only, plus the futures-only ones."""

    position_lag_ms: int = Field(
        0, ge=0, le=60000,
        description="positionRisk/account answers and ACCOUNT_UPDATE delivery lag the truth by this long",
    )
    user_stream_silent: bool = Field(False, description="the futures user data stream sends nothing")


class PerpSpec(SymbolSpec):
    """A USDT-margined perpetual whose mid is its spot symbol's mid plus a mean-reverting basis.

    Basis (bps of the spot mid): Ornstein-Uhlenbeck around ``basis_bps``, plus Poisson shocks of
    +-``basis_shock_bps`` that decay at the same reversion. Funding every ``funding_interval`` seconds
    (aligned to the epoch, as Binance's 00/08/16 UTC): rate = clamp(mean premium + ``interest_rate``,
    +-``funding_cap``), longs pay shorts when positive."""

    spot: str = Field(description="the spot symbol whose mid this perpetual tracks; must be in [sim.symbols]")
    volatility: float = Field(
        0.0, ge=0, le=0, description="unused: the perpetual's mid is its spot's mid plus the basis"
    )
    basis_bps: float = Field(0.0, ge=-1000, le=1000, description="mean basis, bps of the spot mid")
    basis_reversion: float = Field(0.01, ge=0, le=100, description="basis mean reversion, per second")
    basis_volatility: float = Field(
        0.05, ge=0, description="basis volatility, bps per sqrt(second) (stationary sd: it / sqrt(2 x reversion))"
    )
    basis_shock_rate: float = Field(0.0, ge=0, description="basis shocks per hour (Poisson)")
    basis_shock_bps: float = Field(30.0, ge=0, le=1000, description="size of a basis shock, bps (random sign)")
    funding_interval: float = Field(28800.0, ge=1, description="seconds between fundings")
    interest_rate: Decimal = Field(Decimal("0.0001"), ge=-1, le=1, description="per funding interval")
    funding_cap: Decimal = Field(Decimal("0.0075"), ge=0, le=1, description="|funding rate| cap per interval")
    max_leverage: int = Field(125, ge=1, le=125)
    maint_margin_rate: Decimal = Field(Decimal("0.004"), gt=0, lt=1)


class RateLimitSettings(_Model):
    """Binance-style limits; the defaults are high enough that a normal bot never meets them."""

    weight_per_minute: int = Field(6000, ge=1, description="request weight allowed per weight window")
    weight_window: int = Field(
        60, ge=1, le=86400, description="length of the fixed request-weight window, seconds (Binance: 60)"
    )
    orders_per_10s: int = Field(100, ge=1)
    ban_after: int = Field(3, ge=1, description="429s in one window before the client gets 418")
    ban_seconds: float = Field(10.0, gt=0)


class SimSettings(_Model):
    """The simulated exchange."""

    seed: int = Field(1, ge=0)
    step_interval: float = Field(0.1, gt=0, le=10, description="simulation clock tick, seconds")
    recv_window_max: int = Field(60000, ge=1)
    symbols: dict[str, SymbolSpec] = Field(default_factory=_default_symbols)
    accounts: list[AccountSpec] = Field(default_factory=_default_accounts, min_length=1)
    faults: FaultSettings = Field(default_factory=FaultSettings)
    perps: dict[str, PerpSpec] = Field(
        default_factory=dict, description="USDT-margined perpetuals by ccxt symbol, e.g. 'BTC/USDT:USDT'"
    )
    perp_faults: PerpFaultSettings = Field(default_factory=PerpFaultSettings)
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)
    trade_history: int = Field(1000, ge=10, description="public trades kept per symbol")
    order_history: int = Field(100000, ge=10, description="finished orders kept for GET /order and allOrders")
    trade_history_per_account: int = Field(100000, ge=10, description="fills kept per account and symbol")
    admin: bool = Field(True, description="serve /admin on loopback")

    @model_validator(mode="after")
    def _symbols_are_consistent(self) -> SimSettings:
        for name, spec in self.symbols.items():
            if name != f"{spec.base}/{spec.quote}":
                raise ValueError(f"symbol {name!r} must be '{spec.base}/{spec.quote}'")
        for name, perp in self.perps.items():
            if name != f"{perp.base}/{perp.quote}:{perp.quote}":
                raise ValueError(f"perpetual {name!r} must be '{perp.base}/{perp.quote}:{perp.quote}'")
            if perp.quote != "USDT":
                raise ValueError(f"perpetual {name!r}: only USDT-margined perpetuals are simulated")
            spot = self.symbols.get(perp.spot)
            if spot is None:
                raise ValueError(f"perpetual {name!r}: spot symbol {perp.spot!r} is not in [sim.symbols]")
            if spot.mid != perp.mid:
                raise ValueError(f"perpetual {name!r}: mid must equal {perp.spot}'s mid ({spot.mid})")
        keys = [a.api_key for a in self.accounts]
        if len(set(keys)) != len(keys):
            raise ValueError("api keys must be unique")
        return self
