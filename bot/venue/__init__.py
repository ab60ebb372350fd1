"""Venues: how the bot reaches an exchange (the local simulator, a testnet, or a paper feed)."""

from bot.venue.connect import create_exchange

__all__ = ["create_exchange"]
