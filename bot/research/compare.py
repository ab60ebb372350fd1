"""Side-by-side comparison of quote models on one identical synthetic order flow.

The flow (seeded, shared by every strategy):

* takers arrive one per second on average (arrival k at time t_k, exponential gaps); each is a
  seller with probability ``sell_share`` (default 60%) or a buyer;
* each taker reaches ``depth ~ Exp(kappa)`` beyond the mid prevailing at its arrival: a seller
  hits a bid at or above ``mid - depth``, a buyer lifts an ask at or below ``mid + depth``, one
  lot per fill; so the arrival rate of takers reaching depth delta on a side is
  ``A_side*exp(-kappa*delta)`` with ``A_side = sell_share`` (bids) or ``1 - sell_share`` (asks);
* the mid is a random walk on the tick grid with ``sigma`` price per sqrt(second).

The run length is fixed by the symmetric strategy: the flow runs until it has ``fills`` fills
(default 200); every other strategy then sees exactly those arrivals and mids.

Strategies, all quoted through :func:`bot.core.pipeline.make_quote` (the same code the bot runs):
symmetric (half-spread h), linear skew (``skew`` per lot), linear skew with a hard limit of
``limit`` lots, Avellaneda–Stoikov and GLFT. A–S and GLFT take the flow's true sigma, kappa and
A (per side, the average of the two sides) in the bot's units (a lot per order, prices in ticks) and a risk
aversion chosen so that A–S's skew per lot, ``gamma*(sigma/tick)^2*horizon`` ticks, equals the linear ``skew``.

Fees: with ``maker_fee`` (a rate, negative = rebate) and ``min_edge`` (a rate) every strategy's half-spread
is floored as the bot floors it (:func:`bot.core.models.fee_floor`, inside make_quote), and each fill pays
``maker_fee`` on its notional: what is charged is what is floored. Both default to 0 (no fee, no floor).

Metrics per strategy: max |q|, final q, inventory standard deviation over arrivals, fills, spread
P&L (sum over fills of the edge versus the mid at the fill), mark-to-market P&L (cash + q*final
mid, net of fees), fees paid and spread given up to skew (sum over fills of how far the quote centre had been moved
toward the filled side: ``mid - centre`` for our ask, ``centre - mid`` for our bid; negative when
fills on the side pushed away earn more than the shading costs).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from bot.core.limits import LimitParams
from bot.core.models import ModelParams
from bot.core.pipeline import make_quote
from bot.core.quote import MarketRules, QuoteInputs
from bot.research.hedged import HedgedComparison, PerpParams, SpotFill, compare_hedged, spot_path


@dataclass(frozen=True)
class FlowParams:
    mid: float = 100.0
    half_spread: float = 0.05
    sell_share: float = 0.6
    skew: float = 0.01
    limit: float = 30.0
    fills: int = 200
    kappa: float = 10.0  # takers reach Exp(kappa) beyond the mid: mean 0.1
    sigma: float = 0.01  # mid volatility, price per sqrt(second)
    tick: float = 0.01
    horizon: float = 60.0  # A–S T - t (rolling), seconds
    max_arrivals: int = 100_000
    maker_fee: float = 0.0  # rate charged on each fill's notional (negative = rebate); floors the half-spread
    min_edge: float = 0.0  # rate of the mid a fill must earn net of the fee (the fee floor's edge)

    def __post_init__(self) -> None:
        checks = {
            "mid": self.mid > 0,
            "half_spread": self.half_spread >= 0,
            "sell_share": 0.0 <= self.sell_share <= 1.0,
            "skew": self.skew > 0,
            "limit": self.limit > 0,
            "fills": self.fills >= 1,
            "kappa": self.kappa > 0,
            "sigma": self.sigma >= 0,
            "tick": self.tick > 0,
            "horizon": self.horizon > 0,
            "max_arrivals": self.max_arrivals >= 1,
            "maker_fee": -1.0 < self.maker_fee < 1.0,
            "min_edge": -1.0 < self.min_edge < 1.0,
        }
        for name, ok in checks.items():
            value = getattr(self, name)
            if not ok or not math.isfinite(value):
                raise ValueError(f"{name}: invalid value {value!r}")

    @property
    def gamma(self) -> float:
        """Risk aversion per (tick x lot) giving A–S the same skew per lot as the linear strategy."""
        return self.skew * self.tick / (self.sigma**2 * self.horizon) if self.sigma > 0 else math.inf


@dataclass(frozen=True)
class Flow:
    times: np.ndarray
    mids: np.ndarray  # the mid each taker sees
    sells: np.ndarray  # True: the taker sells (hits bids)
    depths: np.ndarray

    def __len__(self) -> int:
        return int(self.times.size)

    def head(self, n: int) -> Flow:
        return Flow(self.times[:n], self.mids[:n], self.sells[:n], self.depths[:n])


@dataclass
class StrategyResult:
    name: str
    max_abs_q: float
    final_q: float
    inventory_std: float
    fills: int
    spread_pnl: float
    mtm_pnl: float
    spread_given_up: float
    fees: float
    q_path: list[float] = field(repr=False)
    fill_log: list[SpotFill] = field(default_factory=list, repr=False)  # (t, side, price, size, fee)

    def as_dict(self, with_path: bool = False) -> dict[str, object]:
        out = asdict(self)
        out.pop("fill_log")
        if not with_path:
            out.pop("q_path")
        return out


def make_flow(params: FlowParams, seed: int | None) -> Flow:
    """``max_arrivals`` seeded arrivals; mids move in whole ticks with variance sigma^2 per second."""
    rng = np.random.default_rng(seed)
    n = params.max_arrivals
    gaps = rng.exponential(1.0, n)
    times = np.cumsum(gaps)
    # Per gap: the mid moves by a Gaussian amount with the right variance, rounded to ticks.
    moves = np.rint(rng.normal(0.0, params.sigma * np.sqrt(gaps)) / params.tick) * params.tick
    mids = params.mid + np.concatenate([[0.0], np.cumsum(moves[:-1])])
    sells = rng.random(n) < params.sell_share
    depths = rng.exponential(1.0 / params.kappa, n)
    return Flow(times, np.round(mids, 10), sells, depths)


def strategies(params: FlowParams) -> dict[str, tuple[ModelParams, LimitParams]]:
    """The five contenders, in display order."""
    no_limit = LimitParams(max_position=math.inf, order_size=1.0)
    capped = LimitParams(max_position=params.limit, order_size=1.0)
    a_side = 0.5  # average per-side A: the two sides' rates sum to one arrival per second
    fee_kw = {"maker_fee": params.maker_fee, "min_edge": params.min_edge}
    model_kw = {"sigma": params.sigma, "kappa": params.kappa, "A": a_side, "horizon": params.horizon,
                "tick": params.tick, **fee_kw}
    return {
        "symmetric": (ModelParams(model="symmetric", half_spread=params.half_spread, **fee_kw), no_limit),
        "linear": (ModelParams(model="linear", half_spread=params.half_spread, skew=params.skew, **fee_kw), no_limit),
        "linear+limit": (
            ModelParams(model="linear", half_spread=params.half_spread, skew=params.skew, **fee_kw),
            capped,
        ),
        "as": (ModelParams(model="as", gamma=params.gamma, **model_kw), no_limit),
        "glft": (ModelParams(model="glft", gamma=params.gamma, **model_kw), no_limit),
    }


def run_strategy(
    name: str,
    model: ModelParams,
    limits: LimitParams,
    flow: Flow,
    final_mid: float,
    tick: float,
    stop_after_fills: int | None = None,
) -> tuple[StrategyResult, int]:
    """Quote each arrival with make_quote, fill if the taker reaches, charge ``model.maker_fee`` on the fill's
    notional; returns (result, arrivals used)."""
    rules = MarketRules(tick=tick, lot=0.0)
    fee_rate = model.maker_fee
    q = cash = spread_pnl = given_up = fees = 0.0
    fills = 0
    path: list[float] = []
    log: list[SpotFill] = []
    used = 0
    for t, mid, sell, depth in zip(flow.times, flow.mids, flow.sells, flow.depths, strict=True):
        used += 1
        quote = make_quote(QuoteInputs(mid=float(mid), q=q, t=float(t)), model, limits, rules)
        if sell and quote.bid is not None and quote.bid >= mid - depth:
            size = quote.bid_size
            q += size
            cash -= size * quote.bid
            fees += size * quote.bid * fee_rate
            log.append((float(t), "buy", quote.bid, size, size * quote.bid * fee_rate))
            spread_pnl += size * (mid - quote.bid)
            given_up += size * (quote.reservation - mid)
            fills += 1
        elif not sell and quote.ask is not None and quote.ask <= mid + depth:
            size = quote.ask_size
            q -= size
            cash += size * quote.ask
            fees += size * quote.ask * fee_rate
            log.append((float(t), "sell", quote.ask, size, size * quote.ask * fee_rate))
            spread_pnl += size * (quote.ask - mid)
            given_up += size * (mid - quote.reservation)
            fills += 1
        path.append(q)
        if stop_after_fills is not None and fills >= stop_after_fills:
            break
    arr = np.asarray(path) if path else np.zeros(1)
    result = StrategyResult(
        name=name,
        max_abs_q=float(np.max(np.abs(arr))),
        final_q=q,
        inventory_std=float(np.std(arr)),
        fills=fills,
        spread_pnl=spread_pnl,
        mtm_pnl=cash - fees + q * final_mid,
        spread_given_up=given_up,
        fees=fees,
        q_path=[float(x) for x in path],
        fill_log=log,
    )
    return result, used


def compare(params: FlowParams | None = None, seed: int | None = 1) -> tuple[list[StrategyResult], int]:
    """Run every strategy on the same flow; returns the results and the number of arrivals."""
    params = params or FlowParams()
    pool = make_flow(params, seed)
    contenders = strategies(params)
    sym_model, sym_limits = contenders["symmetric"]
    _, used = run_strategy("symmetric", sym_model, sym_limits, pool, float(pool.mids[-1]), params.tick, params.fills)
    flow = pool.head(used)
    final_mid = float(flow.mids[-1])
    results = [
        run_strategy(name, model, limits, flow, final_mid, params.tick)[0]
        for name, (model, limits) in contenders.items()
    ]
    return results, used


def compare_with_hedge(params: FlowParams, perp: PerpParams, seed: int | None = 1, strategy: str = "symmetric"
                       ) -> tuple[list[StrategyResult], int, HedgedComparison]:
    """:func:`compare`, then ``strategy``'s run unhedged vs hedged in a synthetic perpetual on the same flow
    (:mod:`bot.research.hedged`; the perp's noise seeded by ``seed``)."""
    results, used = compare(params, seed)
    flow = make_flow(params, seed).head(used)
    chosen = next(r for r in results if r.name == strategy)
    path = spot_path(flow.times, flow.mids, chosen.fill_log)
    return results, used, compare_hedged(path, perp, seed)


def format_table(results: list[StrategyResult], params: FlowParams, arrivals: int) -> str:
    lines = [
        f"same flow for all: {arrivals} takers, {params.sell_share:.0%} sells, mid {params.mid:.2f}, "
        f"half-spread {params.half_spread:g}, skew {params.skew:g}/lot, limit {params.limit:g} lots, "
        f"A-S/GLFT gamma {params.gamma:.4g}"
        + (f", maker fee {params.maker_fee * 1e4:g} bp, min edge {params.min_edge * 1e4:g} bp (fee floor)"
           if params.maker_fee or params.min_edge else ""),
        f"{'strategy':<13} {'max|q|':>7} {'final q':>8} {'std(q)':>7} {'fills':>6} "
        f"{'spread P&L':>11} {'MTM P&L':>9} {'given up':>9} {'fees':>8}",
    ]
    for r in results:
        lines.append(
            f"{r.name:<13} {r.max_abs_q:>7g} {r.final_q:>8g} {r.inventory_std:>7.2f} {r.fills:>6d} "
            f"{r.spread_pnl:>11.2f} {r.mtm_pnl:>9.2f} {r.spread_given_up:>9.2f} {r.fees:>8.2f}"
        )
    return "\n".join(lines)
