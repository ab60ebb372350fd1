"""Structured logging with structlog.

JSON lines when stdout is not a terminal (or ``format = "json"``), readable console output on a
terminal; UTC ISO-8601 timestamps; context (e.g. ``symbol``) bound through contextvars; and a
redactor that masks every known secret value and every secret-looking key wherever it appears.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog

REDACTED = "***"
SECRET_KEYS = frozenset(
    {"api_key", "api_secret", "api_password", "secret", "apikey", "signature", "password", "x-mbx-apikey"}
)


class SecretRedactor:
    """structlog processor: replace secret values (anywhere in strings) and secret-named keys."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets: list[str] = sorted({s for s in secrets if s}, key=len, reverse=True)

    def add(self, *secrets: str) -> None:
        self.secrets = sorted({*self.secrets, *(s for s in secrets if s)}, key=len, reverse=True)

    def __call__(self, _logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key in list(event):
            event[key] = REDACTED if key.lower() in SECRET_KEYS else self._clean(event[key])
        return event

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self.secrets:
                if secret in value:
                    value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, dict):
            return {k: REDACTED if str(k).lower() in SECRET_KEYS else self._clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self._clean(v) for v in value)
        if isinstance(value, str | int | float | bool) or value is None:
            return value
        return self._clean(str(value))


redactor = SecretRedactor()


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
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if use_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty(), sort_keys=False)
    )
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,  # before the redactor, so tracebacks are redacted too
        redactor,
        renderer,
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )


def get_logger(**context: Any) -> Any:
    """A structlog logger with ``context`` bound."""
    return structlog.get_logger().bind(**context)
