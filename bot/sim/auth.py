"""HMAC-SHA256 request signing as Binance checks it.

REST: the signature is over the raw ``query string + body`` with the ``signature`` parameter cut out
(no re-encoding); the key comes in the ``X-MBX-APIKEY`` header. WebSocket API: the signature is over
the params (except ``signature``) sorted by key and joined as ``k=v&k=v``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from bot.sim.accounts import Account
from bot.sim.events import SimError

BAD_KEY = SimError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
BAD_KEY_FORMAT = SimError(-2014, "API-key format invalid.", 401)
BAD_SIGNATURE = SimError(-1022, "Signature for this request is not valid.")


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def split_signature(raw: str) -> tuple[str, str | None]:
    """Cut ``signature=...`` out of a raw urlencoded string: (rest, signature)."""
    if not raw:
        return "", None
    parts = raw.split("&")
    sig = None
    rest = []
    for part in parts:
        if part.startswith("signature="):
            sig = part[len("signature="):]
        else:
            rest.append(part)
    return "&".join(rest), sig


def check_time(params: Mapping[str, Any], now_ms: int, recv_window_max: int) -> None:
    """Binance's timestamp/recvWindow rules (-1102, -1131, -1021)."""
    ts_raw = params.get("timestamp")
    if ts_raw is None or str(ts_raw) == "":
        raise SimError(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
    try:
        ts = int(str(ts_raw))
    except ValueError:
        raise SimError(-1100, "Illegal characters found in parameter 'timestamp'; legal range is '^[0-9]{1,20}$'.")\
            from None
    window_raw = params.get("recvWindow", 5000)
    try:
        window = int(str(window_raw))
    except ValueError:
        raise SimError(-1100, "Illegal characters found in parameter 'recvWindow'.") from None
    if window > recv_window_max or window <= 0:
        raise SimError(-1131, f"recvWindow must be less than {recv_window_max}")
    if ts > now_ms + 1000:
        raise SimError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if now_ms - ts > window:
        raise SimError(-1021, "Timestamp for this request is outside of the recvWindow.")


def check_rest(
    by_key: Mapping[str, Account],
    api_key: str | None,
    query_raw: str,
    body_raw: str,
    params: Mapping[str, str],
    now_ms: int,
    recv_window_max: int,
) -> Account:
    """The account of a signed REST request, or a SimError."""
    if not api_key:
        raise BAD_KEY_FORMAT
    account = by_key.get(api_key)
    if account is None:
        raise BAD_KEY
    query, qsig = split_signature(query_raw)
    body, bsig = split_signature(body_raw)
    signature = qsig or bsig
    if not signature:
        raise SimError(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
    payload = query + body  # Binance: totalParams = query string concatenated with the body
    if not hmac.compare_digest(sign(account.api_secret, payload), signature.lower()):
        raise BAD_SIGNATURE
    check_time(params, now_ms, recv_window_max)
    return account


def check_ws(by_key: Mapping[str, Account], params: Mapping[str, Any], now_ms: int, recv_window_max: int) -> Account:
    """The account of a signed WebSocket-API request, or a SimError."""
    api_key = params.get("apiKey")
    if not isinstance(api_key, str) or not api_key:
        raise BAD_KEY_FORMAT
    account = by_key.get(api_key)
    if account is None:
        raise BAD_KEY
    signature = params.get("signature")
    if not isinstance(signature, str) or not signature:
        raise SimError(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
    payload = "&".join(f"{k}={ws_value(v)}" for k, v in sorted(params.items()) if k != "signature")
    if not hmac.compare_digest(sign(account.api_secret, payload), signature.lower()):
        raise BAD_SIGNATURE
    check_time(params, now_ms, recv_window_max)
    return account


def ws_value(value: Any) -> str:
    """A JSON parameter value as it appears in the signed payload (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
