"""The tuner's pictures (matplotlib, Agg backend; the ``plot`` extra): the frontier and the inventory paths.

- :func:`frontier_png`: two panels, inventory risk (``q_std`` or ``max_abs_q``, base units) against the spread
  given up to skew (``skew_cost``) and against the total P&L (quote currency). Every trial is a dot (infeasible
  ones grey); the non-dominated frontier (:func:`pareto_front`: lower risk and lower spread given up; lower risk
  and higher P&L) among the feasible trials is a line; the chosen trial is marked and labelled; when a skew
  setting is swept (:func:`bot.research.tune.objective.skew_axis`) the feasible dots are coloured by it (a colour
  bar names it). Rows of several
  splits: only the chosen row's split is drawn (else "all", else the first row's).
- :func:`paths_png`: q over time (a step path) for each labelled trial (the caller's: the best, a too-weak and a
  too-strong skew), the limit drawn at +-``limit``.

Without matplotlib both raise :class:`PlotsUnavailableError` (one line: ``pip install 'mmbot[plot]'``); the caller
still writes the other outputs. :func:`pareto_front` is pure and needs no matplotlib.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from bot.errors import UserError
from bot.research.tune.objective import skew_axis
from bot.research.tune.report import param_text

Risk = Literal["q_std", "max_abs_q"]
RISK_LABELS = {"q_std": "inventory std", "max_abs_q": "max |q|"}
PATH_COLORS = ("#1d4ed8", "#d97706", "#15803d", "#7c3aed", "#be123c")  # the first label (the best) in blue
GREY = "#c4c8cf"
SPLIT_NAMES = {"all": "all the data", "in": "in sample: the walk-forward's first part", "out": "held out"}


class PlotsUnavailableError(UserError, ImportError):
    """matplotlib is not installed: a UserError (one line, exit 2 when not caught) and an ImportError (so a caller
    that degrades on a missing optional import catches it as such)."""

    def __init__(self) -> None:
        super().__init__("the tuner's pictures need matplotlib: pip install 'mmbot[plot]' (the other outputs are "
                         "written)")


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indexes of the points no other point dominates when both coordinates are minimised (a point dominates
    another when it is <= in both and < in one), sorted by the first coordinate then the second; equal points all
    stay."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1]))
    kept: list[int] = []
    best = float("inf")  # the lowest second coordinate among points of lower first coordinate
    for i in order:
        x, y = points[i]
        if y < best or (kept and points[kept[-1]] == (x, y)):
            kept.append(i)
            best = min(best, y)
    return kept


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise PlotsUnavailableError from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _one_split(rows: Sequence[Mapping[str, Any]], chosen_id: str | None) -> list[Mapping[str, Any]]:
    chosen = next((r for r in rows if r.get("id") == chosen_id), None)
    splits = [r.get("split") for r in rows]
    split = chosen.get("split") if chosen is not None else ("all" if "all" in splits else splits[0] if splits else None)
    return [r for r in rows if r.get("split") == split]


def _label(row: Mapping[str, Any]) -> str:
    params = [f"{k.rsplit('.', 1)[-1]}={param_text(k, v)}" for k, v in row.items() if k.startswith("p.")]
    return "chosen: " + (", ".join(params) if params else str(row.get("id", "")))


def frontier_png(rows: Sequence[Mapping[str, Any]], chosen_id: str | None, path: Path, risk: Risk = "q_std",
                 quote: str = "quote currency", base: str = "base units") -> Path:
    """The frontier picture (module docstring) written to ``path``; ``quote`` and ``base`` name the axes' units."""
    if risk not in RISK_LABELS:
        raise ValueError(f"risk must be one of {', '.join(RISK_LABELS)}, got {risk!r}")
    plt = _pyplot()
    drawn = _one_split(rows, chosen_id)
    feasible = [r for r in drawn if r.get("feasible")]
    infeasible = [r for r in drawn if not r.get("feasible")]
    chosen = next((r for r in drawn if r.get("id") == chosen_id), None)
    axis = skew_axis(feasible)
    fig, axes = plt.subplots(1, 2, figsize=(12, 5), sharey=True, layout="constrained")
    panels = (("skew_cost", f"spread given up to skew ({quote})", 1.0), ("total_pnl", f"total P&L ({quote})", -1.0))
    for ax, (x_key, x_label, sign) in zip(axes, panels, strict=True):
        if infeasible:
            ax.scatter([r[x_key] for r in infeasible], [r[risk] for r in infeasible], s=22, c=GREY,
                       label=f"infeasible ({len(infeasible)})", zorder=2)
        if feasible:
            shade: dict[str, Any] = ({"c": [float(r[f"p.{axis}"]) for r in feasible], "cmap": "viridis"} if axis
                                     else {"c": "#60a5fa"})
            dots = ax.scatter([r[x_key] for r in feasible], [r[risk] for r in feasible], s=28, **shade,
                              edgecolors="#1f2937", linewidths=0.4, label=f"feasible ({len(feasible)})", zorder=3)
            if axis and ax is axes[1]:
                fig.colorbar(dots, ax=axes, pad=0.01, fraction=0.03).set_label(axis)
            front = [feasible[i] for i in pareto_front([(sign * r[x_key], r[risk]) for r in feasible])]
            ax.plot([r[x_key] for r in front], [r[risk] for r in front], "-", color="#1d4ed8", lw=1.6,
                    label="frontier (non-dominated)", zorder=4)
        if chosen is not None:
            ax.scatter([chosen[x_key]], [chosen[risk]], s=190, marker="*", c="#dc2626", edgecolors="black",
                       linewidths=0.6, label="chosen", zorder=5)
            xs = [r[x_key] for r in drawn]
            leftward = chosen[x_key] > (min(xs) + max(xs)) / 2  # keep the label inside the panel
            ax.annotate(_label(chosen), (chosen[x_key], chosen[risk]), xytext=(-10 if leftward else 10, 12),
                        textcoords="offset points", fontsize=9, color="#991b1b", ha="right" if leftward else "left",
                        bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "#fca5a5", "alpha": 0.9})
        ax.set_xlabel(x_label)
        ax.grid(True, alpha=0.3)
        if drawn:
            ax.legend(loc="best", fontsize=8)
        else:
            ax.text(0.5, 0.5, "no trials", ha="center", va="center", transform=ax.transAxes, color="#6b7280")
    axes[0].set_ylabel(f"{RISK_LABELS[risk]} ({base})")
    axes[0].set_title("risk against spread given up (lower left is better)", fontsize=10)
    axes[1].set_title("risk against P&L (lower right is better)", fontsize=10)
    split = drawn[0].get("split") if drawn else None
    fig.suptitle(f"mmbot tune: {len(drawn)} trials ({SPLIT_NAMES.get(split, str(split))})", fontsize=12)
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _time_unit(span: float) -> tuple[float, str]:
    if span > 7200:
        return 3600.0, "h"
    if span > 180:
        return 60.0, "min"
    return 1.0, "s"


def paths_png(paths: Mapping[str, tuple[Sequence[float], Sequence[float]]], limit: float, path: Path,
              base: str = "base units") -> Path:
    """The inventory paths picture (module docstring): ``paths`` maps a label to (times in seconds from the
    start, q after each step), each drawn as a step path in its own panel (in the order given, one time axis),
    the limit at +-``limit``."""
    plt = _pyplot()
    span = max((max(t) for t, _ in paths.values() if len(t)), default=0.0)
    unit, name = _time_unit(span)
    reach = max([abs(limit), *(abs(q) for _, qs in paths.values() for q in qs)])
    if not paths:
        raise ValueError("no inventory path to draw")
    fig, axes = plt.subplots(len(paths), 1, figsize=(12, 1.2 + 2.1 * len(paths)), sharex=True,
                             sharey=True, squeeze=False)
    for k, (ax, (label, (times, qs))) in enumerate(zip(axes[:, 0], paths.items(), strict=False)):
        ax.step([t / unit for t in times], list(qs), where="post", color=PATH_COLORS[k % len(PATH_COLORS)], lw=1.3)
        for level in (limit, -limit):
            ax.axhline(level, color="#b91c1c", ls="--", lw=1.0)
        ax.axhline(0.0, color="#6b7280", lw=0.6)
        ax.set_title(label, fontsize=10, loc="left")
        ax.set_ylabel(f"q ({base})")
        ax.grid(True, alpha=0.3)
    if reach > 0:
        axes[0, 0].set_ylim(-1.15 * reach, 1.15 * reach)
    axes[0, 0].text(1.0, limit, f"limit ±{param_text('', float(limit))} ", color="#b91c1c", fontsize=8,
                    ha="right", va="bottom", transform=axes[0, 0].get_yaxis_transform())
    axes[-1, 0].set_xlabel(f"time ({name})")
    fig.suptitle("inventory paths", fontsize=12)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
