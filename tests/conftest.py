"""Shared fixtures: keep the environment clean of MMBOT_ variables so tests don't leak into each other."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _clean_mmbot_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MMBOT_"):
            monkeypatch.delenv(name, raising=False)
