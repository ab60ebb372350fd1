"""Errors that reach the operator as a short message and exit code 2, never a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A mistake the operator can fix (bad usage, bad config, unknown symbol, bad keys).

    ``lines`` are printed one per line to stderr; the process exits with ``exit_code``.
    """

    exit_code = 2

    def __init__(self, lines: list[str] | str) -> None:
        self.lines = [lines] if isinstance(lines, str) else list(lines)
        super().__init__("; ".join(self.lines))


class ConfigError(UserError):
    """The configuration is invalid: one line per bad field."""
