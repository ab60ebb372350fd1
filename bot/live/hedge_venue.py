"""What the hedge leg reads of a Binance USDⓈ-M futures account, raw (ccxt's implicit endpoints, no unified
parsing): the position, the position mode, the mark and funding, the margin balance and the funding income.

Raw calls because the unified ones drop what the leg needs: ``fetch_positions`` drops flat rows and takes the
side from ``notional``, and sends ``leverageBracket`` first; the income and premium reads are one request each.
A venue error propagates (ccxt's exceptions); an answer without a readable number is a ValueError.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any


def _decimal(value: Any, what: str) -> Decimal:
    try:
        out = Decimal(str(value))
    except (InvalidOperation, TypeError) as exc:
        raise ValueError(f"unreadable {what}: {value!r:.100}") from exc
    if not out.is_finite():
        raise ValueError(f"unreadable {what}: {value!r:.100}")
    return out


@dataclass(frozen=True, slots=True)
class Premium:
    """``/fapi/v1/premiumIndex`` of one symbol: mark and index price, the current funding rate and the next
    funding time (venue ms)."""

    mark: float
    index: float | None
    funding_rate: float | None
    next_funding_ms: int | None


@dataclass(frozen=True, slots=True)
class Funding:
    """One funding payment of the income history (``amount`` > 0: received)."""

    income_id: str
    amount: float
    time_ms: int


async def position(exchange: Any, market_id: str) -> Decimal:
    """The account's position in ``market_id`` (signed base units; hedge mode: LONG plus the negative SHORT),
    ``GET /fapi/v3/positionRisk``."""
    rows = await exchange.fapiprivatev3_get_positionrisk({"symbol": market_id})
    total = Decimal(0)
    for row in rows if isinstance(rows, list) else []:
        if row.get("symbol") == market_id:
            amount = _decimal(row.get("positionAmt", "0"), "positionAmt")
            total += -abs(amount) if row.get("positionSide") == "SHORT" else amount
    return total


async def dual_side(exchange: Any) -> bool:
    """True in hedge mode (``dualSidePosition``), ``GET /fapi/v1/positionSide/dual``."""
    body = await exchange.fapiprivate_get_positionside_dual()
    value = body.get("dualSidePosition") if isinstance(body, dict) else None
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "false"):
        return str(value).lower() == "true"
    raise ValueError(f"unreadable position mode answer: {body!r:.200}")


async def premium(exchange: Any, market_id: str) -> Premium:
    """``GET /fapi/v1/premiumIndex?symbol=``."""
    body = await exchange.fapipublic_get_premiumindex({"symbol": market_id})
    if not isinstance(body, dict):
        raise ValueError(f"unreadable premiumIndex answer: {body!r:.200}")
    mark = float(_decimal(body.get("markPrice"), "markPrice"))
    index = body.get("indexPrice")
    rate = body.get("lastFundingRate")
    nxt = body.get("nextFundingTime")
    return Premium(mark, None if index in (None, "") else float(_decimal(index, "indexPrice")),
                   None if rate in (None, "") else float(_decimal(rate, "lastFundingRate")),
                   None if nxt in (None, "", 0, "0") else int(nxt))


async def margin_balance(exchange: Any) -> float:
    """The account's total margin balance (wallet + unrealized P&L, quote), ``GET /fapi/v3/account``."""
    body = await exchange.fapiprivatev3_get_account()
    if not isinstance(body, dict):
        raise ValueError(f"unreadable account answer: {body!r:.200}")
    return float(_decimal(body.get("totalMarginBalance"), "totalMarginBalance"))


async def funding_since(exchange: Any, market_id: str, since_ms: int) -> list[Funding]:
    """The funding payments of ``market_id`` at or after ``since_ms`` (oldest first, one page of 1000),
    ``GET /fapi/v1/income?incomeType=FUNDING_FEE``."""
    rows = await exchange.fapiprivate_get_income({"symbol": market_id, "incomeType": "FUNDING_FEE",
                                                  "startTime": since_ms, "limit": 1000})
    out = []
    for row in rows if isinstance(rows, list) else []:
        if row.get("incomeType", "FUNDING_FEE") != "FUNDING_FEE" or row.get("symbol", market_id) != market_id:
            continue
        time_ms = int(row.get("time") or 0)
        tran = row.get("tranId")
        income_id = str(tran) if tran not in (None, "") else f"{market_id}-{time_ms}"
        out.append(Funding(income_id, float(_decimal(row.get("income"), "income")), time_ms))
    return sorted(out, key=lambda f: f.time_ms)
