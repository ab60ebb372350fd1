"""``mmbot backtest``, ``compare`` and ``quote`` output as a professional reads it: a price with cents
survives (30000.72, not 30000.7), sizes at the lot (0.00123), money to 4 decimals, no float noise
(29999.960010000003 reads 29999.96); the results themselves stay exact."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from bot.cli import main
from bot.commands.backtest import format_parity, format_result, shown
from bot.commands.compare import shown as compare_shown
from bot.core.display import Steps
from bot.research.backtest import BacktestResult

SETUP = {"data": "rec.jsonl", "model": "glft", "latency_ms": 0.0, "tick": 0.01, "lot": 0.00001,
         "max_position": 0.05}
NOISY = BacktestResult(
    symbol="BTC/USDT", events=1000, duration=60.0, fills=1, buys=1, sells=0,
    volume_base=123 * 0.00001,  # 0.0012300000000000002
    volume_quote=3000072 * 0.01 * 0.00123, final_q=123 * 0.00001, max_abs_q=123 * 0.00001,
    q_std=0.1 + 0.2, realized_pnl=0.0, unrealized_pnl=29999.960010000003, fees=3.9960000000872244e-05,
    total_pnl=29999.960010000003 - 3.9960000000872244e-05, spread_captured=0.1 + 0.2, skew_cost=-0.0,
    final_mid=3000072 * 0.01, orders_placed=2, orders_canceled=1, orders_rejected=0, orders_clipped=0,
    signed_fill_sum=123 * 0.00001,
)


def test_the_json_shows_the_cents_the_lot_and_money() -> None:
    out = shown(NOISY, Steps(0.01, 0.00001))
    text = json.dumps(out)
    assert '"final_mid": 30000.72' in text and '"volume_base": 0.00123' in text and '"final_q": 0.00123' in text
    assert out["unrealized_pnl"] == 29999.96 and out["fees"] == 0.0 and out["total_pnl"] == 29999.96
    assert out["q_std"] == 0.3 and out["skew_cost"] == 0.0 and out["fills"] == 1
    assert NOISY.unrealized_pnl == 29999.960010000003  # the result is not touched


def test_a_field_the_printer_does_not_know_reads_without_noise() -> None:
    out = shown(replace(NOISY, markouts={"1s": {"markout": 0.1 + 0.2, "count": 3}}), Steps(0.01, 0.00001))
    assert out["markouts"] == {"1s": {"markout": 0.3, "count": 3}}


def test_the_text_shows_the_cents_the_lot_and_money() -> None:
    text = format_result(NOISY, SETUP, "BTC", "USDT")
    assert "volume 0.00123 BTC" in text
    assert "P&L          29999.9600 USDT = realized 0.0000 + unrealized 29999.9600 - fees 0.0000" in text
    assert "(marked at 30000.72)" in text
    assert "final q 0.00123, max |q| 0.00123 (limit 0.05), std(q) 0.3 " in text
    assert "spread captured 0.3000 + inventory " in text and "given up to skew (inside the spread) 0.0000" in text
    for noise in ("0.0012300000000000002", "30000.7)", "e-05", "29999.96001", "0.30000000000000004"):
        assert noise not in text
    assert "final q 0.00123" in format_parity(NOISY, [])


# -- mmbot compare ----------------------------------------------------------------------------------
def test_compare_json_shows_money_to_4_decimals_and_no_float_noise(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--json", "--fills", "30", "--maker-fee", "1"]) == 0
    text = capsys.readouterr().out
    data = json.loads(text)
    for s in data["strategies"]:
        for key in ("spread_pnl", "mtm_pnl", "spread_given_up", "fees"):
            assert s[key] == round(s[key], 4)
        assert len(repr(s["inventory_std"]).split(".")[-1]) <= 10
    assert data["params"]["gamma"] == 0.01666666667  # 0.016666666666666666 unrounded
    assert not re.search(r"[1-9]\d{10,}", text)  # no 11 significant digits: no 0.30000000000000004 anywhere


def test_compare_shown_rounds_money_and_plain() -> None:
    assert compare_shown({"mtm_pnl": 1.2000660000000494, "final_q": -4.0, "name": "as", "q": 0.1 + 0.2}) == {
        "mtm_pnl": 1.2001, "final_q": -4.0, "name": "as", "q": 0.3}


# -- mmbot quote ------------------------------------------------------------------------------------
def test_quote_json_shows_prices_at_the_tick_and_model_values_two_digits_finer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["quote", "--model", "linear", "--mid", "29999.960010000003", "--q", "0.003", "--skew", "0.7",
                 "--half-spread", "0.05", "--size", "0.00123", "--lot", "0.00001", "--maker-fee", "0.3"]) == 0
    text = capsys.readouterr().out
    out = json.loads(text)
    assert (out["bid"], out["ask"], out["bid_size"], out["ask_size"]) == (29999.05, 30000.86, 0.00123, 0.00123)
    assert out["reservation"] == 29999.9579  # 29999.960010000003 - 0.7 * 0.003, to a hundredth of a tick
    assert out["half_spread"] == out["fee_floor"] == 0.9  # the fee floor, 0.3 bp of the centre: 0.8999987...
    assert "29999.96001" not in text and not re.search(r"\d{11,}", text)
