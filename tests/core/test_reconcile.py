"""reconcile's fast paths (the usual one-order-per-side case, the shared empty answer) equal the plain rules.

``_plain_reconcile`` is the straightforward implementation of the module docstring's rules (per side:
withdraw, create, keep the first order within tolerance, or cancel all and create; growing side's
cancels first); the real one must return exactly the same actions, in the same order.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.core.reconcile import (
    Action,
    Cancel,
    Create,
    Side,
    Target,
    Tolerance,
    WorkingOrder,
    reconcile,
    reconcile_side,
    stale_reason,
)


def _plain_stale(order: WorkingOrder, target: Target, now: float, tol: Tolerance) -> str | None:
    band = max(tol.requote_ticks * tol.tick, tol.requote_bps * 1e-4 * abs(target.price))
    if abs(order.price - target.price) > band * (1 + 1e-9) + 1e-12:
        return "price"
    if abs(order.amount - target.amount) > tol.size_tolerance * target.amount * (1 + 1e-9) + 1e-15:
        return "size"
    if now - order.created_at >= tol.max_order_age:
        return "age"
    return None


def _plain_side(
    side: Side, target: Target | None, working: list[WorkingOrder], q: float, now: float, tol: Tolerance
) -> list[Action]:
    mine = [o for o in working if o.side == side]
    grows = q >= 0 if side == "buy" else q <= 0
    if target is None or target.amount <= 0:
        return [Cancel(o.client_id, side, "withdrawn") for o in mine]
    if not mine:
        return [Create(side, target.price, target.amount, "new")]
    reasons = [_plain_stale(o, target, now, tol) for o in mine]
    if None in reasons:
        keep = reasons.index(None)
        return [Cancel(o.client_id, side, "duplicate") for i, o in enumerate(mine) if i != keep]
    cancels: list[Action] = [Cancel(o.client_id, side, r or "") for o, r in zip(mine, reasons, strict=True)]
    create = Create(side, target.price, target.amount, reasons[0] or "new")
    return [*cancels, create] if grows else [create, *cancels]


def _plain_reconcile(
    targets: dict[Side, Target | None], working: list[WorkingOrder], q: float, now: float, tol: Tolerance
) -> list[Action]:
    first: list[Action] = []
    rest: list[Action] = []
    for side, grows in (("buy", q >= 0), ("sell", q <= 0)):
        for action in _plain_side(side, targets.get(side), working, q, now, tol):  # type: ignore[arg-type]
            (first if grows and isinstance(action, Cancel) else rest).append(action)
    return first + rest


PRICES = st.integers(9990, 10010).map(lambda n: round(n * 0.01, 2))
orders = st.lists(
    st.tuples(st.sampled_from(["buy", "sell"]), PRICES, st.sampled_from([0.5, 0.9, 1.0, 1.1, 2.0]),
              st.sampled_from([0.0, 10.0, 29.0, 30.0])),
    max_size=5,
)
targets = st.one_of(st.none(), st.tuples(PRICES, st.sampled_from([0.0, 1.0, 1.1])))
tolerances = st.builds(
    Tolerance,
    tick=st.just(0.01),
    requote_ticks=st.integers(0, 3),
    requote_bps=st.sampled_from([0.0, 1.0, 2.0, 5.0]),
    size_tolerance=st.sampled_from([0.0, 0.1, 0.2]),
    max_order_age=st.sampled_from([5.0, 30.0]),
)


@given(orders, targets, targets, st.sampled_from([-1.0, 0.0, 1.0]), st.sampled_from([10.0, 30.0, 40.0]), tolerances)
def test_reconcile_equals_the_plain_rules(
    raw: list[tuple[str, float, float, float]],
    tb: tuple[float, float] | None,
    ts: tuple[float, float] | None,
    q: float,
    now: float,
    tol: Tolerance,
) -> None:
    working = [WorkingOrder(f"o{i}", s, p, a, t) for i, (s, p, a, t) in enumerate(raw)]  # type: ignore[arg-type]
    goal: dict[Side, Target | None] = {
        "buy": Target("buy", *tb) if tb else None,
        "sell": Target("sell", *ts) if ts else None,
    }
    want = _plain_reconcile(goal, working, q, now, tol)
    assert reconcile(goal, working, q, now, tol) == want
    assert reconcile(goal, iter(working), q, now, tol) == want  # any iterable of working orders
    for side in ("buy", "sell"):
        assert reconcile_side(side, goal[side], working, q, now, tol) == _plain_side(  # type: ignore[arg-type]
            side, goal[side], working, q, now, tol  # type: ignore[arg-type]
        )
    for o in working:
        for t in goal.values():
            if t is not None:
                assert stale_reason(o, t, now, tol) == _plain_stale(o, t, now, tol)


def test_the_band_edge_is_kept_despite_float_noise() -> None:
    tol = Tolerance(tick=0.01, requote_ticks=2)
    order = WorkingOrder("a", "buy", 29999.97, 1.0, 0.0)
    assert stale_reason(order, Target("buy", 29999.95, 1.0), 1.0, tol) is None  # 0.0200000000004 apart
    assert stale_reason(order, Target("buy", 29999.99, 1.0), 1.0, tol) is None
    assert stale_reason(order, Target("buy", 29999.94, 1.0), 1.0, tol) == "price"
    assert stale_reason(order, Target("buy", 30000.00, 1.0), 1.0, tol) == "price"


def test_actions_are_frozen_dataclasses_with_their_usual_behaviour() -> None:
    import dataclasses

    import pytest

    create, cancel = Create("buy", 99.9, 1.0, "new"), Cancel("a", "sell", "price")
    assert create == Create(side="buy", price=99.9, amount=1.0, reason="new")
    assert create != Create("buy", 99.9, 1.0, "x")
    assert hash(cancel) == hash(Cancel("a", "sell", "price")) and len({cancel, Cancel("a", "sell", "price")}) == 1
    assert repr(create) == "Create(side='buy', price=99.9, amount=1.0, reason='new')"
    assert dataclasses.astuple(cancel) == ("a", "sell", "price")
    assert dataclasses.replace(create, price=100.0) == Create("buy", 100.0, 1.0, "new")
    with pytest.raises(dataclasses.FrozenInstanceError):
        create.price = 1.0  # type: ignore[misc]


def test_target_and_working_order_are_frozen_dataclasses_with_their_usual_behaviour() -> None:
    import dataclasses

    import pytest

    target, order = Target("buy", 99.9, 1.0), WorkingOrder("a", "sell", 100.1, 0.5, 3.0)
    assert target == Target(side="buy", price=99.9, amount=1.0) and target != Target("buy", 99.9, 2.0)
    assert order == WorkingOrder(client_id="a", side="sell", price=100.1, amount=0.5, created_at=3.0)
    assert hash(order) == hash(WorkingOrder("a", "sell", 100.1, 0.5, 3.0))
    assert repr(target) == "Target(side='buy', price=99.9, amount=1.0)"
    assert dataclasses.astuple(order) == ("a", "sell", 100.1, 0.5, 3.0)
    assert dataclasses.replace(target, amount=2.0) == Target("buy", 99.9, 2.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        target.price = 1.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        order.amount = 1.0  # type: ignore[misc]
