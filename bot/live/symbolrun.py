"""What the live service holds for one symbol (its own module, so the guard and the ops side can name it
without importing the service)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.config import SymbolSettings
    from bot.core.inventory import Inventory
    from bot.core.quote import MarketRules
    from bot.live.fills import FillBook
    from bot.live.gate import RiskGate
    from bot.live.market import MarketState
    from bot.live.orders import LiveOrder, OrderManager
    from bot.live.quoter import Quoter


@dataclass
class SymbolRun:
    """Everything the service holds for one symbol."""

    cfg: SymbolSettings
    market: dict[str, Any]
    rules: MarketRules
    state: MarketState
    wake: asyncio.Event
    orders: OrderManager
    inventory: Inventory
    gate: RiskGate
    log: Any
    fills: FillBook | None = None
    quoter: Quoter | None = None
    start_base: Decimal | None = None
    end_base: Decimal | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    # orders of unknown fate the restart catch-up could not settle yet: (order, unknown since, monotonic)
    unresolved: list[tuple[LiveOrder, float]] = field(default_factory=list)

    @property
    def symbol(self) -> str:
        return self.cfg.symbol
