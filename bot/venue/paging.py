"""How Binance's ``myTrades`` is paged (the simulator and the paper venue answer the same way): every
trade since a time, every trade of one order. Used by the adapters of :mod:`bot.venue.adapters` that speak
it; ``fetch(since, params)`` is one ``fetch_my_trades`` call of at most :data:`PAGE` rows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

PAGE = 1000  # Binance myTrades: at most 1000 rows per request
DAY_MS = 86_400_000  # Binance myTrades: a startTime..endTime window spans at most 24 h

FetchPage = Callable[[int | None, dict[str, Any]], Awaitable[list[dict[str, Any]]]]


async def trades_since(fetch: FetchPage, since_ms: int, now_ms: int, page: int = PAGE) -> list[dict[str, Any]]:
    """Every trade at or after ``since_ms``, paged the way Binance's ``myTrades`` allows.

    ``fetch(since, params)`` returns one page (at most ``page`` rows, oldest first). Windows
    ``[start, start + 24 h)`` (``startTime`` + ``endTime``) are walked while they lie wholly in the past
    and come back short; the last one is open-ended (``startTime`` only). Once a page comes back full,
    ``fromId`` = last id + 1 pages on to the newest trade (``fromId`` has no time bound).
    """
    out: list[dict[str, Any]] = []
    start = since_ms
    while True:
        end = start + DAY_MS - 1
        rows = await fetch(start, {"endTime": end} if end < now_ms else {})
        out += rows
        if len(rows) >= page or end >= now_ms:
            break
        start = end + 1
    return out + await _following(fetch, rows, {}, page)


async def trades_of_order(fetch: FetchPage, order_id: str, page: int = PAGE) -> list[dict[str, Any]]:
    """Every trade of one order: ``orderId`` + ``fromId`` pages, oldest first."""
    rows = await fetch(None, {"orderId": order_id, "fromId": 0})
    return rows + await _following(fetch, rows, {"orderId": order_id}, page)


async def _following(fetch: FetchPage, rows: list[dict[str, Any]], params: dict[str, Any],
                     page: int) -> list[dict[str, Any]]:
    """The pages after ``rows`` (``fromId`` = last id + 1) while the previous one came back full and
    brought newer ids (a venue without integer ids or ``fromId``, like the paper venue, stops it)."""
    out: list[dict[str, Any]] = []
    last = _last_id(rows)
    while len(rows) >= page and last is not None:
        rows = await fetch(None, {**params, "fromId": last + 1})
        out += rows
        newest = _last_id(rows)
        last = newest if newest is not None and newest > last else None
    return out


def _last_id(rows: list[dict[str, Any]]) -> int | None:
    try:
        return max(int(r["id"]) for r in rows)
    except (KeyError, TypeError, ValueError):  # none, or not integers
        return None
