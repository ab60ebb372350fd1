"""The hedge leg's order manager: the generic one (:class:`bot.live.orders.OrderManager`: order ceiling, journal
row before the wire, the venue's answer read by one table, the order ledger as the one owner of order state),
sending a contract order (:class:`bot.core.hedge.HedgeOrder`: GTX or IOC, reduce-only, position side) through
the USDⓈ-M adapter's :meth:`~bot.venue.adapters.BinanceUsdmAdapter.order_params`.

A post-only order the venue refuses because it would take (Binance ``-5022``) is ``would_cross``: closed,
no error counted (the leg takes on its next decision).
"""

from __future__ import annotations

import ccxt

from bot.core.hedge import HedgeOrder
from bot.live.orders import LiveOrder, OrderManager
from bot.venue.adapters import BinanceUsdmAdapter
from bot.venue.answers import venue_code

#: Binance USDⓈ-M: a GTX (post-only) order that would take was refused
GTX_REFUSED = -5022


class HedgeOrders(OrderManager):
    """One hedge instrument's orders (see the module docstring). ``would_cross`` is set when the last
    post-only order was refused for taking."""

    would_cross = False

    async def send(self, order: HedgeOrder, reason: str) -> LiveOrder | None:
        """Send ``order``; returns the order (also while its fate is unknown), else None (refused, or not sent:
        already logged). The worst-case check is the leg's own (the hedge position limit), done before."""
        venue = self.venue
        assert isinstance(venue, BinanceUsdmAdapter)
        amount, side = float(order.amount), order.side
        async with self.throttler:
            live = self._admit(side, order.price, amount, None, None, None, reduces=True)
            if live is None:
                return None
            params = venue.order_params(live.client_id, post_only=order.post_only, ioc=not order.post_only,
                                        reduce_only=order.reduce_only, position_side=order.position_side)
            try:
                result = await self.entry.create(self.symbol, side, amount, order.price, params)
            except ccxt.BaseError as exc:
                if order.post_only and venue_code(exc) == GTX_REFUSED:
                    self.tracker.close(live.client_id, filled=0.0)
                    self.would_cross = True
                    self.log.info("order_rejected", client_id=live.client_id, side=side,
                                  price=self.shown.price(order.price), amount=self.shown.size(amount),
                                  reason="would_cross", error=type(exc).__name__, detail=str(exc)[:200])
                    return None
                return self._create_failed(live, exc)
        self.would_cross = False
        return self._created(live, result, reason)
