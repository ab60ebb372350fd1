"""The hedge leg alone against the simulated perpetual (unmodified ccxt binanceusdm over loopback): bursts
coalesce, in-flight orders count, the position report's lag never causes a second hedge, a mismatch pauses
without trading, the restart books what the venue did, risk breaches reach the service."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from bot.errors import UserError
from tests.live.conftest import started, until
from tests.live.hedge_helpers import PERP, futures_client, futures_view, hedged_sim, leg_run, post_perp_faults


async def test_a_burst_of_ten_spot_fills_in_one_turn_is_one_hedge_order(tmp_path: Path) -> None:
    sim = await started(hedged_sim(seed=41))
    try:
        async with leg_run(sim, tmp_path, band=0.003, cooldown=0.0) as run:
            for _ in range(10):  # one user-stream message with ten trades: booked before the leg runs
                run.spot_fill("0.001")
            assert await until(lambda: run.leg.book.position == Decimal("-0.010"), 5)
            await asyncio.sleep(0.5)
            orders = run.events("hedge_order")
            assert len(orders) == 1 and orders[0]["amount"] == 0.01 and orders[0]["side"] == "sell"
            _, venue = await futures_view(sim)
            assert venue == Decimal("-0.010")
    finally:
        await sim.stop()


async def test_ten_spot_fills_within_50_ms_give_one_order_per_cooldown(tmp_path: Path) -> None:
    sim = await started(hedged_sim(seed=42))
    try:
        async with leg_run(sim, tmp_path, band=0.0005, cooldown=1.0) as run:
            for _ in range(10):
                run.spot_fill("0.001")
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.5)  # within the cooldown: one order, not ten
            assert len(run.events("hedge_order")) == 1
            assert await until(lambda: run.leg.book.position == Decimal("-0.010"), 5)  # the rest after it
            assert len(run.events("hedge_order")) == 2
    finally:
        await sim.stop()


async def test_lagging_position_report_never_hedges_twice(tmp_path: Path) -> None:
    """The venue's position answers lag 3 s; the leg hedges from its own book and in-flight orders, so each
    spot move is hedged once; meanwhile the lagging read may pause hedging, never trade."""
    sim = await started(hedged_sim(seed=43, perp_faults={"position_lag_ms": 3000}))
    try:
        async with leg_run(sim, tmp_path, band=0.001, cooldown=0.0) as run:
            for step in range(4):
                run.spot_fill("0.003")
                assert await until(lambda s=step: run.leg.book.position == Decimal("-0.003") * (s + 1), 5)
                await asyncio.sleep(0.3)
            await asyncio.sleep(1.0)
            assert len(run.events("hedge_order")) == 4
            assert run.leg.book.position == Decimal("-0.012")
            await asyncio.sleep(3.5)  # the venue's word catches up: it agrees, hedging resumes
            _, venue = await futures_view(sim)
            assert venue == Decimal("-0.012") and run.leg.venue_position == venue and run.leg.paused is None
            assert len(run.events("hedge_order")) == 4
    finally:
        await sim.stop()


async def test_position_mismatch_pauses_hedging_and_never_trades_to_correct(tmp_path: Path) -> None:
    sim = await started(hedged_sim(seed=44))
    try:
        async with leg_run(sim, tmp_path, band=0.001, cooldown=0.0) as run:
            run.spot_fill("0.002")
            assert await until(lambda: run.leg.book.position == Decimal("-0.002"), 5)
            # someone else trades the account: the venue's position is no longer the book's
            other = run.exchange
            await other.create_order(PERP, "market", "sell", 0.005, None, {"clientOrderId": "manual-1"})
            assert await until(lambda: run.leg.paused is not None, 8)
            mismatch = run.events("hedge_mismatch")[-1]
            assert mismatch["book"] == "-0.002" and mismatch["venue"] == "-0.007"
            sent = len(run.events("hedge_order"))
            run.spot_fill("0.004")  # beyond the band, but paused: no order
            await asyncio.sleep(1.5)
            assert len(run.events("hedge_order")) == sent and run.leg.book.position == Decimal("-0.002")
            await other.create_order(PERP, "market", "buy", 0.005, None, {"clientOrderId": "manual-2"})
            assert await until(lambda: run.leg.paused is None, 8)  # they agree again: resumed, then hedged
            assert await until(lambda: run.leg.book.position == Decimal("-0.006"), 5)
            assert run.events("hedge_resumed")
    finally:
        await sim.stop()


async def test_restart_after_an_unacknowledged_hedge_books_the_venues_fill_and_sends_no_extra(tmp_path: Path) -> None:
    """Order sent, no answer (the process died): the next start finds the journal's row, looks the order up by
    client id, books its fill once; position == the venue's, no second hedge for the same exposure."""
    sim = await started(hedged_sim(seed=45, perp_faults={"slow_ack_ms": 4000, "user_stream_silent": True}))
    try:
        async with leg_run(sim, tmp_path, band=0.001, cooldown=0.0) as run:
            run.spot_fill("0.004")
            assert await until(lambda: bool(run.events("hedge_order")), 5)
            for _ in range(40):  # on the wire, executed at the venue, not answered yet
                if (await futures_view(sim))[1] == Decimal("-0.004"):
                    break
                await asyncio.sleep(0.05)
            assert run.leg.orders.tracker.open and not run.leg.orders.placed  # no answer, no stream: unbooked
            assert run.leg.book.position == 0
            for task in run.tasks:
                task.cancel()  # the process dies: nothing more of this run happens
        await post_perp_faults(sim, slow_ack_ms=0, user_stream_silent=False)
        async with leg_run(sim, tmp_path, band=0.001, cooldown=0.0) as again:
            again.q[0] = Decimal("0.004")  # the spot inventory, restored by its own journal
            assert again.leg.book.position == Decimal("-0.004")
            _, venue = await futures_view(sim)
            assert venue == again.leg.book.position == again.leg.venue_position and again.leg.paused is None
            again.leg.on_spot_fill()
            await asyncio.sleep(1.0)
            assert not again.events("hedge_order")  # hedged already: no extra
            caught = again.events("journal_caught_up")
            assert caught and caught[0]["new_fills"] >= 1
    finally:
        await sim.stop()


async def test_rejected_hedges_count_as_failures_and_unhedged_breach_reaches_the_service(tmp_path: Path) -> None:
    sim = await started(hedged_sim(seed=46, perp_faults={"reject_fraction": 1.0}))
    try:
        async with leg_run(sim, tmp_path, band=0.001, cooldown=0.1, max_failures=3, max_unhedged=0.002,
                           unhedged_seconds=1.0) as run:
            run.spot_fill("0.005")
            loop = asyncio.get_running_loop()
            began = loop.time()
            assert await until(lambda: any(b.kind == "unhedged" for b, _, on in run.breaches if on), 5)
            assert loop.time() - began < 1.0 + 0.6  # within T (+ the risk loop's period and a margin)
            assert await until(lambda: any(b.kind == "failure" for b, _, on in run.breaches if on), 5)
            kinds = {b.kind: (action, on) for b, action, on in run.breaches}
            assert kinds["unhedged"] == ("kill", True) and kinds["failure"] == ("pause", True)
            assert run.leg.book.position == 0
            orders, _ = await futures_view(sim)
            assert orders == []
    finally:
        await sim.stop()


async def test_funding_is_booked_once_per_payment(tmp_path: Path) -> None:
    """Funding every 3 s: the leg reads the income once each funding time has passed (the endpoint weighs 30:
    not on every pass) and books each payment once, however often it is read again."""
    sim = await started(hedged_sim(seed=47, perp={"interest_rate": Decimal("0.001"), "funding_interval": 3}))
    try:
        async with leg_run(sim, tmp_path, band=0.001, cooldown=0.0) as run:
            run.spot_fill("0.010")
            assert await until(lambda: run.leg.book.position == Decimal("-0.010"), 5)
            assert await until(lambda: len(run.events("funding")) >= 2, 12)
            run.spot_fill("-0.010")  # flat again: no more payments
            assert await until(lambda: run.leg.book.position == 0, 5)
            await asyncio.sleep(0.5)
            await run.leg.funding_once()  # read again: nothing new
            paid = await run.exchange.fapiprivate_get_income({"symbol": "BTCUSDT", "incomeType": "FUNDING_FEE"})
            booked = run.events("funding")
            assert len(booked) == len(paid) >= 2
            assert {e["income_id"] for e in booked} == {str(p["tranId"]) for p in paid}
            assert abs(run.leg.book.funding - sum(float(p["income"]) for p in paid)) < 1e-9
            assert run.leg.book.funding > 0  # short the perp at a positive rate: received
            pnl = run.leg.state().pnl
            assert pnl is not None and pnl.funding == run.leg.book.funding
            assert abs(pnl.hedge + pnl.basis + pnl.funding - pnl.fees - pnl.total) < 1e-9
    finally:
        await sim.stop()


async def test_post_then_take_posts_at_the_touch_then_takes_after_the_timeout(tmp_path: Path) -> None:
    sim = await started(hedged_sim(seed=48))
    try:
        async with leg_run(sim, tmp_path, band=0.001, cooldown=0.0, style="post_then_take", post_timeout=0.5) as run:
            run.spot_fill("0.003")
            assert await until(lambda: run.leg.book.position == Decimal("-0.003"), 5)
            first, second = run.events("hedge_order")[:2]
            assert first["post_only"] is True and first["price"] >= run.leg.perp.best_bid  # at the own touch
            assert second["post_only"] is False and second["side"] == "sell"  # the timeout passed: taken
            assert any(e["reason"] == "post_timeout" for e in run.events("order_canceled"))
            orders, venue = await futures_view(sim)
            assert orders == [] and venue == Decimal("-0.003")
    finally:
        await sim.stop()


async def test_hedge_position_mode_sends_position_sides_and_a_mode_mismatch_is_one_line(tmp_path: Path) -> None:
    sim = await started(hedged_sim(seed=49))
    try:
        with pytest.raises(UserError, match=r"one-way position mode but hedge\.position_mode = 'hedge'"):
            async with leg_run(sim, tmp_path / "a", position_mode="hedge"):
                pass
        ex = futures_client(sim)
        try:
            await ex.set_position_mode(True)
        finally:
            await ex.close()
        async with leg_run(sim, tmp_path / "b", band=0.001, cooldown=0.0, position_mode="hedge") as run:
            run.spot_fill("0.004")
            assert await until(lambda: run.leg.book.position == Decimal("-0.004"), 5)
            run.spot_fill("-0.006")  # now short spot: the short hedge closes first, then a long opens
            assert await until(lambda: run.leg.book.position == Decimal("0.002"), 8)
            sides = [(o["side"], o["position_side"], o["reduce_only"]) for o in run.events("hedge_order")]
            assert sides[0] == ("sell", "SHORT", False) and ("buy", "SHORT", False) in sides
            assert ("buy", "LONG", False) in sides
            _, venue = await futures_view(sim)
            assert venue == Decimal("0.002")
    finally:
        await sim.stop()


async def test_basis_beyond_its_band_breaches_and_the_leg_only_reduces(tmp_path: Path) -> None:
    sim = await started(hedged_sim(seed=50))
    try:
        async with leg_run(sim, tmp_path, band=0.001, cooldown=0.0, basis_band_bps=20.0) as run:
            run.spot_fill("0.004")
            assert await until(lambda: run.leg.book.position == Decimal("-0.004"), 5)
            await post_perp_faults(sim, basis_shock_bps=100.0)
            assert await until(lambda: any(b.kind == "basis" and on for b, _, on in run.breaches), 5)
            assert ("basis", "pause") in {(b.kind, action) for b, action, _ in run.breaches}
            sent = len(run.events("hedge_order"))
            run.spot_fill("0.004")  # would grow the short hedge: not while the basis is out of its band
            await asyncio.sleep(1.0)
            assert len(run.events("hedge_order")) == sent
            assert run.leg.last_skip == "reduce only: would grow the hedge"
            run.spot_fill("-0.006")  # spot 0.002, hedge -0.004: buying 0.002 back shrinks the hedge: allowed
            assert await until(lambda: run.leg.book.position == Decimal("-0.002"), 5)
            reducing = run.events("hedge_order")[-1]
            assert reducing["side"] == "buy" and reducing["reduce_only"] is True
    finally:
        await sim.stop()
