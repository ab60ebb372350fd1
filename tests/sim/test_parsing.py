"""Property tests: arbitrary request parameters and WebSocket messages never escape as crashes."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.sim.auth import check_time, sign, split_signature
from bot.sim.engine import SimExchange
from bot.sim.events import SimError
from bot.sim.filters import parse_new_order
from bot.sim.settings import SimSettings
from bot.sim.ws_api import UserHub
from bot.sim.ws_market import MarketHub

EX = SimExchange(SimSettings(), 0)
SYM = EX.symbols["BTCUSDT"]
KEYS = ["side", "type", "timeInForce", "quantity", "price", "quoteOrderQty", "newClientOrderId", "newOrderRespType"]
VALUES = st.one_of(
    st.sampled_from(["BUY", "SELL", "LIMIT", "MARKET", "LIMIT_MAKER", "GTC", "IOC", "FOK", "0.001", "30000",
                     "30000.005", "1e5", "-1", "", "ACK", "FULL", "abc"]),
    st.text(max_size=12),
)


@given(st.dictionaries(st.sampled_from(KEYS), VALUES))
def test_new_order_params_either_parse_or_raise_a_binance_error(params: dict[str, str]) -> None:
    try:
        req = parse_new_order(SYM, params)
    except SimError as exc:
        assert exc.code < 0 and exc.msg
        return
    assert req.side in ("BUY", "SELL") and req.type in ("LIMIT", "MARKET", "LIMIT_MAKER")
    assert req.lots > 0 or req.quote_qty > 0
    if req.type != "MARKET":
        assert req.price > 0 and req.price * SYM.tick_atoms * req.lots * SYM.step_atoms >= 5 * 10**16


def test_a_valid_limit_order_parses_exactly() -> None:
    req = parse_new_order(SYM, {"side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.00123",
                                "price": "29999.99"})
    assert (req.lots, req.price, req.tif) == (123, 2999999, "GTC")


class _FakeConn:
    def __init__(self) -> None:
        self.streams: set[str] = set()
        self.subscriptions: dict[int, str] = {}


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200)
@given(st.one_of(st.text(max_size=40), JSONISH.map(json.dumps),
                 st.fixed_dictionaries({"method": st.sampled_from(["SUBSCRIBE", "UNSUBSCRIBE", "userDataStream."
                                                                   "subscribe.signature", "ping"]),
                                        "params": JSONISH, "id": JSONISH}).map(json.dumps)))
def test_websocket_handlers_always_reply_with_json(text: str) -> None:
    market, user = MarketHub(EX.symbols), UserHub()
    conn: Any = _FakeConn()
    reply = json.loads(market.handle_text(conn, text))
    assert "error" in reply or "result" in reply
    reply = json.loads(user.handle_text(conn, text, EX.ledger.by_key, lambda: 10**12, 60000))
    assert reply["status"] in (200, 400, 401)


def test_split_signature_and_time_window() -> None:
    assert split_signature("a=1&signature=ff&b=2") == ("a=1&b=2", "ff")
    assert split_signature("") == ("", None)
    assert len(sign("s", "a=1")) == 64
    check_time({"timestamp": "1000", "recvWindow": "5000"}, 3000, 60000)
    for params, now in [({"timestamp": "1000"}, 10000), ({"timestamp": "5000"}, 1000), ({}, 1000),
                        ({"timestamp": "x"}, 1000), ({"timestamp": "1000", "recvWindow": "70000"}, 1000)]:
        try:
            check_time(params, now, 60000)
        except SimError as exc:
            assert exc.code in (-1021, -1102, -1100, -1131)
        else:
            raise AssertionError(params)

