"""mmbot: an inventory-aware market-making bot."""

__version__ = "0.1.0"
