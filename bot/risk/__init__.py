"""Risk controls (pure): worst-case exposure checks, kill-switch triggers, pause escalation.

No asyncio, no ccxt, no I/O: the live service feeds these numbers and times and acts on the answers.
"""
