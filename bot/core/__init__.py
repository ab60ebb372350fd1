"""Pure quoting core: quote models, hard limits and market rules (no asyncio, no ccxt, no I/O).

The one entry point used by the live service, the backtester and ``mmbot quote`` is
:func:`bot.core.pipeline.make_quote`.
"""

from bot.core.limits import LimitParams, apply_market_rules, side_sizes
from bot.core.models import ModelParams, centre_and_half_spread, glft_coefficients
from bot.core.pipeline import make_quote
from bot.core.quote import MarketRules, Quote, QuoteInputs

__all__ = [
    "LimitParams",
    "MarketRules",
    "ModelParams",
    "Quote",
    "QuoteInputs",
    "apply_market_rules",
    "centre_and_half_spread",
    "glft_coefficients",
    "make_quote",
    "side_sizes",
]
