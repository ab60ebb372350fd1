"""The accounting, the metrics and `mmbot status` agree: one Inventory, reported three ways."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.cli import main
from bot.core.inventory import Fill, Inventory
from bot.ops import Metrics, readiness, start_ops_server, status_document, symbol_status

FILLS = [
    Fill("t1", "buy", 100.0, "0.5", fee=0.05, fee_currency="USDT"),
    Fill("t2", "buy", 99.0, "0.25", fee=0.02, fee_currency="USDT"),
    Fill("t3", "sell", 101.0, "0.5", fee=-0.01, fee_currency="USDT"),
]


async def test_inventory_metrics_and_status_agree(capsys: pytest.CaptureFixture[str]) -> None:
    inv, metrics = Inventory(base="BTC", quote="USDT"), Metrics()
    for fill in FILLS:
        assert inv.apply(fill)
        metrics.on_fill("BTC/USDT", fill.side, fill.price, float(fill.amount), fill.fee)
    mid, limit = 100.5, 1.0
    snap = inv.snapshot(mid)
    metrics.on_inventory("BTC/USDT", inv.q, limit, snap["realized_pnl"], snap["unrealized_pnl"], snap["fees"])
    doc = status_document(
        {"BTC/USDT": symbol_status(snap, limit=limit, mid=mid, bid=100.4, ask=None, fills=inv.fills, feed_age=0.3)},
        kill_reason=None,
        venue="sim",
    )
    server = await start_ops_server(metrics, lambda: readiness({"BTC/USDT": 0.3}, 5.0), lambda: doc)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url + "/metrics") as response:
                text = await response.text()
            async with session.get(server.url + "/status") as response:
                served = await response.json()
        code = await asyncio.to_thread(main, ["status", "--url", server.url])
    finally:
        await server.stop()

    got = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }
    btc = (("symbol", "BTC/USDT"),)
    assert got[("mmbot_inventory", btc)] == pytest.approx(inv.q) == pytest.approx(0.25)
    assert got[("mmbot_pnl_total", btc)] == pytest.approx(inv.total_pnl(mid))
    assert got[("mmbot_fees", btc)] == pytest.approx(inv.fees)
    assert got[("mmbot_volume_base_total", (("side", "buy"), ("symbol", "BTC/USDT")))] == pytest.approx(0.75)
    assert got[("mmbot_rebates_received_total", btc)] == pytest.approx(0.01)

    assert served == json.loads(json.dumps(doc))
    assert served["symbols"]["BTC/USDT"]["total_pnl"] == pytest.approx(inv.total_pnl(mid))

    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0] == f"mmbot at {server.url}: ready, feed fresh (oldest book 0.3s)"
    columns = next(line for line in out if line.startswith("symbol")).split()
    row = next(line for line in out if line.startswith("BTC/USDT")).split()
    assert float(row[columns.index("q")]) == pytest.approx(inv.q)
    assert float(row[columns.index("pnl")]) == pytest.approx(inv.total_pnl(mid), abs=5e-5)
    assert row[columns.index("ask")] == "-"
    assert int(row[columns.index("fills")]) == 3
