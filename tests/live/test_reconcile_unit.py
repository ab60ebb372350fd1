"""Order reconciliation: tolerances, ages, duplicates and cancel-before-create on the growing side."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.core.reconcile import Cancel, Create, Target, Tolerance, WorkingOrder, reconcile

TOL = Tolerance(tick=0.01, requote_ticks=2, requote_bps=0.0, size_tolerance=0.1, max_order_age=30.0)


def test_creates_both_sides_from_nothing() -> None:
    acts = reconcile({"buy": Target("buy", 99.9, 1.0), "sell": Target("sell", 100.1, 1.0)}, [], 0.0, 0.0, TOL)
    assert acts == [Create("buy", 99.9, 1.0, "new"), Create("sell", 100.1, 1.0, "new")]


def test_keeps_order_within_tolerance() -> None:
    w = [WorkingOrder("a", "buy", 99.90, 1.0, 0.0)]
    assert reconcile({"buy": Target("buy", 99.92, 1.05)}, w, 0.0, 10.0, TOL) == []


def test_requotes_on_price_size_and_age() -> None:
    w = [WorkingOrder("a", "buy", 99.90, 1.0, 0.0)]
    assert reconcile({"buy": Target("buy", 99.93, 1.0)}, w, 0.0, 1.0, TOL)[0] == Cancel("a", "buy", "price")
    assert reconcile({"buy": Target("buy", 99.90, 1.2)}, w, 0.0, 1.0, TOL)[0] == Cancel("a", "buy", "size")
    assert reconcile({"buy": Target("buy", 99.90, 1.0)}, w, 0.0, 30.0, TOL)[0] == Cancel("a", "buy", "age")


def test_bps_tolerance() -> None:
    tol = Tolerance(tick=0.01, requote_ticks=0, requote_bps=5.0)
    w = [WorkingOrder("a", "sell", 100.0, 1.0, 0.0)]
    assert reconcile({"sell": Target("sell", 100.04, 1.0)}, w, 0.0, 1.0, tol) == []  # 4 bps
    assert reconcile({"sell": Target("sell", 100.06, 1.0)}, w, 0.0, 1.0, tol) != []


def test_withdrawn_side_and_duplicates_are_cancelled() -> None:
    w = [
        WorkingOrder("a", "buy", 99.9, 1.0, 0.0),
        WorkingOrder("b", "buy", 99.9, 1.0, 0.0),
        WorkingOrder("c", "sell", 100.1, 1.0, 0.0),
    ]
    acts = reconcile({"buy": Target("buy", 99.9, 1.0), "sell": None}, w, 0.0, 1.0, TOL)
    assert set(acts) == {Cancel("b", "buy", "duplicate"), Cancel("c", "sell", "withdrawn")}


def test_growing_side_cancels_first_reducing_side_creates_first() -> None:
    w = [WorkingOrder("b", "buy", 99.0, 1.0, 0.0), WorkingOrder("s", "sell", 101.0, 1.0, 0.0)]
    targets = {"buy": Target("buy", 99.5, 1.0), "sell": Target("sell", 100.5, 1.0)}
    acts = reconcile(targets, w, 2.0, 1.0, TOL)  # long: buy grows, sell reduces
    assert acts[0] == Cancel("b", "buy", "price")
    assert acts.index(Create("sell", 100.5, 1.0, "price")) < acts.index(Cancel("s", "sell", "price"))
    assert acts.index(Cancel("b", "buy", "price")) < acts.index(Create("buy", 99.5, 1.0, "price"))
    acts = reconcile(targets, w, -2.0, 1.0, TOL)  # short: sell grows
    assert acts[0] == Cancel("s", "sell", "price")
    assert acts.index(Create("buy", 99.5, 1.0, "price")) < acts.index(Cancel("b", "buy", "price"))


orders = st.lists(
    st.tuples(st.sampled_from(["buy", "sell"]), st.integers(9900, 10100), st.integers(1, 30), st.integers(0, 60)),
    max_size=6,
)
target = st.one_of(st.none(), st.tuples(st.integers(9900, 10100), st.integers(0, 30)))


@given(orders, target, target, st.integers(-5, 5))
def test_result_leaves_at_most_one_order_per_side_matching_target(
    raw: list[tuple[str, int, int, int]],
    tb: tuple[int, int] | None,
    ts: tuple[int, int] | None,
    q: int,
) -> None:
    working = [WorkingOrder(str(i), s, p / 100, a / 10, float(t)) for i, (s, p, a, t) in enumerate(raw)]  # type: ignore[arg-type]
    targets = {
        "buy": Target("buy", tb[0] / 100, tb[1] / 10) if tb else None,
        "sell": Target("sell", ts[0] / 100, ts[1] / 10) if ts else None,
    }
    acts = reconcile(targets, working, float(q), 40.0, TOL)
    cancelled = {a.client_id for a in acts if isinstance(a, Cancel)}
    assert cancelled <= {o.client_id for o in working}
    for side in ("buy", "sell"):
        t = targets[side]
        left = [o for o in working if o.side == side and o.client_id not in cancelled]
        created = [a for a in acts if isinstance(a, Create) and a.side == side]
        if t is None or t.amount <= 0:
            assert not left and not created
            continue
        assert len(left) + len(created) == 1
        if created:
            assert (created[0].price, created[0].amount) == (t.price, t.amount)
            grows = (q >= 0) if side == "buy" else (q <= 0)
            side_cancels = [i for i, a in enumerate(acts) if isinstance(a, Cancel) and a.side == side]
            ci = acts.index(created[0])
            if grows:
                assert all(i < ci for i in side_cancels)
        else:
            assert abs(left[0].price - t.price) <= 0.02 + 1e-9


def test_rate_gate_grows_and_resets_only_after_a_quiet_period() -> None:
    from bot.live.ratelimit import RateGate

    gate = RateGate(base=1.0, cap=8.0)
    assert gate.hit(0.0) == 1.0 and gate.blocked(0.5) and not gate.blocked(1.0)
    gate.success(1.1)  # right after the pause: the delay is kept
    assert gate.hit(1.2) == 2.0
    assert gate.hit(3.3) == 4.0 and gate.hit(7.4) == 8.0 and gate.hit(15.5) == 8.0  # capped
    gate.success(23.6 + 16.1)  # quiet for more than twice the delay: reset
    assert gate.hit(40.0) == 1.0


def test_retry_hint_reads_the_venue() -> None:
    from bot.live.ratelimit import retry_hint

    assert retry_hint("anything", {"Retry-After": "7"}) == 7.0
    assert retry_hint("IP banned until 1000000012000. Please use the websocket", None, now=1_000_000_000.0) == 12.0
    per10 = retry_hint("Too many new orders; current limit is 12 orders per TEN_SECONDS.", None, now=1003.0)
    assert per10 == 7.5  # to the end of the fixed 10 s window, plus a margin
    per_min = retry_hint("current limit is 6000 request weight per 1 MINUTE.", None, now=1230.0)
    assert per_min == 30.5
    assert retry_hint("Too many requests (injected fault).", None) is None
    # a WebSocket API error names the time itself, ahead of the window in its message
    ws = ('binance {"code":-1003,"msg":"Too much request weight used; current limit is 6000 request weight per '
          '1 MINUTE.","data":{"serverTime":1000000000000,"retryAfter":1000000042000}}')
    assert retry_hint(ws, None, now=1_000_000_000.0) == 42.0


def test_rate_gate_honours_the_venue_hint() -> None:
    from bot.live.ratelimit import RateGate

    gate = RateGate(base=1.0, cap=8.0)
    assert gate.hit(0.0, at_least=6.5) == 6.5 and gate.blocked(6.0) and not gate.blocked(6.5)
