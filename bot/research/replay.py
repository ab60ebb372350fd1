"""Extract calibration samples from recorded events (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from bot.research.events import BookEvent, Event, TradeEvent
from bot.research.l2book import L2Book


@dataclass(frozen=True)
class CalibrationSamples:
    """What the estimators need: mid samples, taker depths by side, and the observed span."""

    times: np.ndarray
    mids: np.ndarray
    half_spreads: np.ndarray  # (best ask - best bid) / 2 at each mid sample
    buy_depths: np.ndarray  # takers that lifted the ask: price - mid
    sell_depths: np.ndarray  # takers that hit the bid: mid - price
    unsided_depths: np.ndarray  # side unknown: |price - mid|
    duration: float
    trades_skipped: int  # trades before the first valid mid

    @property
    def all_depths(self) -> np.ndarray:
        return np.concatenate([self.buy_depths, self.sell_depths, self.unsided_depths])


def symbols_in(events: Iterable[Event]) -> list[str]:
    """Symbols in order of first appearance."""
    seen: dict[str, None] = {}
    for event in events:
        seen.setdefault(event.symbol, None)
    return list(seen)


def calibration_samples(events: Iterable[Event], symbol: str) -> CalibrationSamples:
    """Mid after every book event, and each taker arrival's depth from the prevailing mid.

    Trade prints with the same timestamp and taker side are one taker order sweeping several
    levels: they count as a single arrival at the deepest price reached (the intensity is a rate
    of arrivals, not of prints or volume). The span runs from the first valid mid to the last
    event of the symbol.
    """
    book = L2Book()
    times: list[float] = []
    mids: list[float] = []
    halves: list[float] = []
    depths: dict[str | None, list[float]] = {"buy": [], "sell": [], None: []}
    mid: float | None = None
    first_ts: float | None = None
    last_ts: float | None = None
    skipped = 0
    last_key: tuple[float, str | None] | None = None
    for event in events:
        if event.symbol != symbol:
            continue
        last_ts = event.ts
        if isinstance(event, BookEvent):
            book.apply(event)
            new_mid = book.mid()
            if new_mid is not None:
                mid = new_mid
                if first_ts is None:
                    first_ts = event.ts
                times.append(event.ts)
                mids.append(mid)
                halves.append(0.5 * (book.best_ask - book.best_bid))  # type: ignore[operator]
            continue
        assert isinstance(event, TradeEvent)
        if mid is None:
            skipped += 1
            continue
        if event.side == "buy":
            depth = event.price - mid
        elif event.side == "sell":
            depth = mid - event.price
        else:
            depth = abs(event.price - mid)
        key = (event.ts, event.side)
        bucket = depths[event.side]
        if key == last_key and event.side is not None and bucket:
            bucket[-1] = max(bucket[-1], depth)
        else:
            bucket.append(depth)
        last_key = key
    duration = 0.0 if first_ts is None or last_ts is None else last_ts - first_ts
    return CalibrationSamples(
        times=np.asarray(times, dtype=float),
        mids=np.asarray(mids, dtype=float),
        half_spreads=np.asarray(halves, dtype=float),
        buy_depths=np.asarray(depths["buy"], dtype=float),
        sell_depths=np.asarray(depths["sell"], dtype=float),
        unsided_depths=np.asarray(depths[None], dtype=float),
        duration=duration,
        trades_skipped=skipped,
    )
