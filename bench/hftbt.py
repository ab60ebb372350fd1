"""hftbacktest on the same events as mmbot's replay: a reference speed for ``make bench ARGS=research``.

:func:`event_array` converts a recording's events (one symbol) into hftbacktest's event array
(``hftbacktest.types.event_dtype``): a book snapshot becomes a depth clear of both sides then one depth event
per level, a diff one depth event per level (size 0 removes the level), a trade one trade event whose side
flag is the taker's (``BUY_EVENT`` for a taker buy); ``exch_ts`` = ``local_ts`` = the recording's time in
integer nanoseconds (feed latency 0), every row flagged ``EXCH_EVENT | LOCAL_EVENT``.

:func:`run` replays the array through ``HashMapMarketDepthBacktest`` (linear asset, ``constant_latency(0, 0)``,
its risk-averse queue model, no partial fills, no fees) with a minimal linear market maker jitted by numba
(:func:`_linear_mm`): at every feed event, centre = mid - skew * q, bid at ``floor((centre - h) / tick)``
and ask at ``ceil((centre + h) / tick)`` ticks, clamped post-only inside the touch; an order size on each
side while ``|q|`` stays within the limit; a working order is replaced when its price is ``requote_ticks``
ticks or more away. It is not mmbot's strategy (no wake rule, no pauses): the same market-making work on the
same events, to time the engine. The numba compile is timed apart (a first run on a short prefix).

``events_per_s`` counts mmbot's recording events (as mmbot's replay figures do), ``rows_per_s`` the array's
rows; ``events_per_cpu_s`` divides by the CPU time of the calling thread (the engine runs in it). Without
hftbacktest installed (``pip install mmbot[bench]``), :func:`run` returns ``available`` False.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from bot.research.events import BookEvent, Event, TradeEvent

NS = 1_000_000_000


def available() -> bool:
    try:
        import hftbacktest  # noqa: F401
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def event_array(events: Iterable[Event], symbol: str, chunk: int = 1 << 16) -> tuple[Any, int]:
    """(hftbacktest event array, recording events converted) for ``symbol``'s events (see the module doc).
    Rows are gathered ``chunk`` at a time into the growing array (memory: the array plus one chunk)."""
    from hftbacktest.types import (
        BUY_EVENT,
        DEPTH_CLEAR_EVENT,
        DEPTH_EVENT,
        EXCH_EVENT,
        LOCAL_EVENT,
        SELL_EVENT,
        TRADE_EVENT,
        event_dtype,
    )

    both = EXCH_EVENT | LOCAL_EVENT
    bid_ev, ask_ev = both | DEPTH_EVENT | BUY_EVENT, both | DEPTH_EVENT | SELL_EVENT
    out = np.zeros(chunk, dtype=event_dtype)
    used = 0
    rows: list[tuple[int, int, float, float]] = []

    def flush() -> None:
        nonlocal out, used
        if used + len(rows) > len(out):
            grown = np.zeros(max(2 * len(out), used + len(rows)), dtype=event_dtype)
            grown[:used] = out[:used]
            out = grown
        block = np.array(rows, dtype=[("ev", "u8"), ("ts", "i8"), ("px", "f8"), ("qty", "f8")])
        part = out[used:used + len(rows)]
        part["ev"], part["exch_ts"], part["local_ts"] = block["ev"], block["ts"], block["ts"]
        part["px"], part["qty"] = block["px"], block["qty"]
        used += len(rows)
        rows.clear()

    count = 0
    for event in events:
        if event.symbol != symbol:
            continue
        count += 1
        ts = round(event.ts * NS)
        if isinstance(event, TradeEvent):
            rows.append((both | TRADE_EVENT | (BUY_EVENT if event.side == "buy" else SELL_EVENT), ts, event.price,
                         event.amount))
        else:
            assert isinstance(event, BookEvent)
            if event.snapshot:
                rows.append((both | DEPTH_CLEAR_EVENT, ts, 0.0, 0.0))
            rows.extend((bid_ev, ts, price, size) for price, size in event.bids)
            rows.extend((ask_ev, ts, price, size) for price, size in event.asks)
        if len(rows) >= chunk:
            flush()
    flush()
    return out[:used].copy(), count


def _strategy() -> Any:
    """The jitted market maker (built on first use: importing numba is slow)."""
    from hftbacktest import BUY, GTX, LIMIT
    from numba import njit

    @njit  # type: ignore[misc]
    def _linear_mm(hbt: Any, half: float, skew: float, limit: float, size: float, tick: float,
                   requote_ticks: float) -> tuple[int, int]:
        oid = 0
        feeds = 0
        while True:
            r = hbt.wait_next_feed(True, 3_600 * 1_000_000_000)
            if r == 1:
                break
            if r != 2 and r != 3 and r != 0:
                break
            feeds += 1
            hbt.clear_inactive_orders(0)
            depth = hbt.depth(0)
            bb, ba = depth.best_bid, depth.best_ask
            if not (bb < ba):
                continue
            q = hbt.position(0)
            centre = 0.5 * (bb + ba) - skew * q
            bid = math.floor((centre - half) / tick + 1e-9) * tick
            ask = math.ceil((centre + half) / tick - 1e-9) * tick
            bid = min(bid, ba - tick)
            ask = max(ask, bb + tick)
            buy_ok = q + size <= limit + 1e-12
            sell_ok = q - size >= -limit - 1e-12
            has_bid = False
            has_ask = False
            values = hbt.orders(0).values()
            while values.has_next():
                order = values.get()
                if order.side == BUY:
                    if order.cancellable and (not buy_ok or abs(order.price - bid) >= requote_ticks * tick - 1e-9):
                        hbt.cancel(0, order.order_id, False)
                    has_bid = True
                else:
                    if order.cancellable and (not sell_ok or abs(order.price - ask) >= requote_ticks * tick - 1e-9):
                        hbt.cancel(0, order.order_id, False)
                    has_ask = True
            if buy_ok and not has_bid and bid > 0:
                oid += 1
                hbt.submit_buy_order(0, oid, bid, size, GTX, LIMIT, False)
            if sell_ok and not has_ask:
                oid += 1
                hbt.submit_sell_order(0, oid, ask, size, GTX, LIMIT, False)
        return feeds, oid

    return _linear_mm


def _backtest(data: Any, tick: float, lot: float) -> Any:
    from hftbacktest import BacktestAsset, HashMapMarketDepthBacktest

    asset = (
        BacktestAsset()
        .data(data)
        .linear_asset(1.0)
        .constant_latency(0, 0)
        .risk_adverse_queue_model()
        .no_partial_fill_exchange()
        .trading_value_fee_model(0.0, 0.0)
        .tick_size(tick)
        .lot_size(lot)
    )
    return HashMapMarketDepthBacktest([asset])


def run(events: list[Event], symbol: str, *, half_spread: float, skew: float, max_position: float,
        order_size: float, tick: float, lot: float, requote_ticks: int = 2) -> dict[str, Any]:
    """Time the market maker on ``events`` (see the module doc): events/s, rows/s, fills, compile seconds."""
    if not available():
        return {"available": False, "reason": "hftbacktest not installed (pip install mmbot[bench])"}
    t0 = time.perf_counter()
    data, count = event_array(events, symbol)
    convert = time.perf_counter() - t0
    strategy = _strategy()
    warm = data[: min(len(data), 2000)].copy()
    t0 = time.perf_counter()
    hbt = _backtest(warm, tick, lot)
    strategy(hbt, half_spread, skew, max_position, order_size, tick, float(requote_ticks))
    hbt.close()
    compile_s = time.perf_counter() - t0
    hbt = _backtest(data, tick, lot)
    t0, c0 = time.perf_counter(), time.thread_time()
    feeds, orders = strategy(hbt, half_spread, skew, max_position, order_size, tick, float(requote_ticks))
    seconds, cpu = time.perf_counter() - t0, time.thread_time() - c0
    state = hbt.state_values(0)
    fills, position = int(state.num_trades), float(state.position)
    hbt.close()
    return {
        "available": True,
        "events": count,
        "rows": len(data),
        "seconds": seconds,
        "events_per_s": count / seconds,
        "events_per_cpu_s": count / cpu,
        "rows_per_s": len(data) / seconds,
        "compile_seconds": compile_s,
        "convert_seconds": convert,
        "feeds": feeds,
        "orders": orders,
        "fills": fills,
        "final_q": position,
    }
