"""The search space of ``mmbot tune`` (pure but for reading the ``--space`` file).

Axes are dotted settings keys (``strategy.skew``; :func:`bot.research.tune.trial.split_key` says which exist)
with their values, from three sources:

* ``--grid KEY=V1,V2,...``: the listed values;
* ``--range KEY=LO:HI:N``: N evenly spaced values from LO to HI inclusive (N >= 2, or N = 1 with LO = HI); for
  an int setting the values are rounded to ints and repeats dropped; floats carry no float noise (12 digits);
* a TOML file (``--space FILE``): ``[space]`` maps a key to a list of values or to ``{lo, hi, n}``; optional
  ``[objective]`` (``kind``, ``risk_lambda``) and ``[constraints]`` (``max_q_frac``, ``min_fills``) mirror the
  flags, which override them (and a flag's axis replaces the file's).

A value is read as the setting's type (a bool from true/false, ``none`` for an unset optional number, an int or
float otherwise, else the text). The trials are the Cartesian product of the axes in their order (the first axis
varies slowest); an axis named twice by the flags, a bad key, a malformed value, or a space larger than
:data:`MAX_TRIALS`: UserError (one line, exit 2). Each trial's settings are validated afterwards, by the caller.
"""

from __future__ import annotations

import itertools
import math
import tomllib
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import UserError
from bot.research.tune.trial import MODELS, split_key

MAX_TRIALS = 100_000
OBJECTIVE_KEYS = frozenset({"kind", "risk_lambda"})
CONSTRAINT_KEYS = frozenset({"max_q_frac", "min_fills"})


@dataclass(frozen=True)
class Space:
    """The axes (key -> values, in order) and what the file said of the objective and constraints."""

    axes: dict[str, list[Any]]
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return math.prod(len(v) for v in self.axes.values())

    def trials(self) -> list[dict[str, Any]]:
        """Every combination, one override dict each (one empty dict when there is no axis)."""
        keys = list(self.axes)
        return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*self.axes.values())]


def _kind(key: str) -> type:
    """The scalar type a setting holds (int, float, bool or str), optional or not."""
    section, name = split_key(key)
    tp: Any = MODELS[section].model_fields[name].annotation
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
    if typing.get_origin(tp) is typing.Literal:
        return str
    return tp if tp in (int, float, bool) else str


def _optional(key: str) -> bool:
    section, name = split_key(key)
    tp: Any = MODELS[section].model_fields[name].annotation
    return type(None) in typing.get_args(tp)


def parse_value(key: str, text: str) -> Any:
    """One value given as text, read as ``key``'s type (UserError when it is not one)."""
    kind, raw = _kind(key), text.strip()
    if raw.lower() in ("none", "null") and _optional(key):
        return None
    if kind is bool:
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise UserError(f"{key}: {text!r} is not true or false")
    if kind is str:
        if not raw:
            raise UserError(f"{key}: an empty value")
        return raw
    try:
        number = float(raw)
    except ValueError:
        raise UserError(f"{key}: {text!r} is not a number") from None
    if not math.isfinite(number):
        raise UserError(f"{key}: {text!r} is not a finite number")
    if kind is int:
        if number != int(number):
            raise UserError(f"{key}: {text!r} is not a whole number")
        return int(number)
    return number


def _checked(key: str, value: Any) -> Any:
    """A value from the TOML file, checked against ``key``'s type as :func:`parse_value` reads text."""
    if isinstance(value, str):
        return parse_value(key, value)
    kind = _kind(key)
    if kind is bool and isinstance(value, bool):
        return value
    if kind in (int, float) and isinstance(value, int | float) and not isinstance(value, bool):
        return parse_value(key, repr(value))
    raise UserError(f"{key}: {value!r} is not a {kind.__name__}")


def spaced(key: str, lo: float, hi: float, n: int) -> list[Any]:
    """N evenly spaced values from ``lo`` to ``hi`` inclusive, as ``key``'s type (module docstring)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise UserError(f"{key}: the number of values must be a whole number >= 1, got {n!r}")
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise UserError(f"{key}: the range's ends must be finite numbers")
    if n == 1 and lo != hi:
        raise UserError(f"{key}: one value from {lo:g} to {hi:g}: give n >= 2 (or lo = hi)")
    kind = _kind(key)
    if kind not in (int, float):
        raise UserError(f"{key}: a range needs a numeric setting (use a grid of values)")
    values = [lo] if n == 1 else [lo + (hi - lo) * i / (n - 1) for i in range(n)]
    if kind is int:
        return list(dict.fromkeys(round(v) for v in values))
    return [round(v, 12) + 0.0 for v in values]


def parse_grid(text: str) -> tuple[str, list[Any]]:
    """``KEY=V1,V2,...`` -> (key, values)."""
    key, eq, rest = text.partition("=")
    key = key.strip()
    if not eq or not rest.strip():
        raise UserError(f"--grid {text!r}: expected KEY=V1,V2,... (e.g. strategy.skew=0,0.5,1)")
    return key, list(dict.fromkeys(parse_value(key, v) for v in rest.split(",")))


def parse_range(text: str) -> tuple[str, list[Any]]:
    """``KEY=LO:HI:N`` -> (key, values)."""
    key, eq, rest = text.partition("=")
    key = key.strip()
    parts = rest.split(":")
    if not eq or len(parts) != 3:
        raise UserError(f"--range {text!r}: expected KEY=LO:HI:N (e.g. strategy.half_spread=0.01:0.05:5)")
    split_key(key)
    try:
        lo, hi, n = float(parts[0]), float(parts[1]), float(parts[2])
    except ValueError:
        raise UserError(f"--range {text!r}: LO, HI and N must be numbers") from None
    if n != int(n):
        raise UserError(f"--range {text!r}: N must be a whole number")
    return key, spaced(key, lo, hi, int(n))


def _table(doc: dict[str, Any], name: str, allowed: frozenset[str] | None, where: Path) -> dict[str, Any]:
    table = doc.get(name, {})
    if not isinstance(table, dict):
        raise UserError(f"{where}: [{name}] must be a table")
    if allowed is not None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise UserError(f"{where}: [{name}] {unknown[0]}: unknown key (known: {', '.join(sorted(allowed))})")
    return table


def read_space_file(path: Path) -> Space:
    """The axes and options of a ``--space`` TOML file (UserError, one line, when it cannot be used)."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"--space: cannot read {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"--space: {path}: invalid TOML: {exc}") from None
    unknown = sorted(set(doc) - {"space", "objective", "constraints"})
    if unknown:
        raise UserError(f"--space: {path}: [{unknown[0]}]: unknown table (known: space, objective, constraints)")
    axes: dict[str, list[Any]] = {}
    for key, spec in _table(doc, "space", None, path).items():
        if isinstance(spec, list):
            if not spec:
                raise UserError(f"--space: {path}: {key}: an empty list of values")
            axes[key] = list(dict.fromkeys(_checked(key, v) for v in spec))
        elif isinstance(spec, dict) and set(spec) == {"lo", "hi", "n"}:
            lo, hi = (_checked(key, spec[k]) for k in ("lo", "hi"))
            if not isinstance(lo, int | float) or not isinstance(hi, int | float):
                raise UserError(f"--space: {path}: {key}: lo and hi must be numbers")
            axes[key] = spaced(key, float(lo), float(hi), spec["n"])
        else:
            raise UserError(f"--space: {path}: {key}: expected a list of values or {{lo = ..., hi = ..., n = ...}}")
    options = {**_table(doc, "objective", OBJECTIVE_KEYS, path), **_table(doc, "constraints", CONSTRAINT_KEYS, path)}
    return Space(axes, options)


def build_space(grids: Sequence[str] = (), ranges: Sequence[str] = (), file: Path | None = None) -> Space:
    """The space from the flags and the optional file (flags win; module docstring). UserError when it is
    larger than :data:`MAX_TRIALS`."""
    space = read_space_file(file) if file is not None else Space({})
    axes = dict(space.axes)
    flagged: set[str] = set()
    for key, values in [*map(parse_grid, grids), *map(parse_range, ranges)]:
        if key in flagged:
            raise UserError(f"{key}: given twice (one --grid or --range per setting)")
        flagged.add(key)
        axes[key] = values
    built = Space(axes, space.options)
    if built.size > MAX_TRIALS:
        raise UserError(f"the space has {built.size} trials, more than {MAX_TRIALS}: sweep fewer values")
    return built
