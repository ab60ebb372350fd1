"""Every numeric setting refuses inf, -inf and nan with one line naming its full path.

The fields are found by walking the pydantic models of ``Settings`` (``[sim]`` and ``[paper]`` included)
and the per-symbol overrides, so a numeric field added later is covered without touching this file.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel

from bot.config import ACCOUNT_WIDE, ExecutionSettings, RiskSettings, Settings, StrategySettings, load_settings
from bot.errors import ConfigError

NUMERIC = (float, int, Decimal)
KEY, ITEM = "<KEY>", "<ITEM>"  # placeholders: a dict key, a list item
PERP = "BTC/USDT:USDT"  # the key of sim.perps: a perpetual of the default BTC/USDT market
PERP_SPEC = {"spot": "BTC/USDT", "base": "BTC", "quote": "USDT"}
SYMBOL = "BTC/USDT"  # traded by default; a key of the simulator's default markets too
OVERRIDDEN = {"strategy": StrategySettings, "risk": RiskSettings, "execution": ExecutionSettings}
NOT_FINITE = (math.inf, -math.inf, math.nan)


def _plain(tp: Any) -> Any:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return args[0] if typing.get_origin(tp) in (typing.Union, type(int | None)) and len(args) == 1 else tp


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def numeric_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every numeric field under ``model``, through tables, dicts (``KEY``) and lists (``ITEM``)."""
    for name, info in model.model_fields.items():
        tp = _plain(info.annotation)
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        path = (*prefix, name)
        if _is_model(tp):
            yield from numeric_paths(tp, path)
        elif origin is dict and len(args) == 2 and _is_model(args[1]):
            yield from numeric_paths(args[1], (*path, KEY))
        elif origin is list and args and _is_model(args[0]):
            yield from numeric_paths(args[0], (*path, ITEM))
        elif origin is dict and len(args) == 2 and _plain(args[1]) in NUMERIC:
            yield (*path, KEY)
        elif tp in NUMERIC:
            yield path


def all_paths() -> list[tuple[str, ...]]:
    """Every numeric setting's path, including each per-symbol field under ``symbols."BTC/USDT"``."""
    paths = list(numeric_paths(Settings))
    for section, model in OVERRIDDEN.items():
        paths += [("symbols", SYMBOL, section, *p) for p in numeric_paths(model) if p[0] not in ACCOUNT_WIDE[section]]
    return paths


def concrete(path: tuple[str, ...]) -> tuple[str, ...]:
    """``path`` with its placeholders filled: a dict key of ``symbols`` is BTC/USDT, of balances USDT."""
    out: list[str] = []
    for part in path:
        if part == KEY:
            out.append(SYMBOL if out[-1] == "symbols" else PERP if out[-1] == "perps" else "USDT")
        else:
            out.append("0" if part == ITEM else part)
    return tuple(out)


def _with(defaults: Any, path: tuple[str, ...], value: Any) -> Any:
    """``defaults`` (a dump of the settings below some table) with ``value`` at ``path``."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if head == "0":
        return [_with(defaults[0], rest, value)]
    return {**defaults, head: _with(defaults.get(head, {}), rest, value)}


def overrides_for(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """``load_settings`` overrides that set the field at ``path`` to ``value`` and nothing else bad."""
    if path[0] == "symbols":
        return {"symbols": {SYMBOL: {path[2]: {path[3]: value}}}}
    full = concrete(path)
    defaults = Settings().model_dump()[full[0]]
    if full[:2] == ("sim", "perps"):  # no perpetual by default: the one the value goes into
        defaults = {**defaults, "perps": {PERP: PERP_SPEC}}
    return {full[0]: _with(defaults, full[1:], value)}


def dotted(path: tuple[str, ...]) -> str:
    """The path as the error line names it: ``sim.symbols.BTC/USDT.mid``, ``symbols."BTC/USDT".risk.x``."""
    if path[0] == "symbols":
        return f'symbols."{path[1]}".' + ".".join(path[2:])
    return ".".join(concrete(path))


PATHS = all_paths()


def test_the_walk_finds_the_known_risk_and_timing_fields() -> None:
    """Guards the walk itself: the fields the issue named are among those checked."""
    names = {".".join(p) for p in PATHS}
    for expected in ("risk.max_position", "risk.max_notional", "risk.max_loss", "risk.stale_after",
                     "risk.dead_man_seconds", "risk.balance_drift_tolerance", "execution.orders_per_second",
                     "execution.max_order_size", "strategy.kappa", "strategy.target_q",
                     "logging.inventory_interval", "ops.port", "paper.first_book_timeout", "paper.balances.<KEY>",
                     "sim.faults.drop_sockets_rate", "sim.symbols.<KEY>.mid", "sim.accounts.<ITEM>.maker_fee",
                     "symbols.BTC/USDT.risk.max_position", "symbols.BTC/USDT.execution.max_order_age"):
        assert expected in names
    assert len(PATHS) > 60


@pytest.mark.parametrize("value", NOT_FINITE, ids=("inf", "-inf", "nan"))
@pytest.mark.parametrize("path", PATHS, ids=".".join)
def test_every_numeric_setting_refuses_non_finite(path: tuple[str, ...], value: float) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(overrides=overrides_for(path, value))
    assert len(err.value.lines) == 1, err.value.lines
    line = err.value.lines[0]
    assert line.startswith(f"{dotted(path)}: "), line
    assert "finite number" in line, line


def test_the_overrides_of_the_walk_are_valid_with_a_finite_value() -> None:
    """The overrides built for each path load when the value is a plain number: the refusal is the value's."""
    for path in PATHS:
        for value in (1, 0.5):
            try:
                load_settings(overrides=overrides_for(path, value))
            except ConfigError as exc:  # a bound may refuse 0.5 or 1; then it must not be about finiteness
                assert not any("finite" in line for line in exc.lines), (path, exc.lines)
                # the field's own bound, or a rule across fields of its table that names it (a perpetual's mid
                # must equal its spot market's)
                assert all(line.startswith(dotted(path)) or f"{path[-1]} must" in line for line in exc.lines), \
                    (path, exc.lines)


ENV_PATHS = [p for p in PATHS if p[0] != "symbols" and KEY not in p and ITEM not in p]


@pytest.mark.parametrize("text", ("inf", "-inf", "nan", "Infinity", "NaN"))
@pytest.mark.parametrize("path", ENV_PATHS, ids=".".join)
def test_environment_values_are_refused_too(path: tuple[str, ...], text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMBOT_" + "__".join(p.upper() for p in path), text)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert len(err.value.lines) == 1, err.value.lines
    assert err.value.lines[0].startswith(f"{dotted(path)}: "), err.value.lines
