"""Structured logging with structlog.

JSON lines when stdout is not a terminal (or ``format = "json"``), readable console output on a
terminal; UTC ISO-8601 timestamps (``2026-11-25T01:02:03.000456Z``: always microseconds, so the
strings sort like the times); context (e.g. ``symbol``) bound through contextvars; and a redactor
that masks every known secret value and every secret-looking key wherever it appears.

Cost: the bot logs on its hot path (``order_placed`` sits between two venue calls), so the JSON
pipeline is one processor (:class:`JsonLines`: context, level, timestamp, traceback, redaction and
rendering in one pass, the timestamp's date part formatted once per second) written with
``write`` + ``flush`` per line; the redactor only rebuilds containers and strings that hold secrets.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog
from structlog.contextvars import merge_contextvars
from structlog.processors import format_exc_info

REDACTED = "***"
SECRET_KEYS = frozenset(
    {"api_key", "api_secret", "api_password", "secret", "apikey", "signature", "password", "x-mbx-apikey"}
)
_SCALARS = frozenset({int, float, bool, type(None)})
_ENCODER = json.JSONEncoder(default=repr)  # json.dumps(event, default=repr) without a new encoder per call
_LEVELS = {"warn": "warning", "exception": "error"}  # structlog's method name -> level mapping


_SECRET_KEY_MEMO: dict[str, bool] = {}


def _is_secret_key(key: str) -> bool:
    """``key.lower() in SECRET_KEYS``, remembered per key (log calls use a small set of field names)."""
    found = _SECRET_KEY_MEMO.get(key)
    if found is None:
        if len(_SECRET_KEY_MEMO) >= 4096:
            _SECRET_KEY_MEMO.clear()
        found = _SECRET_KEY_MEMO[key] = key.lower() in SECRET_KEYS
    return found


class SecretRedactor:
    """structlog processor: replace secret values (anywhere in strings) and secret-named keys."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets: list[str] = sorted({s for s in secrets if s}, key=len, reverse=True)

    def add(self, *secrets: str) -> None:
        self.secrets = sorted({*self.secrets, *(s for s in secrets if s)}, key=len, reverse=True)

    def __call__(self, _logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        secrets = self.secrets
        for key, value in event.items():  # assigning to existing keys while iterating is safe
            if _is_secret_key(key):
                event[key] = REDACTED
                continue
            kind = type(value)
            if kind in _SCALARS:
                continue
            if kind is str:
                for secret in secrets:
                    if secret in value:
                        value = value.replace(secret, REDACTED)
                        event[key] = value
                continue
            cleaned = self._clean(value)
            if cleaned is not value:
                event[key] = cleaned
        return event

    def _clean(self, value: Any) -> Any:
        kind = type(value)
        if kind in _SCALARS:
            return value
        if kind is str or isinstance(value, str):
            for secret in self.secrets:
                if secret in value:
                    value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, dict):
            return {k: REDACTED if _is_secret_key(str(k)) else self._clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._clean(v) for v in value)
        if isinstance(value, int | float | bool):
            return value
        return self._clean(str(value))


redactor = SecretRedactor()


class UtcStamp:
    """``time.time()`` as ISO-8601 UTC with microseconds and ``Z``; the date and time of day are
    formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._prefix}.{int((now - second) * 1e6):06d}Z"


class JsonLines:
    """The whole JSON pipeline as one structlog processor: contextvars, ``level``, ``timestamp``,
    ``exception`` (when ``exc_info`` is given), the redactor, then one JSON object per line."""

    def __init__(self, redact: SecretRedactor) -> None:
        self.redact = redact
        self.stamp = UtcStamp()

    def __call__(self, logger: Any, name: str, event: MutableMapping[str, Any]) -> str:
        merge_contextvars(logger, name, event)
        event["level"] = _LEVELS.get(name, name)
        event["timestamp"] = self.stamp()
        if "exc_info" in event:  # before the redactor, so tracebacks are redacted too
            format_exc_info(logger, name, event)
        self.redact(logger, name, event)
        return _ENCODER.encode(event)


def configure_logging(
    level: str = "info",
    fmt: str = "auto",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> None:
    """Configure structlog for the whole process (idempotent; the last call wins)."""
    out = stream or sys.stdout
    redactor.secrets = []
    redactor.add(*secrets)
    use_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    processors: list[Any] = (
        [JsonLines(redactor)]
        if use_json
        else [
            merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            format_exc_info,  # before the redactor, so tracebacks are redacted too
            redactor,
            structlog.dev.ConsoleRenderer(colors=out.isatty(), sort_keys=False),
        ]
    )
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.WriteLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )


def get_logger(**context: Any) -> Any:
    """A structlog logger with ``context`` bound."""
    return structlog.get_logger().bind(**context)
