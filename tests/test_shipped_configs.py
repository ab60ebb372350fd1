"""Every shipped config (config/*.toml, docker/*.env*) quotes each symbol at or above the fee floor of its venue's
maker fee, with orders its venue accepts (issue 19, "Shipped configs that are safe").

The fee and the price each config is checked at:
- sim: the simulated market's configured mid and the maker fee of the sim account the bot trades on;
- paper: the paper account's ``paper.maker_fee`` at the reference price below;
- testnet: the exchange's regular-tier spot maker fee (below) at the reference price below.
A configured ``strategy.maker_fee`` (bps) overrides the venue's, as it does at start-up.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.core.fees import resolve_maker_fee
from bot.core.models import avellaneda_stoikov, fee_floor, glft
from bot.sim.settings import SimSettings

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "config").glob("*.toml"))
ENV_FILES = ("sim.env", "testnet.env.example")

# Regular-tier spot maker fees (rates), the fee a new testnet or live account pays unless the venue says otherwise:
# Binance spot VIP 0: 0.1000% maker / 0.1000% taker (https://www.binance.com/en/fee/schedule);
# Bybit spot VIP 0: 0.1000% / 0.1000% (Bybit help center, "Trading Fee Structure", article 000001634);
# OKX spot regular users (Lv1): 0.080% maker / 0.100% taker (https://www.okx.com/fees).
REGULAR_MAKER_FEE = {"binance": 0.001, "bybit": 0.001, "okx": 0.0008}
# Reference prices for the real markets (testnet and paper feeds follow them): deliberately above the range
# traded so far (BTC/USDT's all-time high was about 126,000 USDT, October 2025), so a half-spread that passes
# here covers the fee at any price up to it; above it the run-time fee floor (fee + min_edge) widens the quotes.
REFERENCE_PRICE = {"BTC/USDT": 150_000.0}
# Binance's and Bybit's spot minimum order value for USDT pairs (NOTIONAL / minOrderAmt filters), USDT.
VENUE_MIN_NOTIONAL = 5.0


def _env_settings(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **edits: str) -> Settings:
    """The settings a docker env file gives the bot (its commented-out lines are not read), with ``edits``
    replacing some of its variables."""
    for raw in (ROOT / "docker" / name).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            monkeypatch.setenv(key, edits.get(key, value))
    return load_settings(secrets_dir=tmp_path)


def _sim_fee(settings: Settings) -> float:
    """The maker fee of the sim account the bot trades on: the one of ``venue.api_key``, else the first."""
    sim: SimSettings = settings.sim
    key = settings.venue.api_key.get_secret_value() if settings.venue.api_key is not None else None
    account = next((a for a in sim.accounts if a.api_key == key), sim.accounts[0])
    return float(account.maker_fee)


def venue_fee_and_price(settings: Settings, symbol: str) -> tuple[float, float]:
    """(maker fee rate, price) a config's symbol is checked at (the module docstring says which)."""
    configured = settings.for_symbol(symbol).strategy.maker_fee
    kind = settings.venue.kind
    if kind == "sim":
        assert symbol in settings.sim.symbols, f"{symbol} is not a market of the sim this config runs"
        venue_rate, price = _sim_fee(settings), float(settings.sim.symbols[symbol].mid)
    else:
        assert symbol in REFERENCE_PRICE, f"{symbol}: add a reference price (and its source) to this test"
        if kind == "paper":
            venue_rate = settings.paper.maker_fee
        else:
            assert settings.venue.exchange in REGULAR_MAKER_FEE, f"add {settings.venue.exchange}'s fee to this test"
            venue_rate = REGULAR_MAKER_FEE[settings.venue.exchange]
        price = REFERENCE_PRICE[symbol]
    return resolve_maker_fee(configured, venue_rate, None).rate, price


def unsafe(settings: Settings) -> list[str]:
    """One line per symbol whose configured spread or order size is wrong for its venue."""
    lines = []
    for symbol in settings.venue.symbols:
        cfg = settings.for_symbol(symbol)
        fee, price = venue_fee_and_price(settings, symbol)
        floor = fee_floor(price, fee, cfg.strategy.min_edge / 10_000)
        if cfg.strategy.model in ("symmetric", "linear") and cfg.strategy.half_spread < floor:
            lines.append(f"{symbol}: half_spread {cfg.strategy.half_spread} < fee floor {floor:.4f} "
                         f"(maker fee {fee:.4%}, min_edge {cfg.strategy.min_edge} bp, price {price:g})")
        size, limit = cfg.execution.order_size, cfg.risk.max_position
        min_notional = float(settings.sim.symbols[symbol].min_notional) if settings.venue.kind == "sim" \
            else VENUE_MIN_NOTIONAL
        if size * price < min_notional:
            lines.append(f"{symbol}: order_size {size} is below the {min_notional:g} minimum notional at {price:g}")
        if size > limit:
            lines.append(f"{symbol}: order_size {size} exceeds max_position {limit}")
        if settings.venue.kind == "sim" and Decimal(str(size)) % settings.sim.symbols[symbol].step_size:
            lines.append(f"{symbol}: order_size {size} is not a multiple of the step")
    return lines


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_quotes_above_its_venues_fee_floor(path: Path) -> None:
    assert unsafe(load_settings(path)) == []


@pytest.mark.parametrize("name", ENV_FILES)
def test_env_example_quotes_above_its_venues_fee_floor(name: str, monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    assert unsafe(_env_settings(name, monkeypatch, tmp_path)) == []


def test_a_sim_tuned_spread_on_a_real_venue_is_caught(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The issue's case: the sim's 0.02 USDT half-spread quoted on the Binance testnet's BTC (0.1% maker fee)."""
    edits = {"MMBOT_STRATEGY__HALF_SPREAD": "0.02"}
    (line,) = unsafe(_env_settings("testnet.env.example", monkeypatch, tmp_path, **edits))
    assert line.startswith("BTC/USDT: half_spread 0.02 < fee floor 165.1652 (maker fee 0.1000%, min_edge 1.0 bp")


def test_sim_fee_floor_reads_the_account_the_bot_trades_on(tmp_path: Path) -> None:
    """A sim account with the regular tier's 0.1% maker fee makes config/sim.toml's 2-tick BTC spread unsafe."""
    text = (ROOT / "config" / "sim.toml").read_text(encoding="utf-8") + (
        '\n[[sim.accounts]]\napi_key = "k"\napi_secret = "s"\nmaker_fee = 0.001\n')
    path = tmp_path / "sim.toml"
    path.write_text(text, encoding="utf-8")
    lines = unsafe(load_settings(path))
    assert [line.split(":")[0] for line in lines] == ["BTC/USDT", "SOL/USDT"]


def test_make_run_uses_the_sim_config() -> None:
    """`make run` trades config/sim.toml (the README says so): both default markets, per-symbol parameters."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "CONFIG ?= config/sim.toml" in makefile and "mmbot run --config $(CONFIG)" in makefile
    settings = load_settings(ROOT / "config" / "sim.toml")
    assert settings.venue.symbols == ["BTC/USDT", "SOL/USDT"]
    sol = settings.for_symbol("SOL/USDT")
    assert (sol.strategy.half_spread, sol.strategy.skew, sol.risk.max_position) == (0.05, 0.01, 30.0)


def test_imbalance_preset_is_the_default_run_with_60_percent_sellers() -> None:
    """config/sim-imbalance.toml: config/sim.toml's bot on the default markets, only sell_fraction changed."""
    base = load_settings(ROOT / "config" / "sim.toml")
    preset = load_settings(ROOT / "config" / "sim-imbalance.toml")
    assert preset.model_dump(exclude={"sim"}) == base.model_dump(exclude={"sim"})
    defaults = SimSettings().symbols
    assert set(preset.sim.symbols) == set(preset.venue.symbols)
    for symbol, spec in preset.sim.symbols.items():
        assert spec.sell_fraction == 0.6
        assert spec.model_copy(update={"sell_fraction": defaults[symbol].sell_fraction}) == defaults[symbol]
    assert preset.sim.model_dump(exclude={"symbols"}) == base.sim.model_dump(exclude={"symbols"})


def test_hedged_preset_is_the_default_run_plus_a_hedge_in_each_symbols_perpetual() -> None:
    """config/sim-hedged.toml: config/sim.toml's bot, the hedge leg on, a perpetual beside each traded spot market
    whose lot the hedge band and limits are whole multiples of, within the spot limit's reach."""
    base = load_settings(ROOT / "config" / "sim.toml")
    hedged = load_settings(ROOT / "config" / "sim-hedged.toml")
    different = {"sim", "hedge", "symbols"}
    assert hedged.model_dump(exclude=different) == base.model_dump(exclude=different)
    assert hedged.hedge.enabled and not base.hedge.enabled
    assert hedged.sim.symbols == base.sim.symbols
    for symbol in hedged.venue.symbols:
        cfg, plain = hedged.for_symbol(symbol), base.for_symbol(symbol)
        assert (cfg.strategy, cfg.risk, cfg.execution) == (plain.strategy, plain.risk, plain.execution)
        leg = cfg.hedge
        perp = hedged.sim.perps[leg.instrument or ""]
        assert perp.spot == symbol and perp.mid == hedged.sim.symbols[symbol].mid
        for size in (leg.band, leg.max_position, leg.max_unhedged):
            assert (Decimal(str(size)) / perp.step_size) % 1 == 0
        assert leg.band < leg.max_unhedged < cfg.risk.max_position <= leg.max_position  # the leg can hold it all


@pytest.mark.parametrize("symbol", ["BTC/USDT", "SOL/USDT"])
def test_shipped_gamma_skews_as_and_glft_visibly_and_apart(symbol: str) -> None:
    """config/sim.toml's gamma, sigma, kappa and A (the fallbacks): per order, A-S and GLFT move the centre by a
    visible 0.05 to 2 ticks (like the linear skew's 1 tick, not a hundred), and by different amounts."""
    settings = load_settings(ROOT / "config" / "sim.toml")
    cfg, spec = settings.for_symbol(symbol), settings.sim.symbols[symbol]
    s, tick, mid = cfg.strategy, float(spec.tick_size), float(spec.mid)
    as_centre, _ = avellaneda_stoikov(mid, 1.0, s.gamma, s.sigma, s.kappa, s.horizon, tick)
    glft_centre, _ = glft(mid, 1.0, s.gamma, s.sigma, s.A, s.kappa, tick)
    per_order = {"as": (mid - as_centre) / tick, "glft": (mid - glft_centre) / tick}
    assert all(0.05 <= skew <= 2.0 for skew in per_order.values()), per_order
    assert abs(per_order["as"] - per_order["glft"]) >= 0.5, per_order
    limit_orders = cfg.risk.max_position / cfg.execution.order_size
    assert per_order["glft"] * limit_orders >= 2.0  # at least a couple of ticks at the limit
