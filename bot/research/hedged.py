"""The hedged variant of a spot run (research): the same spot flow with and without a hedge in a perpetual.

Input: a :class:`SpotPath`, samples ``(t_k, S_k)`` of the spot mid with the spot fills ``(t, side, price, size,
fee)`` of a run (``mmbot compare``'s flow or a backtest's replay): at each sample the fills up to ``t_k`` are in,
``q_k`` is the spot position and the spot P&L is ``cash_k + q_k x S_k - fees_k``.

The perpetual is synthesized beside it (:func:`perp_series`, seeded): ``P_k = S_k x (1 + b_k / 1e4)`` with the
basis ``b`` (bps) an Ornstein-Uhlenbeck process sampled exactly at the sample times::

    b_k = mu + (b_{k-1} - mu) e^(-theta dt) + vol x sqrt((1 - e^(-2 theta dt)) / (2 theta)) x N(0, 1)

plus random shocks (``shock_rate`` per hour, ``+-shock_bps``) and, when asked, one chosen shock of
``basis_shock_bps`` at ``shock_at`` (added after the noise is drawn: the run with it sees the same noise).
Touch: ``P x (1 -+ half_spread_bps / 1e4)``, outward to the tick. Funding at every ``funding_interval`` from the
first sample: rate ``F = clamp(p + clamp(r - p, +-0.0005), +-cap)`` (``p`` = the basis as a rate, ``r`` the interest
rate), paid ``-position x P x F`` (longs pay when F > 0) into :class:`~bot.core.hedgebook.HedgeBook`.

The hedge (zero latency): at each sample, after its spot fills, :func:`bot.core.hedge.decide` over the spot q and
the book's position (nothing in flight: each order fills at once, at the touch, paying ``taker_fee``); with
``|b| > basis_band_bps`` the view is reduce-only, as live.

Per variant (unhedged / hedged): ``pnl_std`` = std of the P&L's change over consecutive ``pnl_horizon`` seconds
(the P&L at the last sample at or before each step of that grid; the risk over a horizon, where the basis has
had time to revert; the spread earned is a trend, not risk), ``max_abs_net`` = max |spot q x ratio + hedge
position| at a sample after its spot fills and before its hedge (what the bot held), ``max_abs_q``, the final
P&L and, hedged, the split hedge + basis + funding - fees of the leg. The cost of a chosen basis shock: the
hedged P&L without it minus with it, at the sample where it hits (about ``-position x S x shock_bps / 1e4``) and
at the end.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

import numpy as np

from bot.core.display import money_text, plain_text
from bot.core.hedge import HedgeParams, HedgeRules, HedgeView, decide
from bot.core.hedgebook import HedgeBook
from bot.core.inventory import Fill, to_decimal
from bot.core.quote import Side
from bot.core.ticks import on_grid, steps_down, steps_up
from bot.research.events import BookEvent, Event
from bot.research.l2book import L2Book

SpotFill = tuple[float, Side, float, float, float]  # (t, side, price, size, fee in quote)


@dataclass(frozen=True)
class SpotPath:
    """Spot mid samples and the run's fills (:func:`spot_path` builds it)."""

    times: np.ndarray
    mids: np.ndarray
    q: np.ndarray  # spot position after the fills up to each sample
    pnl: np.ndarray  # spot mark-to-market P&L net of fees at each sample
    fill_size: float  # the largest spot fill


def spot_path(times: Sequence[float] | np.ndarray, mids: Sequence[float] | np.ndarray,
              fills: Sequence[SpotFill]) -> SpotPath:
    """Apply ``fills`` (in time order) to the samples: a fill at ``t`` is in every sample at or after ``t``."""
    ts, ms = np.asarray(times, dtype=float), np.asarray(mids, dtype=float)
    q_out, pnl_out = np.zeros(ts.size), np.zeros(ts.size)
    q = Decimal(0)
    cash = 0.0
    i = 0
    for k, (t, mid) in enumerate(zip(ts, ms, strict=True)):
        while i < len(fills) and fills[i][0] <= t:
            _, side, price, size, fee = fills[i]
            sign = 1 if side == "buy" else -1
            q += sign * to_decimal(size)
            cash -= sign * size * price + fee
            i += 1
        q_out[k], pnl_out[k] = float(q), cash + float(q) * mid
    return SpotPath(ts, ms, q_out, pnl_out, max((f[3] for f in fills), default=0.0))


def recorded_mids(events: Iterable[Event], symbol: str) -> tuple[np.ndarray, np.ndarray]:
    """(times, mids) of ``symbol``'s valid books (bid < ask) in a recording."""
    book, ts, mids = L2Book(), [], []
    for event in events:
        if isinstance(event, BookEvent) and event.symbol == symbol:
            book.apply(event)
            bid, ask = book.best_bid, book.best_ask
            if bid is not None and ask is not None and bid < ask:
                ts.append(event.ts)
                mids.append(0.5 * (bid + ask))
    return np.asarray(ts, dtype=float), np.asarray(mids, dtype=float)


def sampled(times: np.ndarray, mids: np.ndarray, fills: Sequence[SpotFill], step: float = 1.0) -> SpotPath:
    """A recorded run as a :class:`SpotPath`: samples every ``step`` s and at each fill's time, each with the latest
    recorded mid (samples before the first valid book are left out)."""
    if not times.size:
        return spot_path([], [], [])
    grid = np.arange(float(times[0]), float(times[-1]) + step, step)
    at = np.unique(np.concatenate([grid, [f[0] for f in fills if f[0] >= times[0]]]))
    k = np.searchsorted(times, at, side="right") - 1
    return spot_path(at, mids[k], fills)


@dataclass(frozen=True)
class PerpParams:
    """The synthetic perpetual and the hedge leg's research settings (sizes in base units, times in s)."""

    ratio: float = 1.0
    band: float = 2.0
    max_position: float = 1e9
    min_size: float = 0.0
    cooldown: float = 0.0
    slippage_bps: float = 10.0
    lot: float = 0.001
    tick: float = 0.01
    half_spread_bps: float = 1.0
    taker_fee: float = 0.0005
    basis_bps: float = 0.0
    basis_reversion: float = 0.05
    basis_volatility: float = 0.5
    shock_rate: float = 0.0  # random shocks per hour
    shock_bps: float = 30.0
    funding_interval: float = 28800.0
    interest_rate: float = 0.0001
    funding_cap: float = 0.0075
    basis_band_bps: float = 50.0
    basis_shock_bps: float = 0.0  # the chosen shock (0: none)
    shock_at: float | None = None  # seconds after the first sample (None: the middle of the run)
    pnl_horizon: float = 60.0  # seconds: pnl_std is the std of the P&L's change over this horizon

    def hedge(self) -> tuple[HedgeParams, HedgeRules]:
        d = Decimal
        params = HedgeParams(self.ratio, d(repr(self.band)), d(repr(self.min_size)), d(repr(self.max_position)),
                             self.cooldown, "ioc", self.slippage_bps, 1.0, "one_way")
        return params, HedgeRules(d(repr(self.lot)), d(repr(self.lot)), 0.0, self.tick)


def perp_basis(times: np.ndarray, p: PerpParams, seed: int | None) -> np.ndarray:
    """The basis in bps at each sample without the chosen shock (module docstring)."""
    rng = np.random.default_rng(seed)
    n = times.size
    noise, u, signs = rng.standard_normal(n), rng.random(n), rng.choice([-1.0, 1.0], n)
    dts = np.diff(times, prepend=times[:1] if n else times)
    out = np.empty(n)
    b = p.basis_bps
    theta = p.basis_reversion
    for k in range(n):
        dt = float(dts[k])
        decay = math.exp(-theta * dt)
        scale = math.sqrt((1 - decay * decay) / (2 * theta)) if theta > 0 else math.sqrt(dt)
        b = p.basis_bps + (b - p.basis_bps) * decay + p.basis_volatility * scale * noise[k]
        if u[k] < p.shock_rate / 3600.0 * dt:
            b += signs[k] * p.shock_bps
        out[k] = b
    return out


def shock_time(times: np.ndarray, p: PerpParams) -> float:
    """When the chosen shock hits: the first sample at or after ``shock_at`` seconds from the first sample (else
    the middle of the run); after the last sample when it is beyond the run."""
    if not times.size:
        return 0.0
    at = float(times[0]) + (p.shock_at if p.shock_at is not None else 0.5 * float(times[-1] - times[0]))
    k = int(np.searchsorted(times, at, side="left"))
    return float(times[k]) if k < times.size else at


def with_shock(times: np.ndarray, basis: np.ndarray, p: PerpParams) -> np.ndarray:
    """``basis`` plus the chosen shock, mean-reverting from ``shock_time`` as the OU process does."""
    if not p.basis_shock_bps or not times.size:
        return basis
    since = times - shock_time(times, p)
    return basis + np.where(since >= 0, p.basis_shock_bps * np.exp(-p.basis_reversion * np.maximum(since, 0)), 0.0)


@dataclass
class VariantResult:
    name: str
    pnl_std: float
    max_abs_net: float
    max_abs_q: float
    final_pnl: float
    spot_pnl: float
    hedge_pnl: float = 0.0
    basis_pnl: float = 0.0
    funding: float = 0.0
    hedge_fees: float = 0.0
    hedge_total: float = 0.0
    hedge_orders: int = 0
    final_hedge_position: float = 0.0
    pnl_path: list[float] = field(default_factory=list, repr=False)
    position_path: list[float] = field(default_factory=list, repr=False)  # hedge position after each sample


@dataclass
class ShockCost:
    bps: float
    at: float  # seconds after the first sample
    position: float  # hedge position when it hit
    spot_mid: float
    expected: float  # -position x S x bps / 1e4
    cost_at_hit: float
    cost_final: float


def _funding_rate(basis_bps: float, p: PerpParams) -> float:
    premium = basis_bps / 1e4
    rate = premium + min(max(p.interest_rate - premium, -0.0005), 0.0005)
    return min(max(rate, -p.funding_cap), p.funding_cap)


def run_hedged(path: SpotPath, p: PerpParams, basis: np.ndarray) -> VariantResult:
    """The hedge over ``path`` with the perp at ``basis`` (bps per sample): zero latency, IOC at the touch."""
    params, rules = p.hedge()
    book = HedgeBook()
    pnl = np.zeros(path.times.size)
    positions: list[float] = []
    last_at: float | None = None
    orders = 0
    max_net = 0.0
    t0 = float(path.times[0]) if path.times.size else 0.0
    next_funding, funding_n = t0 + p.funding_interval, 0
    for k in range(path.times.size):
        t, s, b = float(path.times[k]), float(path.mids[k]), float(basis[k])
        mid = s * (1 + b / 1e4)
        while t >= next_funding:
            funding_n += 1
            book.apply_funding(f"f{funding_n}", -float(book.position) * mid * _funding_rate(b, p), next_funding)
            next_funding += p.funding_interval
        spot_q = Decimal(repr(float(path.q[k])))
        max_net = max(max_net, abs(float(spot_q) * p.ratio + float(book.position)))
        half = mid * p.half_spread_bps / 1e4
        bid = on_grid(steps_down(mid - half, p.tick), p.tick)
        ask = on_grid(steps_up(mid + half, p.tick), p.tick)
        view = HedgeView(spot_q, book.position, Decimal(0), bid, ask, t, last_at,
                         reduce_only=abs(b) > p.basis_band_bps)
        order = decide(params, rules, view).order
        if order is not None:
            price = ask if order.side == "buy" else bid
            orders += 1
            book.apply(Fill(f"h{orders}", order.side, price, order.amount, t,
                            fee=float(order.amount) * price * p.taker_fee), s)
            last_at = t
        pnl[k] = float(path.pnl[k]) + book.pnl(mid, s).total
        positions.append(float(book.position))
    s_end = float(path.mids[-1]) if path.mids.size else 0.0
    b_end = float(basis[-1]) if basis.size else 0.0
    split = book.pnl(s_end * (1 + b_end / 1e4), s_end)
    final = float(pnl[-1]) if pnl.size else 0.0
    spot_final = float(path.pnl[-1]) if path.pnl.size else 0.0
    return VariantResult("hedged", _std_change(path.times, pnl, p.pnl_horizon), max_net, _max_abs(path.q), final,
                         spot_final, split.hedge, split.basis, split.funding,
                         split.fees, split.total, orders, float(book.position), [float(x) for x in pnl], positions)


def _std_change(times: np.ndarray, x: np.ndarray, horizon: float) -> float:
    """Std of ``x``'s change over consecutive ``horizon`` seconds (0 with fewer than two changes)."""
    if not times.size:
        return 0.0
    grid = np.arange(float(times[0]), float(times[-1]) + 1e-9, horizon)
    steps = np.diff(x[np.searchsorted(times, grid, side="right") - 1])
    return float(np.std(steps)) if steps.size > 1 else 0.0


def _max_abs(x: np.ndarray) -> float:
    return float(np.max(np.abs(x))) if x.size else 0.0


def unhedged(path: SpotPath, p: PerpParams) -> VariantResult:
    """The spot run alone: its net exposure is its own q x ratio."""
    final = float(path.pnl[-1]) if path.pnl.size else 0.0
    risk = _std_change(path.times, path.pnl, p.pnl_horizon)
    return VariantResult("unhedged", risk, _max_abs(path.q) * p.ratio, _max_abs(path.q), final, final,
                         pnl_path=[float(x) for x in path.pnl])


@dataclass
class HedgedComparison:
    unhedged: VariantResult
    hedged: VariantResult
    shock: ShockCost | None


def compare_hedged(path: SpotPath, p: PerpParams, seed: int | None = 1) -> HedgedComparison:
    """Unhedged vs hedged on the same path and perp noise; with ``basis_shock_bps`` also the shocked run."""
    basis = perp_basis(path.times, p, seed)
    hedged = run_hedged(path, replace(p, basis_shock_bps=0.0), basis)
    shock = None
    if p.basis_shock_bps and path.times.size:
        shocked = run_hedged(path, p, with_shock(path.times, basis, p))
        at = shock_time(path.times, p)
        k = int(np.searchsorted(path.times, at, side="left"))
        if k < path.times.size:  # the same run until sample k; the shock moves the mark before its hedge trades
            position = hedged.position_path[k - 1] if k else 0.0
            s = float(path.mids[k])
            shock = ShockCost(p.basis_shock_bps, at - float(path.times[0]), position, s,
                              -position * s * p.basis_shock_bps / 1e4, hedged.pnl_path[k] - shocked.pnl_path[k],
                              hedged.final_pnl - shocked.final_pnl)
    return HedgedComparison(unhedged(path, p), hedged, shock)


def format_hedged(c: HedgedComparison, p: PerpParams, label: str) -> str:
    """The side-by-side table (money to 4 decimals, positions plain)."""
    u, h = c.unhedged, c.hedged
    lines = [
        f"hedged variant of {label}: perp = spot x (1 + basis), basis OU mean {p.basis_bps:g} bps, reversion "
        f"{p.basis_reversion:g}/s, vol {p.basis_volatility:g} bps/sqrt(s); band {p.band:g}, ratio {p.ratio:g}, "
        f"taker fee {p.taker_fee * 1e4:g} bp, half-spread {p.half_spread_bps:g} bp",
        f"P&L risk: std of its change over {p.pnl_horizon:g} s",
        f"{'variant':<9} {'std(dP&L)':>10} {'max|net|':>9} {'max|q|':>8} {'P&L':>11} {'spot':>11} {'hedge':>11} "
        f"{'basis':>9} {'funding':>9} {'fees':>9} {'orders':>6}",
    ]
    for r in (u, h):
        lines.append(
            f"{r.name:<9} {money_text(r.pnl_std):>10} {plain_text(r.max_abs_net):>9} {plain_text(r.max_abs_q):>8} "
            f"{money_text(r.final_pnl):>11} {money_text(r.spot_pnl):>11} {money_text(r.hedge_pnl):>11} "
            f"{money_text(r.basis_pnl):>9} {money_text(r.funding):>9} {money_text(r.hedge_fees):>9} "
            f"{r.hedge_orders:>6d}")
    if c.shock is not None:
        s = c.shock
        lines.append(
            f"basis shock {s.bps:+g} bps at {s.at:.1f} s on a hedge position of {plain_text(s.position)}: costs "
            f"{money_text(s.cost_at_hit)} when it hits (position x spot x shock = {money_text(s.expected)}), "
            f"{money_text(s.cost_final)} by the end")
    return "\n".join(lines)


def as_dict(c: HedgedComparison) -> dict[str, object]:
    """For ``--json``: both variants (without paths) and the shock."""
    out: dict[str, object] = {}
    for r in (c.unhedged, c.hedged):
        row = {k: v for k, v in r.__dict__.items() if k not in ("name", "pnl_path", "position_path")}
        out[r.name] = row
    out["basis_shock"] = None if c.shock is None else dict(c.shock.__dict__)
    return out
