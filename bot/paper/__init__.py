"""Paper trading: orders that live only in the bot, filled by a model of the public tape and book."""

from bot.paper.fills import Fill, PaperBook, PaperOrder

__all__ = ["Fill", "PaperBook", "PaperOrder"]
