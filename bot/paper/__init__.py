"""Paper trading: orders that live only in the bot, filled by a model of the public tape and book."""

from bot.paper.fills import PaperBook, PaperMatch, PaperOrder

__all__ = ["PaperBook", "PaperMatch", "PaperOrder"]
