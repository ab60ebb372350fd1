"""Operator references generated from the code, so they cannot drift from it.

- :func:`config_reference`: Markdown for every setting, walked recursively from the pydantic models of
  :class:`bot.config.Settings` (key, type with its bounds, default, description, environment variable).
  ``docs/CONFIG.md`` is this text; a test compares them.
- :func:`log_events`: every structured log event the package emits (``log.info("name", field=...)``
  calls found with :mod:`ast`), with its levels, keyword fields and modules; a test checks that
  ``docs/EVENTS.md`` documents each of them.

Regenerate the config reference with ``python -m bot.ops.reference > docs/CONFIG.md``.
"""

from __future__ import annotations

import ast
import enum
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

HEADER = """# Configuration reference

Generated from the pydantic models in `bot/config.py` (and `bot/sim/settings.py`,
`bot/paper/settings.py`) by `python -m bot.ops.reference > docs/CONFIG.md`; a test fails when this
file is out of date. Do not edit by hand.

Sources, highest precedence first: `mmbot run` flags, environment variables (`MMBOT_` prefix, `__`
between levels, values of lists/dicts/tables as JSON), secret files (`MMBOT_SECRETS_DIR`, default
`/run/secrets`: `mmbot_venue__api_key`, `mmbot_venue__api_secret`, `mmbot_venue__api_password`,
`mmbot_ops__token`), the TOML file given by `--config`, the defaults below. Prices are in quote
currency, sizes and positions in base units, times in seconds.

Refused with one line and exit code 2, never ignored: unknown keys; an `MMBOT_` variable that names no
setting (except `MMBOT_SECRETS_DIR`, `MMBOT_PURE`, `MMBOT_ENV_FILE`) or a key below a dict setting
(`MMBOT_PAPER__BALANCES__USDT`: set `MMBOT_PAPER__BALANCES` as JSON); a list, dict or table variable
that is not JSON of that shape (its value is never shown); a number that is not finite (`inf`, `nan`:
a limit that may be off says so, e.g. `unset = off` or `0 = off`); API keys and `ops.token` in the
TOML file (they come only from the environment or secret files; the simulator's own `[sim.accounts]`
are local test fixtures and stay in the file).

Per-symbol overrides: `[symbols."ETH/USDT".strategy]` (likewise `risk`, `execution`) overrides keys of
that section for that symbol only. The symbol must be traded (in `venue.symbols`, or
given with `--symbol`), spelled exactly (symbols are case-sensitive); errors name the full path, e.g.
`symbols."ETH/USDT".risk.max_position`.
"""

# -- config ---------------------------------------------------------------------------------------

_BOUNDS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _type_name(tp: Any) -> str:
    """A short human name for an annotation: ``float``, ``"a" | "b"``, ``list[str]``, ``str or unset``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return " | ".join(f'"{a}"' if isinstance(a, str) else str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        parts = [a for a in args if a is not type(None)]
        text = " | ".join(_type_name(a) for a in parts)
        return f"{text} (optional)" if len(parts) < len(args) else text
    if origin in (list, tuple, set, frozenset):
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in args)}]"
    if origin is dict:
        return f"dict[{', '.join(_type_name(a) for a in args)}]"
    if tp is SecretStr:
        return "secret string"
    if tp is Decimal:
        return "decimal"
    if tp is Path:
        return "path"
    if _is_model(tp):
        return "table"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return " | ".join(f'"{m.value}"' for m in tp)
    return getattr(tp, "__name__", str(tp))


def _constraints(info: FieldInfo) -> str:
    out = []
    for meta in info.metadata:
        for attr, sign in _BOUNDS.items():
            value = getattr(meta, attr, None)
            if value is not None:
                out.append(f"{sign} {value}")
        if getattr(meta, "min_length", None) is not None:
            out.append(f"min length {meta.min_length}")
        if getattr(meta, "max_length", None) is not None:
            out.append(f"max length {meta.max_length}")
        if getattr(meta, "pattern", None) is not None:
            out.append(f"matches `{meta.pattern}`")
    return ", ".join(out)


def _default(info: FieldInfo) -> str:
    if info.default is PydanticUndefined and info.default_factory is None:
        return "required"
    value = info.default if info.default_factory is None else info.default_factory()  # type: ignore[call-arg]
    if isinstance(value, BaseModel):
        return "(table below)"
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        return "(secret)"
    if isinstance(value, dict) and value and all(isinstance(v, BaseModel) for v in value.values()):
        return "(see below)"
    if isinstance(value, list) and value and all(isinstance(v, BaseModel) for v in value):
        return "(see below)"
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, Path | str):
        text = f'"{value}"'
    elif isinstance(value, list | dict):
        text = repr(value).replace("'", '"').replace("Decimal(", "").replace('")', '"')
    else:
        text = str(value)
    return f"`{text}`"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


@dataclass
class _Table:
    key: str  # dotted TOML path of the table, e.g. "venue" or "sim.symbols.<SYMBOL>"
    model: type[BaseModel]
    env: bool  # settable field by field from the environment
    doc: str = ""


def _tables(prefix: str, model: type[BaseModel], env: bool) -> Iterable[_Table]:
    yield _Table(prefix, model, env, (model.__doc__ or "").strip().split("\n\n")[0])
    for name, info in model.model_fields.items():
        tp = info.annotation
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if _is_model(tp):
            yield from _tables(f"{prefix}.{name}", tp, env)  # type: ignore[arg-type]
        elif origin is dict and len(args) == 2 and _is_model(args[1]):
            yield from _tables(f"{prefix}.{name}.<SYMBOL>", args[1], False)
        elif origin is list and args and _is_model(args[0]):
            yield from _tables(f"{prefix}.{name}[]", args[0], False)


def config_reference() -> str:
    """The Markdown reference of every setting (``docs/CONFIG.md``)."""
    from bot.config import ACCOUNT_WIDE, Settings

    shared = "; ".join(f"`{section}`: " + ", ".join(f"`{k}`" for k in sorted(keys))
                       for section, keys in ACCOUNT_WIDE.items() if keys)
    lines = [HEADER + f"These apply to the whole account and cannot be overridden per symbol: {shared}.\n"]
    for name, info in Settings.model_fields.items():
        tp = info.annotation
        if not _is_model(tp):
            continue  # `symbols`: the per-symbol overrides, described in the header
        for table in _tables(name, tp, True):  # type: ignore[arg-type]
            lines.append(f"## `[{table.key}]`\n")
            if table.doc and not table.doc.startswith(("A config section", "Usage docs")):
                lines.append(f"{_escape(table.doc)}\n")
            env_note = "" if table.env else " (set this table in the TOML file or as JSON in its parent's variable)"
            header = "| key | type | default | description |" if not table.env else \
                "| key | type | default | description | environment |"
            lines.append(env_note.strip() + ("\n" if env_note else "") + header)
            lines.append("|---|---|---|---|" + ("---|" if table.env else ""))
            for key, field_info in table.model.model_fields.items():
                ftp = field_info.annotation
                if _is_model(ftp):
                    continue
                kind = _type_name(ftp)
                bounds = _constraints(field_info)
                if bounds and kind.endswith(" (optional)"):
                    kind = f"{kind[:-1]}, {bounds})"
                elif bounds:
                    kind = f"{kind} ({bounds})"
                row = f"| `{key}` | {_escape(kind)} | {_escape(_default(field_info))} | " \
                      f"{_escape(field_info.description or '')} |"
                if table.env:
                    env = "MMBOT_" + "__".join(p.upper() for p in [*table.key.split("."), key])
                    row += f" `{env}` |"
                lines.append(row)
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# -- log events -----------------------------------------------------------------------------------

LEVELS = frozenset({"debug", "info", "warning", "error", "critical", "exception"})


@dataclass
class EventInfo:
    name: str
    levels: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)
    modules: set[str] = field(default_factory=set)


def log_events(root: Path | None = None) -> dict[str, EventInfo]:
    """Every ``<logger>.<level>("event", key=...)`` call under ``root`` (the ``bot`` package by default).

    Only calls whose first argument is a string literal of ``[a-z_0-9]`` count; ``**kwargs`` fields are
    not visible here and must be documented by hand.
    """
    root = root or Path(__file__).resolve().parents[1]
    events: dict[str, EventInfo] = {}
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in LEVELS and node.args):
                continue
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            name = first.value
            if not name or not all(c.islower() or c.isdigit() or c == "_" for c in name):
                continue
            info = events.setdefault(name, EventInfo(name))
            info.levels.add(node.func.attr)
            info.fields.update(k.arg for k in node.keywords if k.arg is not None)
            info.modules.add(str(path.relative_to(root.parent)))
    return dict(sorted(events.items()))


if __name__ == "__main__":  # pragma: no cover
    print(config_reference(), end="")
