"""Shared helpers of the benchmarks: distributions, child processes, CPU/RSS sampling, sim settings.

Clocks: latencies are taken with ``time.perf_counter_ns`` inside one process (both ends of a figure
are stamped by the same process); figures that cross processes use CPU time (``/proc`` via psutil) or
the sim's wall-clock event time (``E`` of a depth diff, ms) against the bot's ``time.time()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from bot.sim.settings import AccountSpec, RateLimitSettings, SimSettings, SymbolSpec

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
REPO = Path(__file__).resolve().parent.parent

#: rate limits high enough that the simulated exchange never throttles a benchmark
UNLIMITED = RateLimitSettings(weight_per_minute=10**9, orders_per_10s=10**9)


def dist(values: Sequence[float] | np.ndarray, scale: float = 1.0) -> dict[str, float]:
    """p50/p90/p99/max/mean/n of ``values`` times ``scale``."""
    a = np.asarray(values, dtype=float) * scale
    if a.size == 0:
        return {"n": 0, "p50": math.nan, "p90": math.nan, "p99": math.nan, "max": math.nan, "mean": math.nan}
    return {
        "n": int(a.size),
        "p50": float(np.percentile(a, 50)),
        "p90": float(np.percentile(a, 90)),
        "p99": float(np.percentile(a, 99)),
        "max": float(a.max()),
        "mean": float(a.mean()),
    }


def slope(t: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope dy/dt (0 with fewer than 3 points)."""
    if len(t) < 3:
        return 0.0
    k, _ = np.polyfit(np.asarray(t, dtype=float), np.asarray(y, dtype=float), 1)
    return float(k)


def cpu_seconds(proc: Any) -> float:
    """User + system CPU seconds of one process so far."""
    c = proc.cpu_times()
    return float(c.user + c.system)


def pin(pid: int, cpus: set[int]) -> None:
    """Restrict a process to ``cpus`` (best effort: ignored where affinity is unsupported or cpus absent)."""
    have = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    wanted = cpus & set(range(os.cpu_count() or 1))
    if wanted and hasattr(os, "sched_setaffinity") and len(have) > 1:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(pid, wanted)


def unpin(pid: int) -> None:
    if hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(pid, set(range(os.cpu_count() or 1)))


class SocketStamps:
    """``perf_counter_ns`` of this process's socket traffic, for splitting a latency into legs.

    Benchmark-only: it wraps the default event loop's selector socket transport (``asyncio.selector_events``,
    CPython's loop), class-wide, while installed. ``last_read``: the latest socket read handed to a protocol
    (aiohttp's parser). ``first_write``: the first socket write after :meth:`arm` (0 until then).
    Where the transport class is not there (another loop), nothing is stamped and the legs read 0.
    """

    def __init__(self) -> None:
        self.last_read = 0
        self.first_write = 0
        self._armed = False
        self._saved: tuple[Any, Any] | None = None

    def arm(self) -> None:
        self.first_write, self._armed = 0, True

    def install(self) -> SocketStamps:
        from asyncio import selector_events

        cls = getattr(selector_events, "_SelectorSocketTransport", None)
        read = getattr(cls, "_read_ready__data_received", None)
        if cls is None or read is None or self._saved is not None:
            return self
        write = cls.write
        stamps = self

        def read_ready(transport: Any) -> None:
            stamps.last_read = time.perf_counter_ns()
            read(transport)

        def written(transport: Any, data: Any) -> None:
            if stamps._armed:
                stamps.first_write, stamps._armed = time.perf_counter_ns(), False
            write(transport, data)

        self._saved = (read, write)
        cls._read_ready__data_received, cls.write = read_ready, written
        return self

    def uninstall(self) -> None:
        if self._saved is not None:
            from asyncio import selector_events

            cls = selector_events._SelectorSocketTransport  # type: ignore[attr-defined]
            cls._read_ready__data_received, cls.write = self._saved
            self._saved = None


def one_symbol(**spec: Any) -> dict[str, SymbolSpec]:
    return {"BTC/USDT": SymbolSpec(base="BTC", quote="USDT", mid=Decimal("30000"), **spec)}


def many_symbols(n: int, **spec: Any) -> tuple[dict[str, SymbolSpec], list[AccountSpec]]:
    """``n`` synthetic markets ``S001/USDT``... (mid 100, tick 0.01, lot 0.01) and an account funding them."""
    symbols = {}
    balances: dict[str, Decimal] = {"USDT": Decimal(10**9)}
    for i in range(1, n + 1):
        base = f"S{i:03d}"
        symbols[f"{base}/USDT"] = SymbolSpec(
            base=base, quote="USDT", mid=Decimal("100"), step_size=Decimal("0.01"), level_size=1.0,
            taker_size=1.0, **spec,
        )
        balances[base] = Decimal(10**6)
    from pydantic import SecretStr

    from bot.sim.settings import DEFAULT_API_KEY, DEFAULT_API_SECRET

    account = AccountSpec(api_key=DEFAULT_API_KEY, api_secret=SecretStr(DEFAULT_API_SECRET), balances=balances)
    return symbols, [account]


def sim_settings(**kw: Any) -> SimSettings:
    kw.setdefault("rate_limits", UNLIMITED)
    return SimSettings(**kw)


def bot_settings(url: str, symbols: list[str], **sections: dict[str, Any]) -> dict[str, Any]:
    """Overrides for ``load_settings``: a bot on the running sim at ``url``, JSON logs."""
    out: dict[str, Any] = {
        "venue": {"kind": "sim", "url": url, "symbols": symbols},
        "logging": {"level": "info", "format": "json"},
    }
    for name, values in sections.items():
        out.setdefault(name, {}).update(values)
    return out


@dataclass
class Child:
    """A benchmark child process (``python -m bench.<module>``) driven by lines on its stdin."""

    proc: asyncio.subprocess.Process
    log: Path

    @property
    def ps(self) -> Any:
        """psutil's view of the child (CPU times, RSS); psutil comes with the ``bench`` extra."""
        import psutil

        return psutil.Process(self.proc.pid)

    @classmethod
    async def start(cls, module: str, args: list[str], log: Path, cwd: Path) -> Child:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        out = log.open("wb")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, *args, stdin=asyncio.subprocess.PIPE, stdout=out,
            stderr=asyncio.subprocess.STDOUT, cwd=str(cwd), env=env,
        )
        out.close()
        return cls(proc, log)

    async def send(self, line: str) -> None:
        if self.proc.stdin is not None and self.proc.returncode is None:
            self.proc.stdin.write((line + "\n").encode())
            await self.proc.stdin.drain()

    async def stop(self, timeout: float = 30.0) -> int:  # noqa: ASYNC109
        """Ask it to stop (``stop`` line), wait, kill if it does not; returns the exit code (-9: killed)."""
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await self.send("stop")
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            return await self.proc.wait()

    def tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def free_port() -> int:
    """A loopback TCP port free a moment ago (for a child's server whose address the benchmark must know)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_until(pred: Any, timeout: float, what: str, every: float = 0.02) -> None:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        if loop.time() > end:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(every)
