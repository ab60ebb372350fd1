"""``mmbot pause`` / ``mmbot resume``: withdraw or restore a running bot's quotes through its ops server.

``POST /pause`` or ``POST /resume`` with ``{}`` (every symbol) or ``{"symbol": S}``, as JSON with the bearer
token. The token: ``--token-file F``, else ``MMBOT_OPS__TOKEN``, else ``ops.token`` from the secret file
``mmbot_ops__token``, else the one the running bot generated into ``<risk.state_dir>/ops-token`` (``--config``
and the environment give ``risk.state_dir``, default ``var``). The URL: ``--url``, else ``ops.host:ops.port``
of the same settings. The manual pause withdraws quotes only: the bot keeps managing fills and the journal,
and a restart quotes again. A 200 means the bot took the request, not that the venue has cancelled yet.
Exit codes: 0 the bot took it, 1 it answered but its manual pause is not what was asked, 2 refused
(401/403/404/421), nothing answering, no token or bad usage.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.commands.status import add_url_arguments, ops_url, request_json
from bot.config import Settings, load_settings
from bot.errors import UserError
from bot.ops.http import TOKEN_FILE

TOKEN_ENV = "MMBOT_OPS__TOKEN"
REFUSALS = frozenset({401, 403, 404, 421})

HELP = {
    "pause": "withdraw a running bot's quotes (it keeps managing fills); until resume or a restart",
    "resume": "lift the manual pause of a running bot (mmbot pause)",
}


def add_parser(subparsers: argparse._SubParsersAction) -> tuple[argparse.ArgumentParser, ...]:  # type: ignore[type-arg]
    """The ``pause`` and ``resume`` parsers (same flags); ``args.action`` tells them apart."""
    return tuple(_parser(subparsers, action) for action in ("pause", "resume"))


def _parser(subparsers: argparse._SubParsersAction, action: str) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        action,
        help=HELP[action],
        description=f"POST /{action} to a running bot's ops server. Exit 0 taken, 1 the answer does not show it, "
                    "2 refused or no answer.",
    )
    parser.set_defaults(action=action)
    parser.add_argument("--symbol", metavar="S", help="only this symbol (default: every symbol)")
    add_url_arguments(parser, reads="ops.host, ops.port, risk.state_dir")
    parser.add_argument("--token-file", metavar="F", help="a file holding the ops token (default: MMBOT_OPS__TOKEN, "
                                                          "else <risk.state_dir>/ops-token)")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for an answer (default 3)")
    return parser


def run(args: argparse.Namespace) -> int:
    if args.timeout <= 0:
        raise UserError(f"--timeout must be > 0 (got {args.timeout:g})")
    if args.symbol is not None and not args.symbol.strip():
        raise UserError("--symbol must name a symbol (e.g. BTC/USDT)")
    settings = load_settings(args.config)
    base = ops_url(args, settings)
    token = find_token(args.token_file, os.environ, settings)
    body = {} if args.symbol is None else {"symbol": args.symbol}
    _, answer = request_json(base, f"/{args.action}", args.timeout, body=body, token=token, refusals=REFUSALS)
    paused = answer.get("paused")
    if not isinstance(paused, list):
        raise UserError(f"the bot at {base} answered POST /{args.action} without the list of paused symbols: "
                        "is it an mmbot with the console?")
    paused = [str(s) for s in paused]
    for line in describe(args.action, args.symbol, paused, answer.get("note")):
        print(line)
    return 0 if took(args.action, args.symbol, paused) else 1


def find_token(token_file: str | None, environ: Mapping[str, str], settings: Settings) -> str:
    """The ops token: ``token_file``, else the environment, else ``ops.token`` (a secret file), else the bot's
    generated ``<risk.state_dir>/ops-token``. ``UserError`` naming every place looked when none holds one."""
    if token_file is not None:
        token = _read(Path(token_file), f"--token-file {token_file}")
        if token is None:
            raise UserError(f"--token-file {token_file}: no such file")
        return token
    token = environ.get(TOKEN_ENV, "").strip()
    if token:
        return token
    if settings.ops.token is not None and settings.ops.token.get_secret_value().strip():
        return settings.ops.token.get_secret_value().strip()
    generated = Path(settings.risk.state_dir) / TOKEN_FILE
    token = _read(generated, str(generated))
    if token is None:
        raise UserError(f"no ops token: not in {TOKEN_ENV}, the secret file mmbot_ops__token or {generated} (the "
                        "running bot writes it there; pass the --config of mmbot run, or --token-file)")
    return token


def _read(path: Path, what: str) -> str | None:
    """The token in ``path`` (stripped), None when there is no such file; ``UserError`` when unreadable or empty."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{what}: cannot read the ops token: {getattr(exc, 'strerror', None) or exc}") from None
    if not token:
        raise UserError(f"{what}: the file is empty (no ops token)")
    return token


def took(action: str, symbol: str | None, paused: list[str]) -> bool:
    """Whether the manual pause the bot reports is what was asked: ``symbol`` (or some symbol) under it after a
    pause, ``symbol`` (or every symbol) out of it after a resume."""
    if action == "pause":
        return symbol in paused if symbol is not None else bool(paused)
    return symbol not in paused if symbol is not None else not paused


def describe(action: str, symbol: str | None, paused: list[str], note: Any) -> list[str]:
    """What the bot answered, without claiming more: the quotes are being withdrawn (or may come back), the
    venue has not necessarily acted yet; an answer that does not show what was asked says so."""
    under = ", ".join(paused) if paused else "none"
    if not took(action, symbol, paused):
        lines = [f"the bot answered {action} {symbol or 'every symbol'} but reports under the manual pause: {under}; "
                 "check with mmbot status"]
    elif action == "pause":
        targets = symbol or under
        lines = [f"paused {targets}: quotes are being withdrawn (the bot keeps managing fills); "
                 "check with mmbot status"]
        if symbol is not None and paused != [symbol]:
            lines.append(f"under the manual pause now: {under}")
    else:
        targets = symbol or "every symbol"
        lines = [f"resumed {targets}: quoting again unless another pause holds (stale or crossed book, venue "
                 "outage, the kill); check with mmbot status",
                 f"under the manual pause now: {under}"]
    if isinstance(note, str) and note.strip():
        lines.append(f"the bot says: {' '.join(note.split())}")
    return lines
