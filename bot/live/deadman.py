"""The exchange-side dead man's switch: ``cancelAllOrdersAfter`` where the venue supports it.

Armed at start with ``timeout`` seconds, refreshed every ``timeout / 3`` seconds, disarmed (timeout 0)
on a clean exit. If the process dies or hangs, the venue cancels the account's open orders once the
timeout runs out without a refresh. Note: the venue cancels *all* open orders of the account (or the
market, depending on the venue), not only the bot's. Venues without it (``exchange.has`` is false, e.g.
Binance spot) get one ``dead_man_unavailable`` log line and nothing else.

:class:`FuturesCountdown` is the same switch on Binance USDⓈ-M futures (the hedge leg): ``POST
/fapi/v1/countdownCancelAll`` for one symbol (ccxt has no unified call for it); the venue cancels that
symbol's open orders when the countdown runs out.
"""

from __future__ import annotations

import asyncio
from typing import Any

import ccxt


class DeadMan:
    def __init__(self, exchange: Any, timeout: float, log: Any) -> None:
        self.exchange, self.timeout, self.log = exchange, timeout, log
        has = getattr(exchange, "has", None) or {}
        self.supported = bool(has.get("cancelAllOrdersAfter"))
        self.armed = False
        self.refreshes = 0

    async def arm(self) -> bool:
        """Arm (or refresh) the switch; False when it is off or unsupported."""
        if self.timeout <= 0:
            return False
        if not self.supported:
            if not self.armed and self.refreshes == 0:
                self.refreshes = -1  # say it once
                self.log.info("dead_man_unavailable", exchange=getattr(self.exchange, "id", "?"),
                              detail="the venue has no cancelAllOrdersAfter; relying on the bot's own cancels")
            return False
        await self._send(int(self.timeout * 1000))
        if not self.armed:
            self.log.info("dead_man_armed", timeout=self.timeout)
        self.armed = True
        self.refreshes += 1
        return True

    async def _send(self, ms: int) -> None:
        """Arm with ``ms`` (0: disarm)."""
        await self.exchange.cancel_all_orders_after(ms)

    async def run(self) -> None:
        """Refresh until cancelled; a failed refresh is retried at the next beat (a third of the timeout)."""
        while True:
            await asyncio.sleep(self.timeout / 3.0)
            try:
                await self.arm()
            except ccxt.BaseError as exc:
                self.log.warning("dead_man_refresh_failed", error=type(exc).__name__, detail=str(exc)[:200])

    async def disarm(self) -> None:
        if not self.armed:
            return
        try:
            await self._send(0)
            self.armed = False
            self.log.info("dead_man_disarmed")
        except ccxt.BaseError as exc:
            self.log.warning("dead_man_disarm_failed", error=type(exc).__name__, detail=str(exc)[:200])


class FuturesCountdown(DeadMan):
    """The dead man's switch of one USDⓈ-M futures symbol (``countdownCancelAll``; see the module docstring)."""

    def __init__(self, exchange: Any, market_id: str, timeout: float, log: Any) -> None:
        super().__init__(exchange, timeout, log)
        self.market_id = market_id
        self.supported = True

    async def _send(self, ms: int) -> None:
        await self.exchange.fapiprivate_post_countdowncancelall({"symbol": self.market_id, "countdownTime": ms})
