"""OrderLedger memory: only the latest done orders stay indexed; orders whose fills may still come stay."""

from __future__ import annotations

import pytest

from bot.live.orders import LiveOrder, OrderLedger


def _order(n: int, order_id: bool = True) -> LiveOrder:
    return LiveOrder(f"mmbot-x-{n}", "buy", 100.0, 1.0, 1.0, float(n), order_id=str(n) if order_id else None,
                     acked=order_id)


def _fill_and_close(tracker: OrderLedger, order: LiveOrder) -> None:
    order.remaining = 0.0  # what FillIntake._reduce does on the last fill
    tracker.close(order.client_id)


def test_only_the_latest_done_orders_stay_findable() -> None:
    tracker = OrderLedger(keep_closed=3)
    orders = [_order(n) for n in range(10)]
    for order in orders:
        tracker.add(order)
        _fill_and_close(tracker, order)
    assert len(tracker.by_client_id) == 3 and len(tracker.by_order_id) == 3
    assert [tracker.find(o.order_id, None) for o in orders[-3:]] == orders[-3:]
    assert tracker.find("0", "mmbot-x-0") is None
    assert not tracker.open and not tracker.settling


def test_orders_whose_fills_may_still_come_are_never_forgotten() -> None:
    tracker = OrderLedger(keep_closed=2)
    resting = _order(100)
    unacked = _order(101, order_id=False)  # create answered with a network error: fate unknown
    cancel_pending = _order(102)  # the quoter is cancelling it (still open until the answer)
    gone = _order(103)  # cancel answered 'unknown order': its fills may be on their way
    unsettled = _order(104)  # cancelled after 0.4 executed, 0.1 of it not booked yet
    previous_run = _order(105)
    for order in (resting, unacked, cancel_pending, gone, unsettled):
        tracker.add(order)
    tracker.remember(previous_run)
    tracker.close(gone.client_id)
    unsettled.remaining = 0.7
    tracker.close(unsettled.client_id, filled=0.4)
    assert set(tracker.settling) == {gone.client_id, unsettled.client_id}
    for n in range(50):  # many later orders come and go
        order = _order(n)
        tracker.add(order)
        _fill_and_close(tracker, order)
    for order in (resting, unacked, cancel_pending, gone, unsettled, previous_run):
        assert tracker.find(order.order_id, order.client_id) is order
    assert tracker.exposure("buy") == pytest.approx(3.0 + 1.0 + 0.1)  # three open, 'gone' whole, 0.1 of 'unsettled'
    # once their last fills are booked they are done, and age out like any other
    unsettled.remaining = 0.6
    gone.remaining = 0.0
    tracker.close(gone.client_id)
    assert tracker.exposure("buy") == pytest.approx(3.0) and not tracker.settling
    for n in range(50, 55):
        order = _order(n)
        tracker.add(order)
        _fill_and_close(tracker, order)
    assert tracker.find(None, gone.client_id) is None and tracker.find(None, unsettled.client_id) is None
    assert tracker.find(None, previous_run.client_id) is previous_run
    assert len(tracker.by_client_id) == 3 + 1 + 2  # open, remembered, the two latest done


def test_committed_both_is_unacked_open_plus_settling_per_side() -> None:
    tracker = OrderLedger()
    assert tracker.committed_both() == (0.0, 0.0)
    orders = [
        LiveOrder("b-acked", "buy", 99.0, 1.0, 0.7, 0.0, order_id="1", acked=True),  # replaced by a quote
        LiveOrder("b-unacked", "buy", 99.0, 0.3, 0.3, 0.0),
        LiveOrder("s-unacked", "sell", 101.0, 0.2, 0.15, 0.0),
        LiveOrder("s-gone", "sell", 101.0, 0.5, 0.5, 0.0, order_id="2", acked=True),
        LiveOrder("b-done", "buy", 98.0, 0.4, 0.4, 0.0, order_id="3", acked=True),
        LiveOrder("b-partial", "buy", 98.0, 0.4, 0.1, 0.0, order_id="4", acked=True),
    ]
    for order in orders:
        tracker.add(order)
    tracker.close("s-gone")  # final size unknown: all 0.5 may still be booked
    tracker.close("b-done", filled=0.0)  # nothing executed: dropped
    tracker.close("b-partial", filled=0.35)  # 0.3 booked, 0.05 on its way
    expected = tuple(tracker.open_size(side, acked=False) + tracker.settling_size(side) for side in ("buy", "sell"))
    assert tracker.committed_both() == expected
    assert expected == (pytest.approx(0.35), pytest.approx(0.65))
