"""Objectives, constraints, the Pareto frontier and the choice (pure; hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.research.tune.objective import Objective, choose, dominates, frontier, score, skew_picks


def _row(i: int, pnl: float, q_std: float, max_abs_q: float = 0.0, fills: int = 10, split: str = "all") -> dict:
    return {"id": f"r{i}", "split": split, "total_pnl": pnl,
            "q_std": q_std, "max_abs_q": max_abs_q, "fills": fills, "limit": 1.0, "objective": None,
            "feasible": True, "violations": []}


finite = st.floats(-100, 100, allow_nan=False)
points = st.lists(st.tuples(finite, st.floats(0, 10, allow_nan=False)), min_size=1, max_size=30)


@given(points)
def test_the_frontier_is_exactly_the_non_dominated_rows(pts):
    rows = [_row(i, p, s) for i, (p, s) in enumerate(pts)]
    expected = [i for i, r in enumerate(rows) if not any(dominates(o, r) for o in rows)]
    assert frontier(rows) == expected


@given(points, st.floats(0, 10, allow_nan=False))
def test_pareto_chooses_the_frontier_point_with_the_best_risk_objective(pts, lam):
    rows = [_row(i, p, s) for i, (p, s) in enumerate(pts)]
    scored = score(rows, Objective("pareto", lam))
    risk = score(rows, Objective("risk", lam))
    on = set(frontier(rows))
    assert all((r["objective"] is None) == (i not in on) for i, r in enumerate(scored))
    chosen = choose(scored)
    best = max(r["objective"] for i, r in enumerate(risk) if i in on)
    assert next(r for r in risk if r["id"] == chosen)["objective"] == best
    # no row scores better on the risk objective than the chosen one: it is never dominated
    assert max(r["objective"] for r in risk) == best


@given(st.lists(st.tuples(finite, st.floats(0, 2, allow_nan=False), st.integers(0, 20)), min_size=1, max_size=20),
       st.floats(0.1, 2), st.integers(0, 20))
def test_constraints_and_choice(items, frac, min_fills):
    rows = [_row(i, p, 0.0, q, n) for i, (p, q, n) in enumerate(items)]
    scored = score(rows, Objective("pnl", max_q_frac=frac, min_fills=min_fills))
    for r in scored:
        ok = r["max_abs_q"] <= frac * (1 + 1e-9) and r["fills"] >= min_fills
        assert r["feasible"] == ok and (not r["violations"]) == ok
    chosen = choose(scored)
    feasible = [r for r in scored if r["feasible"]]
    if not feasible:
        assert chosen is None
    else:
        best = next(r for r in scored if r["id"] == chosen)
        assert best["feasible"] and best["total_pnl"] == max(r["total_pnl"] for r in feasible)


def test_risk_objective_and_the_splits_are_scored_apart():
    rows = [_row(0, 1.0, 0.5, split="in"), _row(1, 0.9, 0.1, split="in"), _row(2, 5.0, 5.0, split="out")]
    scored = score(rows, Objective("risk", 1.0))
    assert [r["objective"] for r in scored] == [0.75, pytest.approx(0.89), -20.0]
    assert choose(r for r in scored if r["split"] == "in") == "r1"
    pareto = score(rows, Objective("pareto", 1.0))
    assert pareto[2]["objective"] == -20.0  # alone on its split's frontier


@pytest.mark.parametrize(("kwargs", "said"), [
    ({"kind": "risk"}, "needs the risk weight"), ({"kind": "pareto"}, "needs the risk weight"),
    ({"kind": "best"}, "must be one of"), ({"risk_lambda": -1.0}, ">= 0"), ({"max_q_frac": 0.0}, "> 0"),
])
def test_bad_objectives(kwargs, said):
    with pytest.raises(ValueError, match=said):
        Objective(**kwargs)


def test_skew_picks_share_the_other_parameters():
    rows = [_row(i, float(i), 0.0) | {"p.strategy.skew": s, "p.strategy.half_spread": h} for i, (s, h) in
            enumerate((s, h) for h in (0.01, 0.02) for s in (0.0, 1.0, 2.0))]
    scored = score(rows, Objective("pnl"))
    assert skew_picks(scored, "r4") == {"too weak": "r3", "too strong": "r5"}
    assert skew_picks(scored, "r5") == {"too weak": "r3"}
    flat = [_row(i, float(i), 0.0) | {"p.strategy.half_spread": h} for i, h in enumerate((0.01, 0.02))]
    assert skew_picks(score(flat, Objective("pnl")), "r1") == {}
