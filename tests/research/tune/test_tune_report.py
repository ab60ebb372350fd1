"""The tuner's text and file outputs: the table files, the terminal table, the config block, the walk-forward
report and the HTML page."""

from __future__ import annotations

import csv
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import load_settings
from bot.core.display import Steps, plain
from bot.research.tune import report
from bot.research.tune.objective import Objective, choose, score
from bot.research.tune.trial import METRICS, run_trial

STEPS = Steps(0.01, 0.0001)


def _row(i: int, skew: float, pnl: float, q_std: float = 0.001, split: str = "all", fills: int = 10,
         max_abs_q: float = 0.004, limit: float = 0.01, **extra: Any) -> dict[str, Any]:
    """A row in the contract's column order (values as a backtest leaves them: exact floats)."""
    row: dict[str, Any] = {"id": f"{split[0]}{i:011x}", "p.strategy.skew": skew, "p.risk.max_position": limit,
                           "split": split}
    row.update({
        "total_pnl": pnl, "spread_captured": pnl + 0.5, "inventory_pnl": -0.5, "fees": 0.0, "skew_cost": 0.1 * skew,
        "q_std": q_std, "max_abs_q": max_abs_q, "final_q": -0.0003, "fills": fills, "orders_placed": 3 * fills,
        "orders_per_fill": 3.0 if fills else None, "markout_1s_bps": -0.4, "markout_10s_bps": None,
        "volume_quote": 1234.5, "events": 1000, "duration": 60.0, "limit": limit, "objective": None,
        "feasible": True, "violations": [], "seconds": 0.25,
    })
    row.update(extra)
    return row


# ---------------------------------------------------------------- the table files

def test_the_table_files_keep_the_column_order_and_round_trip(tmp_path: Path) -> None:
    rows = [
        _row(1, 0.1 + 0.2, 0.1 + 0.2 + 1e-9, q_std=0.1 + 0.2, split="in"),
        _row(2, 2.0, -1.23456789, fills=0, split="out", feasible=False,
             violations=["fills 0 < 1", "max |q| 0.02 > 1 x limit 0.01"]),
    ]
    rows[1]["p.strategy.model"] = "glft"  # a column only a later row has goes after the first row's p.*
    csv_path, json_path = report.write_table(rows, tmp_path)
    assert (csv_path.name, json_path.name) == ("trials.csv", "trials.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trials.csv", "trials.json"]  # no temporary file left

    expected_cols = ["id", "p.strategy.skew", "p.risk.max_position", "p.strategy.model", "split", *METRICS]
    with csv_path.open(newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == expected_cols
        read = list(reader)
    assert read[0]["p.strategy.skew"] == "0.3"  # no float noise
    assert read[0]["total_pnl"] == "0.3"  # money to 4 decimals
    assert read[0]["q_std"] == "0.3"
    assert read[0]["p.strategy.model"] == "" and read[1]["p.strategy.model"] == "glft"
    assert read[1]["total_pnl"] == "-1.2346"
    assert read[1]["orders_per_fill"] == "" and read[1]["feasible"] == "false" and read[0]["feasible"] == "true"
    assert read[1]["violations"] == "fills 0 < 1; max |q| 0.02 > 1 x limit 0.01"
    assert float(read[0]["markout_1s_bps"]) == -0.4 and read[0]["markout_10s_bps"] == ""

    loaded = json.loads(json_path.read_text())
    assert [list(r) for r in loaded] == [[c for c in expected_cols if c in row] for row in rows]
    assert loaded[0]["p.strategy.skew"] == 0.3 and loaded[0]["total_pnl"] == 0.3
    assert loaded[1]["violations"] == rows[1]["violations"] and loaded[1]["orders_per_fill"] is None
    assert loaded[1]["fills"] == 0 and isinstance(loaded[1]["fills"], int)
    for got, row in zip(loaded, rows, strict=True):  # every value as the CSV says it
        assert got["id"] == row["id"] and got["split"] == row["split"]
        assert got["duration"] == plain(row["duration"])


def test_a_sweep_interrupted_before_any_trial_leaves_valid_empty_tables(tmp_path: Path) -> None:
    csv_path, json_path = report.write_table([], tmp_path)
    assert csv_path.read_text() == ",".join(["id", "split", *METRICS]) + "\n"
    assert json.loads(json_path.read_text()) == []
    headers = " ".join(header for header, _, _ in report.SHOWN)
    assert report.format_table([], STEPS).split() == ["id", *headers.split(), "constraints"]


def test_a_non_finite_number_is_written_as_null_not_as_invalid_json(tmp_path: Path) -> None:
    _, json_path = report.write_table([_row(1, 1.0, 2.0, objective=float("-inf"))], tmp_path)
    assert json.loads(json_path.read_text())[0]["objective"] is None


# ---------------------------------------------------------------- the terminal table

def _id(line: str) -> str:
    found = re.search(r"\b[0-9a-f]{12}\b", line)
    assert found is not None, line
    return found.group(0)


def test_the_terminal_table_ranks_feasible_first_marks_the_chosen_row_and_rounds_by_the_display_rules() -> None:
    rows = [
        _row(1, 1.0, 5.0, objective=5.0),
        _row(2, 2.0, 9.0, objective=9.0, feasible=False, violations=["fills 0 < 1"]),
        _row(3, 3.0, 7.123456789, q_std=0.00123456, objective=7.123456789, max_abs_q=0.00456789),
        _row(4, 4.0, 1.0, objective=1.0),
    ]
    text = report.format_table(rows, STEPS, top=3)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["id", "skew", "max_position"]
    assert [_id(line) for line in lines[1:4]] == [rows[2]["id"], rows[0]["id"], rows[3]["id"]]
    assert lines[1].startswith("*") and not any(line.startswith("*") for line in lines[2:])
    assert "7.1235" in lines[1] and "0.0012" in lines[1] and "0.00456789" in lines[1]  # q at the lot, dust kept
    assert lines[-1] == "(1 more rows in the table files)"  # the infeasible row is ranked last, cut at top=3
    chosen_given = report.format_table(rows, STEPS, top=4, chosen_id=rows[3]["id"]).splitlines()
    assert _id(next(line for line in chosen_given if line.startswith("*"))) == rows[3]["id"]
    assert "fills 0 < 1" in chosen_given[-1]


@given(st.lists(st.tuples(st.booleans(), st.one_of(st.none(), st.floats(-1e6, 1e6))), max_size=30))
def test_ranked_puts_feasible_rows_first_then_the_highest_objective(pairs: list[tuple[bool, float | None]]) -> None:
    rows = [_row(i, 1.0, 0.0, feasible=f, objective=o) for i, (f, o) in enumerate(pairs)]
    out = report.ranked(rows)
    assert sorted(r["id"] for r in out) == sorted(r["id"] for r in rows)
    keys = [(not r["feasible"], r["objective"] is None, -(r["objective"] or 0.0)) for r in out]
    assert keys == sorted(keys)


# ---------------------------------------------------------------- the config block

def test_the_recommended_block_loads_with_load_settings_and_its_values_round_trip(tmp_path: Path) -> None:
    overrides = {"strategy.skew": 0.1 + 0.2, "strategy.model": "glft", "strategy.gamma": 0.00001,
                 "risk.max_position": 0.01, "execution.requote_ticks": 2.0, "execution.post_only": False,
                 "execution.order_size": 0.0005, "risk.max_notional": None}
    block = report.recommended_block("ETH/USDT", overrides, STEPS)
    assert "skew = 0.3\n" in block and "gamma = 0.00001\n" in block and "requote_ticks = 2\n" in block
    assert "# max_notional: unset" in block
    assert block.index("[symbols.\"ETH/USDT\".strategy]") < block.index(".risk]") < block.index(".execution]")
    config = tmp_path / "pasted.toml"
    config.write_text('[venue]\nsymbols = ["BTC/USDT", "ETH/USDT"]\n\n' + block)
    cfg = load_settings(config).for_symbol("ETH/USDT")
    assert (cfg.strategy.skew, cfg.strategy.model, cfg.strategy.gamma) == (0.3, "glft", 0.00001)
    assert (cfg.risk.max_position, cfg.risk.max_notional) == (0.01, None)
    assert (cfg.execution.requote_ticks, cfg.execution.post_only, cfg.execution.order_size) == (2, False, 0.0005)
    assert load_settings(config).for_symbol("BTC/USDT").strategy.skew == 5.0  # the block touches only its symbol


@given(st.floats(min_value=1e-8, max_value=1e9, allow_nan=False))
def test_a_float_setting_reads_back_as_itself_without_float_noise(x: float) -> None:
    literal = report.toml_value("strategy", "skew", x)
    assert literal is not None and "e" not in literal.lower()
    parsed = tomllib.loads(f"v = {literal}")["v"]
    assert isinstance(parsed, float) and parsed == plain(x)


# ---------------------------------------------------------------- walk-forward

RISK = Objective("pnl")


def _split_rows(in_pnls: list[float], out_pnls: list[float]) -> tuple[list[dict], list[dict]]:
    ins = score([_row(i, float(i), p, split="in") for i, p in enumerate(in_pnls)], RISK)
    outs = score([_row(i, float(i), p, split="out") for i, p in enumerate(out_pnls)], RISK)
    return ins, outs


def test_walk_forward_warns_when_the_in_sample_best_is_poor_out_of_sample() -> None:
    # in sample, trial 0 is best; out of sample it is the worst of ten
    ins, outs = _split_rows([10, 1, 2, 3, 4, 5, 6, 7, 8, 9], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    lines = report.walk_forward_lines(ins, outs, RISK, STEPS)
    assert lines[-1].startswith("WARNING: the in-sample best is not near")
    assert "rank 10 of 10" in lines[-1] and "top 10%" in lines[-1]
    assert any(line.startswith(f"in-sample best {ins[0]['id']} (skew=0, max_position=0.01)") for line in lines)
    assert any(line.startswith(f"out-of-sample best {outs[9]['id']}") for line in lines)


def test_walk_forward_does_not_warn_when_the_in_sample_best_is_near() -> None:
    # out of sample it ranks 2nd of 10 (not top 10%) but scores within 10% of the range of the best
    ins, outs = _split_rows([10, 1, 2, 3, 4, 5, 6, 7, 8, 9], [9.5, 0, 1, 2, 3, 4, 5, 6, 7, 10])
    lines = report.walk_forward_lines(ins, outs, RISK, STEPS)
    assert not any(line.startswith("WARNING") for line in lines)
    assert lines[-1].startswith("ok: the in-sample best holds out of sample")
    assert "rank 2 of 10 feasible" in lines[2]


def test_walk_forward_warns_when_the_in_sample_best_breaks_a_constraint_out_of_sample() -> None:
    ins, outs = _split_rows([10, 1], [10, 1])
    outs[0].update(feasible=False, violations=["fills 0 < 1"])
    lines = report.walk_forward_lines(ins, outs, RISK, STEPS)
    assert lines[-1].startswith("WARNING: the in-sample best breaks the constraints out of sample (fills 0 < 1)")


def test_walk_forward_with_nothing_feasible_in_sample_says_so() -> None:
    ins, outs = _split_rows([10], [10])
    ins[0].update(feasible=False)
    assert report.walk_forward_lines(ins, outs, RISK, STEPS)[-1].startswith("WARNING: no in-sample trial")


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=50))
def test_the_best_is_always_near_itself_and_the_worst_only_when_it_is_close(scores: list[float]) -> None:
    assert report.is_near(max(scores), scores)
    best, worst = max(scores), min(scores)
    if best - worst > 0 and sum(1 for s in scores if s > worst) >= 0.1 * len(scores):
        assert not report.is_near(worst, scores)


# ---------------------------------------------------------------- the HTML page

def test_the_page_is_self_contained_escaped_and_holds_the_table_the_block_and_the_walk_forward(
        tmp_path: Path) -> None:
    png = tmp_path / "p.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
    rows = score([_row(1, 1.0, 2.0), _row(2, 2.0, 3.0, **{"p.strategy.model": "<script>x</script>"})], RISK)
    block = report.recommended_block("BTC/USDT", {"strategy.skew": 2.0}, STEPS)
    lines = ["ok: <fine>", "WARNING: overfitted & more"]
    page = report.write_html(tmp_path, rows, choose(rows), {"frontier": png}, block, lines, STEPS).read_text()
    assert not re.search(r"(?:src|href)\s*=\s*[\"'](?!data:)", page)  # every reference is a data URI
    assert "http://" not in page and "https://" not in page and "url(" not in page and "@import" not in page
    assert 'src="data:image/png;base64,iVBORw0KGgo' in page
    assert "[symbols.&quot;BTC/USDT&quot;.strategy]\nskew = 2.0" in page
    assert "ok: &lt;fine&gt;" in page and '<p class="warn">WARNING: overfitted &amp; more</p>' in page
    assert "<script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert '<tr class="chosen"><td>*</td><td>' + rows[1]["id"] in page


def test_a_page_without_pictures_says_what_installs_them(tmp_path: Path) -> None:
    page = report.write_html(tmp_path, [], None, {}, "", []).read_text()
    assert "No pictures (they need matplotlib: pip install 'mmbot[plot]')" in page


# ---------------------------------------------------------------- on real rows

def test_the_outputs_of_real_trials_on_the_sim_recording(sim_path: Path, base: Any, tmp_path: Path) -> None:
    from bot.research.tune.data import file_sha256, load

    events = load(str(sim_path), file_sha256(str(sim_path)))
    rows = score([run_trial([events], base, {"strategy.skew": s}, trial_id=f"{k:012x}")
                  for k, s in enumerate((0.0, 10.0))], Objective("risk", risk_lambda=1000.0))
    csv_path, _ = report.write_table(rows, tmp_path)
    assert csv_path.read_text().count("\n") == 3
    text = report.format_table(rows, STEPS)
    assert len(text.splitlines()) == 3 and sum(line.startswith("*") for line in text.splitlines()) == 1
    chosen = next(r for r in rows if r["id"] == choose(rows))
    block = report.recommended_block("BTC/USDT", {"strategy.skew": chosen["p.strategy.skew"]}, STEPS)
    assert block.startswith("# mmbot tune: the chosen settings for BTC/USDT (tick 0.01, lot 0.0001);")
    unknown = report.recommended_block("BTC/USDT", {"strategy.skew": 1.0}, Steps(0.01, 0.0))
    assert unknown.startswith("# mmbot tune: the chosen settings for BTC/USDT (tick 0.01, lot not known);")
    config = tmp_path / "c.toml"
    config.write_text(block)
    assert load_settings(config).for_symbol("BTC/USDT").strategy.skew == chosen["p.strategy.skew"]


@pytest.mark.parametrize("value, literal", [(2, "2"), (2.5, "2.5"), (3.0, "3.0"), (True, "true"), ("as", '"as"')])
def test_toml_literals(value: Any, literal: str) -> None:
    assert report.toml_value("strategy", "skew" if not isinstance(value, str) else "model", value) == literal
