"""Settings of the paper venue (``[paper]`` in the TOML config; unknown keys are errors).

- ``balances``: the paper account's starting balances, asset -> amount (free, nothing locked).
- ``maker_fee``: fee rate charged on each paper fill's notional, in the quote currency
  (0.001 = 10 bp; negative for a rebate).
- ``queue_model``: how cancellations at our price level move us up the queue
  (``proportional``: spread evenly over the level; ``conservative``: they come from behind us).
  See :mod:`bot.paper.fills`.
- ``book_levels``: how many levels per side of the public book the fill model looks at.
- ``first_book_timeout``: seconds an order waits for the first public book of its symbol before it is
  rejected (the paper venue cannot judge whether it would cross without one).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


def default_balances() -> dict[str, float]:
    return {"USDT": 100000.0, "BTC": 2.0, "ETH": 30.0}


class PaperSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    balances: dict[str, float] = Field(
        default_factory=default_balances, description="starting balances of the paper account, asset -> amount"
    )
    maker_fee: float = Field(0.001, gt=-0.01, lt=0.01, description="fee rate on each fill's notional, quote")
    queue_model: Literal["proportional", "conservative"] = Field(
        "proportional", description="where cancellations at our level come from"
    )
    book_levels: int = Field(50, ge=1, le=5000, description="book levels per side given to the fill model")
    first_book_timeout: float = Field(10.0, gt=0, description="seconds to wait for a first book before rejecting")

    @field_validator("balances")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        for asset, amount in value.items():
            if not asset or not math.isfinite(amount) or amount < 0:
                raise ValueError(f"balance of {asset!r} must be a finite amount >= 0 (got {amount})")
        return value
