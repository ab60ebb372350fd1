"""The tuner's pictures: the frontier (pure part property-tested) and the inventory paths."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.research.tune import plots


def _dominated(p: tuple[float, float], by: tuple[float, float]) -> bool:
    return by[0] <= p[0] and by[1] <= p[1] and by != p


@given(st.lists(st.tuples(st.floats(-100, 100), st.floats(0, 10)), min_size=1, max_size=40))
def test_the_front_is_exactly_the_points_nothing_dominates(points: list[tuple[float, float]]) -> None:
    front = plots.pareto_front(points)
    expected = {i for i, p in enumerate(points) if not any(_dominated(p, q) for q in points)}
    assert set(front) == expected and len(front) == len(set(front))
    assert [points[i] for i in front] == sorted(points[i] for i in front)  # drawn left to right


def _row(i: int, skew_cost: float, pnl: float, q_std: float, feasible: bool = True, split: str = "all") -> dict:
    return {"id": f"{i:012x}", "p.strategy.skew": float(i), "split": split, "skew_cost": skew_cost,
            "total_pnl": pnl, "q_std": q_std, "max_abs_q": 3 * q_std, "feasible": feasible,
            "violations": [] if feasible else ["fills 0 < 1"]}


# more skew: less risk, more spread given up; P&L peaks in the middle; two infeasible trials
ROWS = [_row(0, 0.00, 1.0, 0.0090), _row(1, 0.10, 1.6, 0.0060), _row(2, 0.25, 2.0, 0.0040),
        _row(3, 0.45, 1.8, 0.0030), _row(4, 0.70, 1.2, 0.0024), _row(5, 0.30, 1.1, 0.0070),
        _row(6, 0.20, 2.4, 0.0100, feasible=False), _row(7, 0.90, 0.2, 0.0010, feasible=False),
        _row(8, 0.10, 9.0, 0.0001, split="in")]  # another split: not drawn
CHOSEN = ROWS[2]["id"]


def _png_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


def test_the_chosen_point_is_on_both_frontiers_of_the_data_drawn() -> None:
    drawn = [r for r in ROWS if r["split"] == "all" and r["feasible"]]
    k = next(i for i, r in enumerate(drawn) if r["id"] == CHOSEN)
    assert k in plots.pareto_front([(r["skew_cost"], r["q_std"]) for r in drawn])
    assert k in plots.pareto_front([(-r["total_pnl"], r["q_std"]) for r in drawn])
    assert 5 not in plots.pareto_front([(r["skew_cost"], r["q_std"]) for r in drawn])  # dominated by trial 1


UNSWEPT = [{k: v for k, v in r.items() if k != "p.strategy.skew"} for r in ROWS]  # no skew axis: plain dots


@pytest.mark.parametrize("risk, rows", [("q_std", ROWS), ("max_abs_q", ROWS), ("q_std", UNSWEPT)])
def test_the_frontier_picture_is_written(tmp_path: Path, risk: Any, rows: list[dict]) -> None:
    path = plots.frontier_png(rows, CHOSEN, tmp_path / "frontier.png", risk=risk, quote="USDT", base="BTC")
    assert path.stat().st_size > 20_000  # two panels of dots, lines and text, not an empty canvas
    assert _png_size(path) == (1320, 550)


def test_an_unknown_risk_measure_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="q_std, max_abs_q"):
        plots.frontier_png(ROWS, CHOSEN, tmp_path / "f.png", risk="fills")  # type: ignore[arg-type]


def test_the_paths_picture_has_one_panel_per_path(tmp_path: Path) -> None:
    steps = ([0.0, 1.0, 2.5, 30.0, 60.0], [0.0, 0.002, -0.001, 0.004, 0.004])
    paths = {"best (skew 2)": steps, "too weak (skew 0)": ([0.0, 5.0, 60.0], [0.0, 0.005, -0.005]),
             "too strong (skew 20)": ([0.0, 60.0], [0.0, 0.0])}
    path = plots.paths_png(paths, 0.005, tmp_path / "paths.png", base="BTC")
    assert path.stat().st_size > 15_000
    width, height = _png_size(path)
    assert (width, height) == (1320, int(110 * (1.2 + 2.1 * 3)))
    one = plots.paths_png({"best": steps}, 0.005, tmp_path / "one.png")
    assert _png_size(one)[1] < height


def test_without_matplotlib_the_pictures_fail_with_one_line_naming_the_extra(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(plots.PlotsUnavailableError) as caught:
        plots.frontier_png(ROWS, CHOSEN, tmp_path / "f.png")
    assert caught.value.lines == ["the tuner's pictures need matplotlib: pip install 'mmbot[plot]' (the other "
                                  "outputs are written)"]
    with pytest.raises(ImportError):  # what a caller degrading on a missing optional import catches
        plots.paths_png({}, 1.0, tmp_path / "p.png")
    assert list(tmp_path.iterdir()) == []


def test_a_sweep_with_no_feasible_trial_or_none_at_all_still_gets_a_picture(tmp_path: Path) -> None:
    infeasible = [_row(0, 0.1, 1.0, 0.01, feasible=False)]
    for k, rows in enumerate((infeasible, [])):
        path = plots.frontier_png(rows, None, tmp_path / f"f{k}.png")
        assert _png_size(path) == (1320, 550)


def test_the_paths_picture_needs_a_path(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no inventory path"):
        plots.paths_png({}, 0.005, tmp_path / "p.png")
