"""Structured logging: JSON lines off a terminal, UTC timestamps, bound context, secret redaction."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from enum import StrEnum

import structlog

from bot.logs import configure_logging, get_logger


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_with_utc_timestamp_and_context() -> None:
    out = io.StringIO()
    configure_logging(fmt="auto", stream=out)  # StringIO is not a terminal -> JSON
    structlog.contextvars.bind_contextvars(symbol="BTC/USDT")
    try:
        get_logger().info("quote", bid=99.5, ask=99.6)
    finally:
        structlog.contextvars.clear_contextvars()
    (event,) = lines(out)
    assert event["event"] == "quote"
    assert event["symbol"] == "BTC/USDT"
    assert event["bid"] == 99.5
    assert event["level"] == "info"
    stamp = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
    assert stamp.utcoffset() is not None and stamp.utcoffset().total_seconds() == 0


def test_level_filter() -> None:
    out = io.StringIO()
    configure_logging(level="warning", fmt="json", stream=out)
    get_logger().info("hidden")
    get_logger().warning("shown")
    assert [e["event"] for e in lines(out)] == ["shown"]


def test_console_format_is_not_json() -> None:
    out = io.StringIO()
    configure_logging(fmt="console", stream=out)
    get_logger().info("inventory", q=1.5)
    text = out.getvalue()
    assert "inventory" in text and "q" in text
    assert not text.lstrip().startswith("{")


def test_secrets_are_redacted_everywhere() -> None:
    out = io.StringIO()
    configure_logging(fmt="json", secrets=["s3cr3t-value", "key-123"], stream=out)
    log = get_logger(api_key="key-123")
    log.error(
        "order_rejected",
        reason="venue said: bad signature for key-123 with s3cr3t-value",
        request={"headers": {"X-MBX-APIKEY": "key-123"}, "signature": "abcdef", "params": ["s3cr3t-value"]},
        api_secret="anything",
    )
    raw = out.getvalue()
    assert "s3cr3t-value" not in raw
    assert "key-123" not in raw
    assert "abcdef" not in raw
    (event,) = lines(out)
    assert event["api_key"] == "***"
    assert event["api_secret"] == "***"
    assert event["reason"] == "venue said: bad signature for *** with ***"
    assert event["request"]["signature"] == "***"


def test_exceptions_are_redacted() -> None:
    out = io.StringIO()
    configure_logging(fmt="json", secrets=["topsecret"], stream=out)
    try:
        raise RuntimeError("auth failed for topsecret")
    except RuntimeError:
        get_logger().exception("venue_error")
    assert "topsecret" not in out.getvalue()


def test_timestamps_are_utc_iso_with_microseconds_and_sort_like_times() -> None:
    out = io.StringIO()
    configure_logging(fmt="json", stream=out)
    for i in range(50):
        get_logger().info("tick", i=i)
    stamps = [e["timestamp"] for e in lines(out)]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", s) for s in stamps)
    assert stamps == sorted(stamps)
    parsed = [datetime.fromisoformat(s.replace("Z", "+00:00")) for s in stamps]
    assert parsed == sorted(parsed)
    assert abs((parsed[0] - datetime.now(UTC)).total_seconds()) < 86400  # today's UTC date, not local time


class Venue(StrEnum):
    KEYED = "key-123-in-an-enum"


def test_secrets_are_redacted_in_every_shape_of_value() -> None:
    out = io.StringIO()
    configure_logging(fmt="json", secrets=["key-123", "s3cr3t-value"], stream=out)
    structlog.contextvars.bind_contextvars(session="bound key-123")
    try:
        get_logger(component="venue").warning(
            "event with key-123",
            API_KEY=12345,  # secret-named key in any case, whatever the value type
            Signature=None,
            nested=({"deep": ["x s3cr3t-value y", ("key-123",)], "Password": 1.5},),
            error=RuntimeError("auth failed for s3cr3t-value"),  # not a string: rendered, then redacted
            member=Venue.KEYED,
            plain=1.25,
            flag=True,
        )
    finally:
        structlog.contextvars.clear_contextvars()
    raw = out.getvalue()
    assert "key-123" not in raw and "s3cr3t-value" not in raw
    (event,) = lines(out)
    assert event["event"] == "event with ***" and event["session"] == "bound ***"
    assert event["API_KEY"] == "***" and event["Signature"] == "***"
    assert event["nested"] == [{"deep": ["x *** y", ["***"]], "Password": "***"}]
    assert event["error"] == "auth failed for ***" and event["member"] == "***-in-an-enum"
    assert (event["plain"], event["flag"], event["level"], event["component"]) == (1.25, True, "warning", "venue")


def test_console_output_is_redacted_too() -> None:
    out = io.StringIO()
    configure_logging(fmt="console", secrets=["key-123"], stream=out)
    get_logger().info("login", detail={"note": "uses key-123"}, apikey="key-123")
    assert "key-123" not in out.getvalue() and "***" in out.getvalue()
