"""Venue adapters: the one place that reads a venue's payloads and speaks its request parameters.

The generic live path (order manager, fill intake, recovery, service) hands every trade and order a venue
returns to the adapter picked once at connect time (:func:`adapter_for`) and works on the neutral records of
:mod:`bot.venue.records` only. The seam is :class:`VenueAdapter`; one implementation per venue family:

- :class:`CcxtAdapter`: any ccxt venue, from ccxt's unified fields alone (amounts as ccxt parsed them);
- :class:`BinanceSpotAdapter` (the simulator, Binance's spot testnet): ccxt's unified fields, but the exact
  decimal strings Binance sends where ccxt rounds to a float (a REST trade's ``qty``, a stream trade's ``l``,
  an order's ``executedQty`` / ``z``) and the client id from Binance's raw fields when ccxt has none (a
  stream trade's ``c``, a cancel's ``origClientOrderId``);
- :class:`PaperAdapter`: the paper venue builds the records itself; the adapter takes them off its dicts.

Each also says the account's maker fee where the venue can (:meth:`VenueAdapter.maker_fee`: Binance's
commission endpoint, the paper fill model's fee; None for a generic ccxt venue).

- :class:`BinanceUsdmAdapter` (Binance USDⓈ-M futures, ccxt ``binanceusdm``: the hedge leg): as Binance spot
  (``ORDER_TRADE_UPDATE``'s ``o`` carries the stream trade's ``l``, the cumulative ``z`` and the client id ``c``;
  a REST ``userTrades`` row its ``qty``), plus what a contract order adds (:meth:`BinanceUsdmAdapter.order_params`:
  reduce-only, position side, GTX or IOC) and the maker fee from ``/fapi/v1/commissionRate``.

:func:`adapter_for` picks one by the exchange id.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from bot.venue import paging
from bot.venue.paging import FetchPage
from bot.venue.records import OrderStatus, OrderUpdate, Source, TradeUpdate

#: ccxt's unified order statuses that mean the order will never execute again
DONE_STATUSES = frozenset({"closed", "canceled", "cancelled", "expired", "rejected"})


class VenueAdapter(Protocol):
    """Turns one venue's payloads into neutral records and names orders in its requests."""

    name: str

    def trade(self, raw: Any, source: Source) -> TradeUpdate | None:
        """The trade in ``raw`` (None when it is not a trade: no id, no side)."""

    def order(self, raw: Any) -> OrderUpdate:
        """The order in ``raw`` (a create's or cancel's answer, a lookup, an open order, a stream update)."""

    def create_params(self, client_id: str, post_only: bool) -> dict[str, Any]:
        """The parameters of a limit create carrying our client id (maker-only when ``post_only``)."""

    def by_client_id(self, client_id: str) -> dict[str, Any]:
        """The parameters that name an order by its client id (a lookup or a cancel without an order id)."""

    async def trades_since(self, fetch: FetchPage, since_ms: int, now_ms: int) -> list[Any]:
        """Every trade of ours at or after ``since_ms`` (venue ms), read through ``fetch`` (one
        ``fetch_my_trades`` page: ``fetch(since, params)``), as the venue pages them."""

    async def trades_of_order(self, fetch: FetchPage, order_id: str) -> list[Any]:
        """Every trade of one order, read through ``fetch``."""

    async def maker_fee(self, exchange: Any, symbol: str, market: dict[str, Any]) -> float | None:
        """This account's maker fee rate for ``symbol`` (0.001 = 10 bp, negative = a rebate) as the venue
        states it, or None when the venue has no way to say (the caller falls back to ccxt's market table).
        A venue error propagates (ccxt's exceptions); an answer without a readable rate is a ValueError."""


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


class CcxtAdapter:
    """Any ccxt venue, read through ccxt's unified fields only."""

    name = "ccxt"

    def trade(self, raw: Any, source: Source) -> TradeUpdate | None:
        trade_id = raw.get("id")
        side = raw.get("side")
        if trade_id is None or side not in ("buy", "sell"):
            return None
        amount = self.exact_amount(raw, source)
        if amount is None:
            return None
        fee = raw.get("fee") or {}
        ts = raw.get("timestamp")
        return TradeUpdate(
            trade_id=str(trade_id),
            order_id=_text(raw.get("order")),
            client_id=self.client_id(raw),
            symbol=raw.get("symbol"),
            side=side,
            price=float(raw["price"]),
            amount=amount,
            fee=float(fee.get("cost") or 0.0),
            fee_currency=fee.get("currency"),
            timestamp_ms=None if ts is None else int(ts),
            source=source,
        )

    def order(self, raw: Any) -> OrderUpdate:
        venue_status = raw.get("status")
        if venue_status in DONE_STATUSES:
            status: OrderStatus | None = OrderStatus.DONE
        elif venue_status == "open":
            status = OrderStatus.OPEN
        else:
            status = None
        side = raw.get("side")
        return OrderUpdate(
            order_id=_text(raw.get("id")),
            client_id=self.client_id(raw),
            side=side if side in ("buy", "sell") else None,
            price=_float(raw.get("price")),
            amount=_float(raw.get("amount")),
            filled=self.exact_filled(raw),
            remaining=_float(raw.get("remaining")),
            status=status,
            venue_status=venue_status,
        )

    def exact_amount(self, raw: Any, source: Source) -> Decimal | None:
        return _decimal(raw.get("amount"))

    def exact_filled(self, raw: Any) -> Decimal | None:
        return _decimal(raw.get("filled"))

    def client_id(self, raw: Any) -> str | None:
        return _text(raw.get("clientOrderId"))

    def create_params(self, client_id: str, post_only: bool) -> dict[str, Any]:
        params: dict[str, Any] = {"clientOrderId": client_id}
        if post_only:
            params["postOnly"] = True
        return params

    def by_client_id(self, client_id: str) -> dict[str, Any]:
        return {"clientOrderId": client_id}

    async def trades_since(self, fetch: FetchPage, since_ms: int, now_ms: int) -> list[Any]:
        # ccxt has no unified paging: Binance's way (extra parameters other venues ignore), as the bot always
        # paged; a venue that pages otherwise brings its own adapter
        return await paging.trades_since(fetch, since_ms, now_ms)

    async def trades_of_order(self, fetch: FetchPage, order_id: str) -> list[Any]:
        return await paging.trades_of_order(fetch, order_id)

    async def maker_fee(self, exchange: Any, symbol: str, market: dict[str, Any]) -> float | None:
        """None: ccxt has no unified per-account commission read; the market table's ``maker`` is used
        instead, and it may be the exchange's default tier rather than this account's."""
        return None


def _info(raw: Any) -> dict[str, Any]:
    info = raw.get("info")
    return info if isinstance(info, dict) else {}


class BinanceSpotAdapter(CcxtAdapter):
    """Binance spot through ccxt (the simulator speaks it): the venue's exact decimals and raw client ids."""

    name = "binance-spot"

    def exact_amount(self, raw: Any, source: Source) -> Decimal | None:
        info = _info(raw)
        exact = _decimal(info.get("qty") if source == "rest" else info.get("l"))  # REST myTrades / stream
        return exact if exact is not None else super().exact_amount(raw, source)

    def exact_filled(self, raw: Any) -> Decimal | None:
        info = _info(raw)
        exact = _decimal(info.get("executedQty") if "executedQty" in info else info.get("z"))  # REST / stream
        return exact if exact is not None else super().exact_filled(raw)

    def client_id(self, raw: Any) -> str | None:
        cid = super().client_id(raw)
        if cid:
            return cid
        info = _info(raw)
        # a cancel's answer names the cancelled order by origClientOrderId (its clientOrderId is the cancel's);
        # a stream update's c is the cancel's own id when C (the original) is set
        for key in ("C", "c", "clientOrderId", "origClientOrderId"):
            value = _text(info.get(key))
            if value:
                return value
        return None

    def by_client_id(self, client_id: str) -> dict[str, Any]:
        return {"origClientOrderId": client_id}

    async def maker_fee(self, exchange: Any, symbol: str, market: dict[str, Any]) -> float | None:
        """``GET /api/v3/account/commission`` (signed, weight 20): the standard plus the tax maker rate.

        The BNB ``discount`` is not applied: it only holds when the commission is paid in BNB (the
        account's BNB fee option on and a BNB balance to pay from), which the bot neither checks nor
        controls; the floor stays on the rate charged when it is not.
        """
        body = await exchange.private_get_account_commission({"symbol": market["id"]})
        try:
            standard = Decimal(str(body["standardCommission"]["maker"]))
            tax = Decimal(str((body.get("taxCommission") or {}).get("maker") or 0))
        except (KeyError, TypeError, AttributeError, InvalidOperation) as exc:
            raise ValueError(f"unreadable commission answer: {body!r:.200}") from exc
        if not (standard + tax).is_finite():
            raise ValueError(f"unreadable commission answer: {body!r:.200}")
        return float(standard + tax)


class PaperAdapter:
    """The paper venue's dicts carry the neutral record it built under ``info`` (no venue fields to read)."""

    name = "paper"

    def trade(self, raw: Any, source: Source) -> TradeUpdate | None:
        record = raw.get("info")
        if not isinstance(record, TradeUpdate):
            return None
        return record if record.source == source else replace(record, source=source)

    def order(self, raw: Any) -> OrderUpdate:
        record = raw.get("info")
        if not isinstance(record, OrderUpdate):
            raise TypeError(f"not a paper venue order: {raw!r:.200}")
        return record

    def create_params(self, client_id: str, post_only: bool) -> dict[str, Any]:
        return {"clientOrderId": client_id, "postOnly": True} if post_only else {"clientOrderId": client_id}

    def by_client_id(self, client_id: str) -> dict[str, Any]:
        return {"clientOrderId": client_id}

    async def trades_since(self, fetch: FetchPage, since_ms: int, now_ms: int) -> list[Any]:
        return await paging.trades_since(fetch, since_ms, now_ms)  # it answers Binance's paging

    async def trades_of_order(self, fetch: FetchPage, order_id: str) -> list[Any]:
        return await paging.trades_of_order(fetch, order_id)

    async def maker_fee(self, exchange: Any, symbol: str, market: dict[str, Any]) -> float | None:
        """The rate the paper fill model charges (``[paper] maker_fee``): what is floored is what is charged."""
        return float(exchange.settings.maker_fee)


class BinanceUsdmAdapter(BinanceSpotAdapter):
    """Binance USDⓈ-M futures through ccxt ``binanceusdm`` (the simulator's ``/fapi`` speaks it): the spot
    adapter's exact decimals and raw client ids (the futures stream's order object has the same ``l``, ``z``,
    ``c``), and a contract order's parameters."""

    name = "binance-usdm"

    def create_params(self, client_id: str, post_only: bool) -> dict[str, Any]:
        return self.order_params(client_id, post_only=post_only)

    def order_params(self, client_id: str, post_only: bool = False, ioc: bool = False, reduce_only: bool = False,
                     position_side: str | None = None) -> dict[str, Any]:
        """A limit create's parameters: our client id, ``GTX`` (post-only: refused, never taking) or ``IOC``
        (what is not filled at once expires), ``reduceOnly`` (one-way mode only: Binance refuses it in hedge
        mode, where ``position_side`` ``LONG``/``SHORT`` names the position instead)."""
        if post_only and ioc:
            raise ValueError("an order is either post-only or IOC")
        params: dict[str, Any] = {"clientOrderId": client_id}
        if post_only:
            params["timeInForce"] = "GTX"
        elif ioc:
            params["timeInForce"] = "IOC"
        if reduce_only:
            params["reduceOnly"] = True
        if position_side is not None:
            params["positionSide"] = position_side
        return params

    @staticmethod
    def request_costs(exchange: Any) -> tuple[float, float]:
        """ccxt's rate-limit cost of one order (``POST /fapi/v1/order``: 4) and of the costliest read the hedge leg
        makes (``GET /fapi/v1/income``: 30, above a 1000-level depth snapshot's 20), from ccxt's API table."""
        private = exchange.api["fapiPrivate"]
        return float(private["post"]["order"]["cost"]), float(private["get"]["income"]["cost"])

    async def maker_fee(self, exchange: Any, symbol: str, market: dict[str, Any]) -> float | None:
        """``GET /fapi/v1/commissionRate`` (signed, weight 20): this account's ``makerCommissionRate``."""
        body = await exchange.fapiprivate_get_commissionrate({"symbol": market["id"]})
        try:
            rate = Decimal(str(body["makerCommissionRate"]))
        except (KeyError, TypeError, InvalidOperation) as exc:
            raise ValueError(f"unreadable commission answer: {body!r:.200}") from exc
        if not rate.is_finite():
            raise ValueError(f"unreadable commission answer: {body!r:.200}")
        return float(rate)


BINANCE_SPOT = BinanceSpotAdapter()
BINANCE_USDM = BinanceUsdmAdapter()


def adapter_for(exchange: Any) -> VenueAdapter:
    """The adapter of ``exchange``, picked once at connect time: the one a venue brings
    (``records_adapter`` on its class: the paper venue), Binance spot for Binance's ids and for an exchange
    without an id (the simulator's protocol: test doubles), Binance USDⓈ-M futures for ``binanceusdm``, else
    ccxt's unified fields."""
    own = getattr(type(exchange), "records_adapter", None)
    if own is not None:
        return own  # type: ignore[no-any-return]
    exchange_id = getattr(exchange, "id", None) if exchange is not None else None
    if not isinstance(exchange_id, str) or exchange_id in ("binance", "binanceus"):
        return BINANCE_SPOT
    if exchange_id == "binanceusdm":
        return BINANCE_USDM
    return CcxtAdapter()
