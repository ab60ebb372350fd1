"""``mmbot sim``: run the simulated Binance-spot exchange standalone until Ctrl-C / SIGTERM.

Settings come from the ``[sim]`` section of ``--config FILE`` (and ``MMBOT_SIM__...`` variables);
``--seed`` overrides ``sim.seed``. It logs the URLs to point a client at and the default API key
pair — that pair is a documented local default, not a secret, for local use only. With ``sim.perps``
set it also serves the USDT-margined perpetuals (Binance USDⓈ-M futures' protocol) on the same port and
logs their URLs (``sim_futures_listening``: REST ``/fapi/v1|v2|v3``, streams ``/fstream/ws``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from typing import Any

from bot.config import load_settings
from bot.errors import UserError
from bot.logs import configure_logging, get_logger
from bot.sim.settings import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimSettings


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "sim",
        help="run the simulated Binance-spot exchange (REST + WebSocket) on this machine",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765; 0 = any free port)")
    p.add_argument("--seed", type=int, help="random seed of the synthetic market (overrides sim.seed)")
    p.add_argument("--config", metavar="FILE", help="TOML config; its [sim] section configures the exchange")
    return p


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port: must be between 0 and 65535 (got {args.port})")
    overrides: dict[str, Any] = {}
    if args.seed is not None:
        if args.seed < 0:
            raise UserError(f"--seed: must be >= 0 (got {args.seed})")
        overrides["sim"] = {"seed": args.seed}
    settings = load_settings(args.config, overrides)
    configure_logging(settings.logging.level, settings.logging.format)
    return asyncio.run(_serve(settings.sim, args.host, args.port))


async def _serve(settings: SimSettings, host: str, port: int) -> int:
    from bot.sim.server import start_sim

    log = get_logger(component="sim")
    try:
        server = await start_sim(settings, host, port)
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    ws_host = server.url.removeprefix("http://")
    log.info(
        "sim_listening",
        url=server.url,
        rest=f"{server.url}/api/v3",
        ws=f"ws://{ws_host}/stream/ws",
        ws_api=f"ws://{ws_host}/ws-api/v3",
        admin=f"{server.url}/admin/state (loopback clients only)",
        seed=settings.seed,
        symbols=sorted(settings.symbols),
    )
    futures = server.futures_urls
    if futures is not None:
        log.info(
            "sim_futures_listening",
            rest=futures["rest"],
            rest_v2=futures["rest_v2"],
            rest_v3=futures["rest_v3"],
            ws=futures["ws"],
            admin=f"{server.url}/admin/perp/faults (loopback clients only)",
            perps=sorted(settings.perps),
        )
    for account in settings.accounts:
        secret = account.api_secret.get_secret_value()
        is_default = account.api_key == DEFAULT_API_KEY and secret == DEFAULT_API_SECRET
        log.info(
            "sim_account",
            key_id=account.api_key,
            key_secret=secret if is_default else "(as configured)",
            note="documented default key pair, for local use only" if is_default else "configured account",
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
    return 0
