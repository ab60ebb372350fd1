"""The service with the hedge leg against the in-process simulated exchange (spot + perpetual): one-sided spot
flow stays hedged at every fill, faults on the hedge leg only trip the unhedged kill within its T and leave no
order open on either venue (read at the venue)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.live.service import Service
from tests.live.conftest import bot_overrides, run_bot, started, until, venue_view
from tests.live.hedge_helpers import futures_view, hedged_sim, post_perp_faults


def _hedged(sim: Any, state_dir: Path, **hedge: Any) -> dict[str, Any]:
    return bot_overrides(sim, risk={"max_position": 0.05, "state_dir": str(state_dir)},
                         hedge={"enabled": True, "band": 0.004, "cooldown": 0.2, "max_position": 0.1,
                                "max_unhedged": 0.03, **hedge})


async def test_one_sided_spot_flow_stays_within_the_band_plus_one_hedge_in_flight(tmp_path: Path) -> None:
    """Takers only sell: the bot's bids fill and spot q grows; at every spot fill (before the leg reacts)
    |spot q + hedge position + in-flight hedges| is within the band plus that fill."""
    sim = await started(hedged_sim(seed=51, sell_fraction=1.0))
    seen: list[tuple[Decimal, Decimal]] = []

    async def watch(service: Service) -> None:
        assert await until(lambda: bool(service.runs) and service.runs[0].hedge is not None, 20)
        leg = service.runs[0].hedge
        assert leg is not None
        wake = leg.on_spot_fill
        last = [leg.spot_q()]

        def on_spot_fill() -> None:  # the state the leg wakes to, at each spot fill
            q = leg.spot_q()
            seen.append((q + leg.book.position + leg.in_flight(), q - last[0]))
            last[0] = q
            wake()

        leg.on_spot_fill = on_spot_fill  # type: ignore[method-assign]

    try:
        run = await run_bot(_hedged(sim, tmp_path / "var"), 8.0, during=watch)
        leg = run.service.runs[0].hedge
        assert leg is not None and run.summary.kill_reason is None
        assert len(seen) >= 5 and run.events("hedge_order")
        band, lot = Decimal("0.004"), Decimal("0.001")
        worst = [(net, fill) for net, fill in seen if abs(net) > band + abs(fill) + lot]
        assert not worst, worst[:5]
        q = run.service.runs[0].inventory.q_exact
        assert q > Decimal("0.01")  # one-sided: the spot position grew ...
        assert abs(q + leg.book.position) <= band + lot  # ... and was hedged
        orders, venue = await futures_view(sim)
        assert orders == [] and venue == leg.book.position == leg.end_venue_position
        assert Decimal(run.events("hedge_stopped")[0]["venue_position"]) == venue
    finally:
        await sim.stop()


@pytest.mark.parametrize("faults", [
    {"reject_fraction": 1.0},
    {"http_5xx_fraction": 1.0},
    {"slow_ack_ms": 20000, "user_stream_silent": True},
], ids=["rejects", "5xx", "slow_acks_silent_stream"])
async def test_hedge_leg_faults_trip_the_unhedged_kill_within_t_and_leave_no_order_open(
    tmp_path: Path, faults: dict[str, Any]
) -> None:
    """Faults on /fapi and /fstream only: the spot keeps filling one way, the hedge cannot follow; the unhedged
    trigger kills within unhedged_seconds of |net| passing max_unhedged; then no order of ours is open on
    either venue (each read at the venue by an independent client)."""
    sim = await started(hedged_sim(seed=52, sell_fraction=1.0))

    async def inject(service: Service) -> None:  # once quoting began (a faulty venue at start is a UserError)
        assert await until(lambda: service.quoting, 30)
        await post_perp_faults(sim, **faults)

    try:
        # the failure trigger (a pause of the spot) would stop the flow first: this is the unhedged trigger's test
        overrides = _hedged(sim, tmp_path / "var", max_unhedged=0.006, unhedged_seconds=2.0, band=0.002,
                            max_failures=100000)
        overrides["risk"]["dead_man_seconds"] = 0  # the bot's own cancels, not the venue's countdown
        run = await run_bot(overrides, 40.0, during=inject)
        await post_perp_faults(sim, http_5xx_fraction=0.0, reject_fraction=0.0, slow_ack_ms=0,
                               user_stream_silent=False)
        reason = run.summary.kill_reason or ""
        assert reason.startswith("hedge: BTC/USDT unhedged: net exposure"), reason
        breach = next(e for e in run.events("hedge_breach") if e["kind"] == "unhedged" and e["active"])
        held = float(breach["detail"].rsplit(" for ", 1)[1].rstrip("s"))
        assert 2.0 <= held <= 2.0 + 0.5  # within T (+ the risk loop's 0.25 s period)
        spot_orders, _ = await venue_view(sim)
        assert [o for o in spot_orders if str(o.get("clientOrderId") or "").startswith("mmbot-")] == []
        futures_orders, _ = await futures_view(sim)
        assert futures_orders == []
    finally:
        await sim.stop()


async def test_the_kill_with_flatten_on_kill_flattens_both_venues(tmp_path: Path) -> None:
    sim = await started(hedged_sim(seed=53, sell_fraction=1.0))
    kill_file = tmp_path / "KILL"

    async def kill_when_hedged(service: Service) -> None:
        assert await until(lambda: bool(service.runs) and service.runs[0].hedge is not None, 20)
        leg = service.runs[0].hedge
        assert leg is not None
        assert await until(lambda: leg.book.position <= Decimal("-0.008"), 20)
        kill_file.write_text("stop", encoding="utf-8")

    try:
        overrides = _hedged(sim, tmp_path / "var")
        overrides["risk"].update(flatten_on_kill=True, kill_file=str(kill_file))
        run = await run_bot(overrides, 40.0, during=kill_when_hedged)
        assert (run.summary.kill_reason or "").startswith("manual: kill file")
        flat = [e for e in run.events("flatten") if e.get("instrument") == "BTC/USDT:USDT"]
        assert flat and flat[0]["side"] == "buy"
        orders, venue = await futures_view(sim)
        assert orders == [] and venue == 0 == run.service.runs[0].hedge.book.position  # type: ignore[union-attr]
        spot_orders, _ = await venue_view(sim)
        assert [o for o in spot_orders if str(o.get("clientOrderId") or "").startswith("mmbot-")] == []
        assert any(e.get("symbol") == "BTC/USDT" and "instrument" not in e for e in run.events("flatten"))
    finally:
        await sim.stop()
