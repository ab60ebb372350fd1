"""Shared fixtures: keep the environment clean of MMBOT_ variables so tests don't leak into each other
(except ``MMBOT_OPS__PORT=0`` and ``MMBOT_RISK__STATE_DIR`` in the test's tmp_path, and ``MMBOT_PURE``, which
is not a setting: it picks the pure-Python build for the whole run, child processes included)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests check properties, not speed: on a loaded 2-core CI machine a slow example is not a failure.
settings.register_profile("mmbot", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("mmbot")


@pytest.fixture(autouse=True)
def _clean_mmbot_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("MMBOT_") and name != "MMBOT_PURE":
            monkeypatch.delenv(name, raising=False)
    # a bot started by a test (in-process or a child process inheriting the environment) serves its ops
    # endpoint on any free port, never the default 9108: parallel runs and a running bot must not clash
    monkeypatch.setenv("MMBOT_OPS__PORT", "0")
    # journals and kill latches of test runs go to the test's own directory, never the checkout's var/
    monkeypatch.setenv("MMBOT_RISK__STATE_DIR", str(tmp_path / "var"))
