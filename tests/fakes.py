"""Small fakes shared by unit tests."""

from __future__ import annotations

from typing import Any


class RecordingLog:
    """A structlog stand-in: every call at any level (``log.info(event, **fields)``) is kept in ``events``."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, level: str) -> Any:
        return lambda event, **kw: self.events.append((event, kw))

    def names(self) -> list[str]:
        """The event names, in order."""
        return [e for e, _ in self.events]
