"""The ops server's guard as pure functions: Host parsing, loopback origins, the bearer check, the
decision for each kind of request and the refusal log's rate limit."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.ops.http import (
    Facts,
    Refusal,
    RefusalLog,
    allowed_host_names,
    bearer_matches,
    host_name,
    is_loopback,
    origin_is_loopback,
    refusal,
)

TOKEN = "tok-9f8e7d6c5b4a"
ALLOWED = allowed_host_names("127.0.0.1", ["bot"])
labels = st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)
ports = st.integers(min_value=1, max_value=65535)


def post(**changes: Any) -> Facts:
    base = dict(method="POST", host="127.0.0.1:9108", origin=None, content_type="application/json",
                authorization=None, remote="127.0.0.1")
    return Facts(**{**base, **changes})


@given(st.sampled_from(["localhost", "127.0.0.1", "[::1]", "bot", "BOT", "LocalHost"]), st.none() | ports)
def test_allowed_names_with_any_port_are_served(name: str, port: int | None) -> None:
    host = name if port is None else f"{name}:{port}"
    assert refusal(Facts("GET", host, None, None, None, "10.0.0.9"), ALLOWED, None) is None


@given(st.lists(labels, min_size=1, max_size=4), st.none() | ports)
def test_any_other_name_is_refused(parts: list[str], port: int | None) -> None:
    name = ".".join([*parts, "example"])
    host = name if port is None else f"{name}:{port}"
    got = refusal(Facts("GET", host, None, None, None, "127.0.0.1"), ALLOWED, None)
    assert got is not None and got.status == 421


def test_host_name_parsing() -> None:
    assert host_name("[::1]:9108") == "::1" and host_name("Bot:80") == "bot" and host_name("localhost") == "localhost"
    for bad in ("", ":9108", "::1", "bot:x", "bot:80:81", "[::1", "[::1]x", "[]:80"):
        assert host_name(bad) is None, bad
    assert refusal(Facts("GET", None, None, None, None, "127.0.0.1"), ALLOWED, None) is not None


@given(st.sampled_from(["http", "https"]), st.sampled_from(["127.0.0.1", "localhost", "[::1]"]), st.none() | ports)
def test_loopback_origins(scheme: str, host: str, port: int | None) -> None:
    assert origin_is_loopback(f"{scheme}://{host}" + (f":{port}" if port else ""))


@given(st.lists(labels, min_size=1, max_size=3), st.none() | ports)
def test_other_origins_are_foreign(parts: list[str], port: int | None) -> None:
    for name in (".".join([*parts, "example"]), f"localhost.{parts[0]}.example", f"127.0.0.1.{parts[0]}.io"):
        assert not origin_is_loopback(f"http://{name}" + (f":{port}" if port else ""))


def test_odd_origins_are_foreign() -> None:
    for origin in ("null", "", "file://", "ftp://127.0.0.1", "http://127.0.0.1:99999", "http://u@localhost",
                   "http://127.0.0.2", "chrome-extension://abc"):
        assert not origin_is_loopback(origin), origin


@given(st.text(max_size=40))
def test_only_the_exact_token_matches(guess: str) -> None:
    assert bearer_matches(f"Bearer {guess}", TOKEN) == (guess.strip() == TOKEN)
    assert bearer_matches(f"Bearer {TOKEN}", TOKEN) and bearer_matches(f"bearer  {TOKEN} ", TOKEN)
    assert not bearer_matches(TOKEN, TOKEN) and not bearer_matches(None, TOKEN)


def test_the_decision_for_each_kind_of_request() -> None:
    def reason(facts: Facts, token: str | None = None) -> str | None:
        got = refusal(facts, ALLOWED, token)
        return got.reason if got is not None else None

    assert reason(post()) is None
    assert reason(post(origin="http://localhost:3000")) is None
    assert reason(post(origin="http://evil.example", content_type="text/plain")) == "origin"
    assert reason(post(origin="http://evil.example")) == "origin"
    assert reason(post(content_type="text/plain")) == "content_type"
    assert reason(post(content_type="application/json; charset=utf-8")) is None
    assert reason(post(content_type=None)) == "content_type"
    assert reason(post(remote="172.18.0.1")) == "remote"
    assert reason(post(remote="::ffff:127.0.0.1")) is None
    assert reason(post(method="OPTIONS")) == "preflight"
    assert reason(post(method="DELETE", content_type="text/plain")) == "content_type"
    assert reason(post(host="evil.example")) == "host"
    assert reason(post(), TOKEN) == "token"
    assert reason(post(authorization=f"Bearer {TOKEN}"), TOKEN) is None
    assert reason(post(authorization=f"Bearer {TOKEN}", remote="172.18.0.1"), TOKEN) is None
    assert reason(post(authorization=f"Bearer {TOKEN}", origin="http://evil.example"), TOKEN) == "origin"
    assert reason(Facts("HEAD", "localhost", "http://evil.example", None, None, "10.1.1.1")) is None


def test_loopback_addresses() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "::ffff:127.0.0.1"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "", "10.0.0.1", "localhost.example", None))


class Log:
    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.lines.append({"event": event, **fields})


def test_refusals_are_logged_at_most_once_a_minute_per_reason() -> None:
    log, now = Log(), [0.0]
    report = RefusalLog(log, every=60.0, clock=lambda: now[0])
    origin, token = Refusal(403, "origin", "x"), Refusal(401, "token", "y")
    facts = post(origin="http://evil.example", authorization=f"Bearer {TOKEN}")
    for _ in range(5):
        report(origin, facts, "/kill")
    report(token, facts, "/kill")
    now[0] = 61.0
    report(origin, facts, "/kill")
    assert [(e["reason"], e["suppressed"]) for e in log.lines] == [("origin", 0), ("token", 0), ("origin", 4)]
    assert all(e["event"] == "ops_refused" for e in log.lines) and TOKEN not in repr(log.lines)
    assert log.lines[0]["origin"] == "http://evil.example" and log.lines[0]["path"] == "/kill"
