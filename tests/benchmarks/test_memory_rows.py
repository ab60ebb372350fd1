"""The memory rows of the bench table: which capped containers were still filling in the memory window."""

from __future__ import annotations

from bench.run import filling, rows


def test_filling_names_only_the_capped_containers_that_grew() -> None:
    start = {"ccxt.orders": [200, 200], "ccxt.myTrades": [150, 200], "gc.objects": 1000,
             "BTC/USDT": {"inventory.seen": [120, 200], "tracker.done_kept": [200, 200], "tracker.open": 2}}
    end = {"ccxt.orders": [200, 200], "ccxt.myTrades": [200, 200], "gc.objects": 1200,
           "BTC/USDT": {"inventory.seen": [180, 200], "tracker.done_kept": [200, 200], "tracker.open": 1}}
    assert filling(start, end) == "ccxt.myTrades 150->200/200, BTC/USDT/inventory.seen 120->180/200"
    assert filling(end, end) == "none"
    assert filling(None, end) == "n/a"


def test_the_memory_verdict_is_the_slope_after_warm_up_not_the_first_minute() -> None:
    sizes = {"ccxt.orders": [200, 200], "sqlite.heap_kib": [400, 256]}
    res = {"overhead": {"rss_slope_kib_per_min": 40.0, "rss_slope_second_half_kib_per_min": -10.0,
                        "rss_slope_cpu_window_kib_per_min": 1400.0, "rss_kib_start": 150_000.0,
                        "rss_kib_end": 150_100.0, "memory_window_s": 180.0, "memory_warmup_s": 240.0,
                        "bot_container_sizes_window_start": sizes, "bot_container_sizes_window_end": sizes}}
    table = {r[0].strip(): r for r in rows(res)}
    assert table["memory: bot RSS slope after warm-up (KiB/min)"][1:] == ("+40", "flat (<= 100)", "met")
    assert table["RSS slope over the first minute, warm-up (KiB/min)"][1] == "+1400"
    assert table["bounded containers still filling in that window"][1] == "none"
    res["overhead"]["rss_slope_kib_per_min"] = 101.0
    assert {r[0]: r for r in rows(res)}["memory: bot RSS slope after warm-up (KiB/min)"][3] == "MISSED"
