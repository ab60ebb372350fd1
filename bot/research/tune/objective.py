"""Scores, constraints and the choice of a tuning sweep (pure).

Objectives (higher is better), on a row of :func:`bot.research.tune.trial.run_trial`:

* ``pnl``: ``total_pnl`` (already net of fees);
* ``risk``: ``total_pnl - risk_lambda * q_std**2`` (``risk_lambda`` in quote currency per base unit squared);
* ``pareto``: the non-dominated rows on (``total_pnl`` higher, ``q_std`` lower) among the feasible rows of the
  same split; a frontier row scores its ``risk`` objective, any other row scores None, so the choice is the
  frontier point with the best ``risk`` objective.

Constraints: ``max_abs_q <= limit * max_q_frac`` and ``fills >= min_fills``; a row breaking one is infeasible
and says why in ``violations``. :func:`choose` picks the feasible row with the highest objective (the first one
on a tie; None when no row is feasible). Rows are scored per split ("all", "in", "out") independently.

:func:`skew_picks` chooses the too-weak and too-strong inventory skews for the paths picture: among the rows of
the chosen row's split that share every swept value except the skew axis (``strategy.skew`` when swept, else
``strategy.gamma``), the row with the lowest and the one with the highest skew (feasible or not), when they
differ from the chosen one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["pnl", "risk", "pareto"]
KINDS: tuple[str, ...] = ("pnl", "risk", "pareto")
SKEW_AXES = ("strategy.skew", "strategy.gamma")
_SLACK = 1e-9  # relative: a position at the limit up to float noise is at the limit


@dataclass(frozen=True)
class Objective:
    """What a sweep optimises and the constraints a row must meet."""

    kind: Kind = "pnl"
    risk_lambda: float | None = None
    max_q_frac: float = 1.0
    min_fills: int = 1

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"objective must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.kind != "pnl" and self.risk_lambda is None:
            raise ValueError(f"the {self.kind} objective needs the risk weight lambda (--risk-lambda X: quote "
                             "currency per base unit squared of q_std)")
        if self.risk_lambda is not None and not self.risk_lambda >= 0:
            raise ValueError(f"the risk weight lambda must be >= 0, got {self.risk_lambda}")
        if not self.max_q_frac > 0:
            raise ValueError(f"max_q_frac must be > 0, got {self.max_q_frac}")
        if self.min_fills < 0:
            raise ValueError(f"min_fills must be >= 0, got {self.min_fills}")


def violations(row: Mapping[str, Any], obj: Objective) -> list[str]:
    """The constraints ``row`` breaks, one phrase each (empty: feasible)."""
    out = []
    cap = row["limit"] * obj.max_q_frac
    if row["max_abs_q"] > cap * (1 + _SLACK):
        out.append(f"max |q| {row['max_abs_q']:g} > {obj.max_q_frac:g} x limit {row['limit']:g}")
    if row["fills"] < obj.min_fills:
        out.append(f"fills {row['fills']} < {obj.min_fills}")
    return out


def risk_score(row: Mapping[str, Any], risk_lambda: float) -> float:
    """``total_pnl - risk_lambda * q_std**2``."""
    return float(row["total_pnl"] - risk_lambda * row["q_std"] ** 2)


def dominates(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether ``a`` is at least as good as ``b`` on P&L and inventory std, and better on one."""
    return (a["total_pnl"] >= b["total_pnl"] and a["q_std"] <= b["q_std"]
            and (a["total_pnl"] > b["total_pnl"] or a["q_std"] < b["q_std"]))


def frontier(rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Indexes of the non-dominated rows (P&L up, q_std down), in their order; equal points all stay."""
    order = sorted(range(len(rows)), key=lambda i: (rows[i]["q_std"], -rows[i]["total_pnl"]))
    kept: list[int] = []
    best = -float("inf")  # the highest P&L among rows of lower (or equal) std seen so far
    for i in order:
        pnl = rows[i]["total_pnl"]
        if pnl > best or (kept and rows[kept[-1]]["total_pnl"] == pnl and rows[kept[-1]]["q_std"] == rows[i]["q_std"]):
            kept.append(i)
            best = max(best, pnl)
    return sorted(kept)


def score(rows: Iterable[Mapping[str, Any]], obj: Objective) -> list[dict[str, Any]]:
    """Copies of ``rows`` with ``objective``, ``feasible`` and ``violations`` filled (module docstring)."""
    out = [dict(r) for r in rows]
    for row in out:
        row["violations"] = violations(row, obj)
        row["feasible"] = not row["violations"]
        if obj.kind == "pnl":
            row["objective"] = float(row["total_pnl"])
        elif obj.kind == "risk":
            row["objective"] = risk_score(row, obj.risk_lambda)  # type: ignore[arg-type]
        else:
            row["objective"] = None
    if obj.kind == "pareto":
        for split in dict.fromkeys(r["split"] for r in out):
            feasible = [r for r in out if r["split"] == split and r["feasible"]]
            for i in frontier(feasible):
                feasible[i]["objective"] = risk_score(feasible[i], obj.risk_lambda)  # type: ignore[arg-type]
    return out


def choose(rows: Iterable[Mapping[str, Any]]) -> str | None:
    """The id of the feasible row with the highest objective (the first on a tie); None when there is none."""
    best: Mapping[str, Any] | None = None
    for row in rows:
        if row["feasible"] and row["objective"] is not None and (best is None or row["objective"] > best["objective"]):
            best = row
    return None if best is None else str(best["id"])


def skew_axis(rows: Sequence[Mapping[str, Any]]) -> str | None:
    """The swept skew setting (``strategy.skew``, else ``strategy.gamma``), None when neither is swept."""
    for key in SKEW_AXES:
        if rows and f"p.{key}" in rows[0] and len({r[f"p.{key}"] for r in rows}) > 1:
            return key
    return None


def skew_picks(rows: Sequence[Mapping[str, Any]], chosen_id: str) -> dict[str, str]:
    """``{"too weak": id, "too strong": id}`` for the paths picture (module docstring); missing keys when the
    skew is not swept or the chosen row already has the lowest / highest skew."""
    chosen = next((r for r in rows if r["id"] == chosen_id), None)
    axis = skew_axis(rows)
    if chosen is None or axis is None:
        return {}
    column = f"p.{axis}"
    others = [k for k in chosen if k.startswith("p.") and k != column]
    peers = [r for r in rows if r["split"] == chosen["split"] and all(r[k] == chosen[k] for k in others)]
    low = min(peers, key=lambda r: r[column])
    high = max(peers, key=lambda r: r[column])
    picks = {}
    if low[column] < chosen[column]:
        picks["too weak"] = str(low["id"])
    if high[column] > chosen[column]:
        picks["too strong"] = str(high["id"])
    return picks
