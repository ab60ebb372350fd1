"""What the live service holds for one symbol (its own module, so the guard and the ops side can name it
without importing the service)."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bot.core.fees import MakerFee
from bot.ops.console import FillTape

if TYPE_CHECKING:
    from bot.config import RiskSettings, SymbolSettings
    from bot.core.inventory import Inventory
    from bot.core.quote import MarketRules, Side
    from bot.live.fills import FillIntake
    from bot.live.gate import RiskGate
    from bot.live.hedge import HedgeLeg
    from bot.live.market import MarketState
    from bot.live.orders import OrderManager
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
    maker_fee: MakerFee = field(default_factory=lambda: MakerFee(0.0, "unknown"))  # resolved at start-up
    fills: FillIntake | None = None
    quoter: Quoter | None = None
    start_base: Decimal | None = None
    end_base: Decimal | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    tape: FillTape = field(default_factory=FillTape)  # the latest fills, for the console's markers
    hedge: HedgeLeg | None = None  # the leg in the perpetual, when [hedge] is enabled

    @property
    def symbol(self) -> str:
        return self.cfg.symbol


class RunView:
    """A read-only view of one :class:`SymbolRun` for the risk guard (:class:`bot.live.guard.Watched`): it
    reads the run's parts at each call, so it always shows the run's current state."""

    __slots__ = ("_run",)

    def __init__(self, run: SymbolRun) -> None:
        self._run = run

    @property
    def symbol(self) -> str:
        return self._run.symbol

    @property
    def base(self) -> str:
        return str(self._run.market["base"])

    @property
    def limits(self) -> RiskSettings:
        return self._run.cfg.risk

    @property
    def rules(self) -> MarketRules:
        return self._run.rules

    @property
    def q(self) -> float:
        return self._run.inventory.q

    @property
    def q_exact(self) -> Decimal:
        return self._run.inventory.q_exact

    @property
    def mid(self) -> float | None:
        return self._run.state.mid

    @property
    def baseline(self) -> Decimal | None:
        return self._run.start_base

    @property
    def pauses(self) -> Collection[str]:
        return self._run.gate.pauses.keys()

    @property
    def open_orders(self) -> int:
        return len(self._run.orders.tracker.open)

    def exposure(self, side: Side) -> float:
        return self._run.orders.tracker.exposure(side)

    def silence(self, now: float) -> float:
        return self._run.state.silence(now)

    def pnl(self, mark: float) -> float:
        return self._run.inventory.total_pnl(mark)
