"""What a venue's answer to a request means for the bot: one table for every order entry and every call.

ccxt raises its own exception classes, but which class a venue code becomes depends on the transport:
Binance's ``-1008`` (server busy, not executed) is ``OperationFailed`` over REST and a plain
``ExchangeError`` over the WebSocket API, where ccxt's code table is not consulted the same way. The bot
therefore reads the venue's own error code from the exception first (:data:`BINANCE_CODES`), and only
falls back to the ccxt class when there is none (:func:`classify`).

The meanings (:class:`Answer`):

- ``REJECTED``: the venue refused the request (bad price, size, filter, permissions): nothing happened;
  counts towards the error rate (kill switch).
- ``WOULD_CROSS``: a post-only order would have taken liquidity: refused, nothing happened; not an error.
- ``NO_FUNDS``: not enough balance: refused, nothing happened; counts towards the error rate.
- ``NOT_FOUND``: the order the request names is not open (filled or cancelled meanwhile).
- ``RATE_LIMITED``: 429/418/-1003/-1015: not executed; the shared rate gate backs off.
- ``OUTAGE``: the venue is busy or unavailable and says the request was not executed (``-1008``, 503
  without an execution-unknown code): counts towards a venue outage (a pause), never the error rate.
- ``UNKNOWN``: the request may or may not have been executed (timeouts, dropped connections,
  ``-1000``/``-1001``/``-1006``/``-1007``, a bare 5xx): a create becomes an order of unknown fate, looked up
  by client id; counts towards a venue outage.
- ``CLOCK``: our timestamp is outside the venue's ``recvWindow`` (``-1021``): not executed; the clock
  offset to the venue is measured again; counts towards a venue outage, never the error rate.
"""

from __future__ import annotations

import re
from enum import Enum

import ccxt


class Answer(Enum):
    REJECTED = "rejected"
    WOULD_CROSS = "would_cross"
    NO_FUNDS = "insufficient_funds"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    OUTAGE = "outage"
    UNKNOWN = "unknown"
    CLOCK = "clock_skew"


# Answers that say nothing about our request's merits: the venue (or the way to it) is in trouble.
VENUE_TROUBLE = frozenset({Answer.OUTAGE, Answer.UNKNOWN, Answer.CLOCK})

# Binance's error codes (spot REST and WebSocket API share them), by what they mean for the request.
BINANCE_CODES: dict[int, Answer] = {
    -1000: Answer.UNKNOWN,  # UNKNOWN: an unknown error occurred while processing the request
    -1001: Answer.UNKNOWN,  # DISCONNECTED: internal error; unable to process your request
    -1003: Answer.RATE_LIMITED,  # TOO_MANY_REQUESTS (request weight)
    -1006: Answer.UNKNOWN,  # UNEXPECTED_RESP: execution status unknown
    -1007: Answer.UNKNOWN,  # TIMEOUT: send status unknown; execution status unknown
    -1008: Answer.OUTAGE,  # SERVER_BUSY: overloaded, try again later (not executed)
    -1015: Answer.RATE_LIMITED,  # TOO_MANY_ORDERS
    -1021: Answer.CLOCK,  # INVALID_TIMESTAMP: outside of the recvWindow
    -2010: Answer.REJECTED,  # NEW_ORDER_REJECTED (a post-only cross is told apart by its message)
    -2011: Answer.NOT_FOUND,  # CANCEL_REJECTED: unknown order sent
    -2013: Answer.NOT_FOUND,  # NO_SUCH_ORDER
}

_CODE = re.compile(r'"code"\s*:\s*(-?\d+)')
_CROSS = re.compile(r"immediately match and take", re.IGNORECASE)


def venue_code(exc: BaseException) -> int | None:
    """The venue's numeric error code carried in a ccxt exception's message (``{"code":-1008,...}``)."""
    found = _CODE.search(str(exc))
    return int(found.group(1)) if found else None


def classify(exc: BaseException) -> Answer:
    """What ``exc`` (raised by a ccxt call) means; the venue's code wins over ccxt's class.

    ``ccxt.OrderImmediatelyFillable`` and a ``-2010`` whose message says the order would take liquidity
    are ``WOULD_CROSS``; another ``-2010`` is told apart by ccxt's class (``InsufficientFunds``: ``NO_FUNDS``);
    a rate-limit class always stays ``RATE_LIMITED`` (the gate must hear of it).
    """
    if isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
        return Answer.RATE_LIMITED
    if isinstance(exc, ccxt.OrderImmediatelyFillable):
        return Answer.WOULD_CROSS
    code = venue_code(exc)
    known = BINANCE_CODES.get(code) if code is not None else None
    if known is Answer.REJECTED:  # ccxt's class (from the message) tells which refusal
        return Answer.WOULD_CROSS if _CROSS.search(str(exc)) else _by_class(exc)
    if known is not None:
        return known
    return _by_class(exc)


def _by_class(exc: BaseException) -> Answer:
    if isinstance(exc, ccxt.InvalidNonce):
        return Answer.CLOCK
    if isinstance(exc, ccxt.OrderNotFound):
        return Answer.NOT_FOUND
    if isinstance(exc, ccxt.InsufficientFunds):
        return Answer.NO_FUNDS
    if isinstance(exc, ccxt.OperationFailed):  # network errors, timeouts, 5xx: the request's fate is open
        return Answer.UNKNOWN
    return Answer.REJECTED
